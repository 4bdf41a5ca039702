"""Run page and runs page latency from a warm process, with stored recommendations.

    .venv/bin/python bench/bench_run_page.py --database-url sqlite:///$TMP/refrun-bench.sqlite3 \
        --work-dir $TMP [--runs 12000] [--pages 200] [--profile] [--write]

The database (any DATABASE_URL; the figures in BENCHMARKS.md are SQLite's, the demo's
database) is built on demand (bench/_pages.py: `simulate`, `train`), and the refresh
task stores the recommendations of the newest runs awaiting a reference
(`services.recommendations_refresh`), as after a sync. Pages are rendered by Django's
test Client in this process (the whole middleware, view and template stack; no HTTP
server), logged in as a shifter, after a few warm-up pages (model, run features and
labels loaded). Timed:
- the run page (GET /runs/<n>/, express) of --pages runs with stored recommendations;
- the runs page (GET /?page=k, k = 1..5 in turn), --pages times;
- for comparison, the run page of --pages older runs without stored recommendations
  (computed in memory on each view; nothing is written).
Each line gives the median, p95 and SQL queries per page; the row counts of every
table are compared before and after (GET pages write nothing).

`--profile` prints where the time of the stored run pages and the runs pages goes
(cProfile, cumulative). `--write` puts the figures in the "Run page" section of
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import database_prepare, machine, median, percentile
from bench._pages import arguments_add, command_line, environment, results_report, shifter_client, timed_get


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments_add(parser)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--omp-threads",
        default="1",
        help="OMP_NUM_THREADS for scikit-learn's predict ('default': leave OpenMP's own choice, one per core)",
    )
    args = parser.parse_args()
    if args.omp_threads != "default":
        os.environ["OMP_NUM_THREADS"] = args.omp_threads
    env = environment(args, allowed_hosts="testserver,127.0.0.1")
    database_prepare(env, runs=args.runs, lumisections_for_last="300")
    os.environ.update(env)
    machine_line = machine()
    import django

    django.setup()
    from django.apps import apps
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingestion.models import Run
    from recommender.models import ModelVersion, Recommendation
    from recommender.services import recommendations_refresh

    active = ModelVersion.objects.filter(status="active").first()
    if active is None:
        raise SystemExit("no active model: the database was built without `train`")
    if not Recommendation.objects.filter(model_version=active).exists():
        print(f"  refresh: {recommendations_refresh(newest_runs=300)} run reconstructions stored", flush=True)
    client = shifter_client("bench-run-page")

    stored = list(
        Recommendation.objects.filter(model_version=active, rank=1, run_reconstruction__reconstruction="express")
        .order_by("-run_reconstruction__run__run_number")
        .values_list("run_reconstruction__run__run_number", flat=True)
    )
    numbers = list(Run.objects.order_by("-run_number").values_list("run_number", flat=True))
    n_runs = len(numbers)
    warm, with_stored = stored[:5], stored[5 : 5 + args.pages]
    not_stored = sorted(set(numbers[1000:]) - set(stored))
    computed = random.Random(3).sample(not_stored, min(args.pages, len(not_stored)))
    runs_pages = [f"/?page={1 + i % 5}" for i in range(args.pages)]

    def row_counts() -> dict[str, int]:
        return {model._meta.label: model.objects.count() for model in apps.get_models()}

    for n in warm:
        assert client.get(f"/runs/{n}/").status_code == 200
    assert client.get("/").status_code == 200

    def measure(paths: list[str], profiler: cProfile.Profile | None = None) -> tuple[list[float], list[int], dict]:
        samples, queries, failures, cpu = [], [], {}, []
        for path in paths:
            with CaptureQueriesContext(connection) as captured:
                started = time.process_time()
                seconds, status = timed_get(client, path, profiler)
                cpu.append(time.process_time() - started)
                samples.append(seconds)
            queries.append(len(captured))
            if status != 200:
                failures[path] = status
        return samples, queries, failures, cpu

    before = row_counts()
    profiler = cProfile.Profile() if args.profile else None
    run_page = measure([f"/runs/{n}/" for n in with_stored], profiler)
    runs_page = measure(runs_pages, profiler)
    run_page_computed = measure([f"/runs/{n}/" for n in computed])
    changed = {name: (n, after) for name, after in row_counts().items() if (n := before[name]) != after}

    def line(name: str, measured) -> str:
        samples, queries, failures, cpu = measured
        # CPU time of this process: on a shared machine it moves far less than wall time
        text = (
            f"{name}: median **{median(samples) * 1000:.1f} ms**, p95 {percentile(samples, 95) * 1000:.1f} ms, "
            f"n {len(samples)}, CPU median {median(cpu) * 1000:.1f} ms, {median(queries):.0f} SQL queries per page"
        )
        if failures:
            text += f"; **{len(failures)} not 200** (e.g. {dict(list(failures.items())[:3])})"
        return text

    lines = [
        line("Run page, stored recommendations (newest runs awaiting a reference)", run_page),
        line("Runs page (pages 1 to 5 in turn, 50 runs each)", runs_page),
        line("Run page, older runs without stored recommendations (computed in memory)", run_page_computed),
        "Rows written by these GETs: " + (f"**{changed}**" if changed else "none (every table's row count unchanged)"),
    ]
    print(f"{n_runs} runs in the database; OMP_NUM_THREADS={os.getenv('OMP_NUM_THREADS', '(unset)')}")
    results_report(
        args,
        lines,
        profiler=profiler,
        profile_rows=45,
        section="run-page-benchmark",
        title="## Run page and runs page",
        description="GET /runs/<n>/ (express) and GET /?page=k through Django's test Client in one warm process "
        f"(middleware, view, selectors, lumisection charts, template), {n_runs:,} runs. Aim: median "
        "< 20 ms each with stored recommendations.",
        command=command_line(args, "bench_run_page.py", f"--runs {args.runs}", f"--pages {args.pages}"),
        machine_line=machine_line,
    )


if __name__ == "__main__":
    main()
