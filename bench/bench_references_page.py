"""References page latency: GET /references/ from a warm process.

    .venv/bin/python bench/bench_references_page.py --database-url URL --work-dir $TMP \
        [--requests 100] [--months 6] [--profile] [--write]

The database is built on demand like the run page's (bench/_pages.py: `simulate
--seed 1 --runs 20000` and a trained model, which the references page does not
need but the run page benchmark on the same database does). The page is rendered by
Django's test Client in this process (middleware, view, the selector's label scan,
the SVG timeline, template), logged in as a shifter; the CSV export is timed too.
Aim: median < 50 ms with 20,000 runs.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import database_prepare, machine, median, percentile
from bench._pages import arguments_add, command_line, environment, results_report, shifter_client, timed_get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments_add(parser)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    env = environment(args, allowed_hosts="testserver,127.0.0.1")
    database_prepare(env, runs=args.runs, lumisections_for_last="300")
    os.environ.update(env)
    machine_line = machine()
    import django

    django.setup()
    from django.core.cache import cache

    from ingestion.models import Run
    from recommender.models import DeclaredReference, ReferencePair

    client = shifter_client("bench-references-page")
    n_runs, n_labels = Run.objects.count(), ReferencePair.objects.filter(is_positive=True).count()
    n_declared = DeclaredReference.objects.filter(until_run__isnull=True).count()
    url = f"/references/?months={args.months}"

    started = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - started
    assert first.status_code == 200, first.status_code
    body = first.content.decode()

    def measure(target: str, profiler: cProfile.Profile | None = None, *, recompute: bool = False) -> list[float]:
        samples = []
        for _ in range(args.requests):
            if recompute:
                cache.clear()  # as after a new label: the overview is computed again
            seconds, status = timed_get(client, target, profiler)
            samples.append(seconds)
            assert status == 200, status
        return samples

    profiler = cProfile.Profile() if args.profile else None
    page = measure(url, profiler)
    export = measure(f"/references/export.csv?months={args.months}")
    recomputed = measure(url, recompute=True)

    def line(name: str, samples: list[float]) -> str:
        return (
            f"{name}: median {median(samples) * 1000:.1f} ms, p95 {percentile(samples, 95) * 1000:.1f} ms, "
            f"n {len(samples)}"
        )

    segments = body.count('class="segment"')
    lines = [
        line(f"**GET /references/?months={args.months}**", page),
        line("GET /references/export.csv", export),
        line(
            "GET /references/ right after a label changed (overview recomputed: streak boundaries by SQL window functions)",
            recomputed,
        ),
        f"First request of the process: {cold * 1000:.0f} ms; page size {len(body) / 1024:.0f} KiB, "
        f"{body.count('<tr>') - 1} table rows, {segments} timeline segments",
    ]
    print(f"{n_runs} runs, {n_labels} positive labels, {n_declared} declared references in use")
    results_report(
        args,
        lines,
        profiler=profiler,
        profile_rows=30,
        section="references-page-benchmark",
        title="## References page",
        description="GET /references/ through Django's test Client in one warm process (middleware, view, "
        "`selectors.references_in_use`, the SVG timeline, template), "
        f"{n_runs:,} runs, {n_labels:,} positive labels, {n_declared} declared references in use "
        "(`simulate --seed 1`). Aim: median < 50 ms.",
        command=command_line(
            args, "bench_references_page.py", f"--requests {args.requests}", f"--months {args.months}"
        ),
        machine_line=machine_line,
    )


if __name__ == "__main__":
    main()
