"""References page latency: GET /references/ from a warm process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/bench_references_page.py \
        [--requests 100] [--months 6] [--profile] [--write]

The database is built on demand like the run page's (bench/_common.py: `simulate
--seed 1 --runs 20000` and a trained model, which the references page does not
need but the run page benchmark on the same database does). The page is rendered by
Django's test Client in this process (middleware, view, the selector's label scan,
the SVG timeline, template), logged in as a shifter; the CSV export is timed too.
Aim: median < 50 ms with 20,000 runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import LOAD_DB, LOAD_MODEL_DIR, database_prepare, machine, median, percentile, section_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    env = {
        "DATABASE_URL": os.getenv("DATABASE_URL", LOAD_DB),
        "MODEL_DIR": os.getenv("MODEL_DIR", str(LOAD_MODEL_DIR)),
        "REFRUN_VAR_DIR": os.getenv("REFRUN_VAR_DIR", str(LOAD_MODEL_DIR.parent / "var")),
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",  # the local-memory cache, so the figures do not include Redis
    }
    Path(env["REFRUN_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    database_prepare(env, runs=20000, lumisections_for_last="300")
    os.environ.update(env)
    machine_line = machine()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.test import Client

    from accounts.roles import SHIFTERS
    from ingestion.models import Run
    from recommender.models import CuratedReference, ReferencePair

    user, _ = get_user_model().objects.get_or_create(username="bench-references-page")
    user.groups.add(Group.objects.get(name=SHIFTERS))
    client = Client(raise_request_exception=False)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    client.force_login(user)
    n_runs, n_labels = Run.objects.count(), ReferencePair.objects.filter(is_positive=True).count()
    n_curated = CuratedReference.objects.filter(active_until__isnull=True).count()
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
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            status = client.get(target).status_code
            if profiler:
                profiler.disable()
            samples.append(time.perf_counter() - t0)
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
    print(f"{n_runs} runs, {n_labels} positive labels, {n_curated} curated references in use")
    print("\n".join(lines))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    if args.write:
        section_write(
            "references-page-benchmark",
            "\n".join(
                [
                    "## References page",
                    "",
                    "GET /references/ through Django's test Client in one warm process (middleware, view, "
                    "`selectors.references_in_use`, the SVG timeline, template), "
                    f"{n_runs:,} runs, {n_labels:,} positive labels, {n_curated} curated references in use "
                    "(`simulate --seed 1 --runs 20000`). Aim: median < 50 ms.",
                    "",
                    f"- Date: {time.strftime('%Y-%m-%d')}; machine: {machine_line} (shared)",
                    f"- Command: `DATABASE_URL={env['DATABASE_URL']} .venv/bin/python bench/bench_references_page.py "
                    f"--requests {args.requests} --months {args.months} --write`",
                    *[f"- {x}" for x in lines],
                ]
            ),
        )


if __name__ == "__main__":
    main()
