"""Run page latency: GET /runs/<n>/ for ~200 different runs, from a warm process.

    .venv/bin/python bench/bench_run_page.py [--pages 200] [--profile] [--write]

Same database as bench/load_test.py (DATABASE_URL, default refrun_load on the local
PostgreSQL; built on demand with 20,000 simulated runs and a trained model). The page
is rendered by Django's test Client in this process (the whole middleware, view and
template stack; no HTTP server), logged in as a shifter. The process is warmed on a
few other runs first (model, run features and labels loaded), then each of the
newest --pages runs is rendered once (the shifter's case: a new run; its
recommendations are computed and stored on this first view), then --pages older
runs picked at random (their history is rebuilt before them).

`--profile` prints where the time of the new-run pages goes (cProfile, cumulative).
`--write` puts the figures in the "Run page" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import logging
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import LOAD_DB, LOAD_MODEL_DIR, database_prepare, machine, median, percentile, section_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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

    env = {
        "DATABASE_URL": os.getenv("DATABASE_URL", LOAD_DB),
        "MODEL_DIR": os.getenv("MODEL_DIR", str(LOAD_MODEL_DIR)),
        "REFRUN_VAR_DIR": str(LOAD_MODEL_DIR.parent / "var"),
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "testserver,127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",
    }
    Path(env["REFRUN_VAR_DIR"]).mkdir(parents=True, exist_ok=True)
    database_prepare(env, runs=20000, lumisections_for_last="300")
    os.environ.update(env)
    machine_line = machine()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.roles import SHIFTERS
    from ingestion.models import Run
    from recommender.models import Recommendation, ReferencePair

    user, _ = get_user_model().objects.get_or_create(username="bench-run-page")
    user.groups.add(Group.objects.get(name=SHIFTERS))
    # A page that fails is counted (status), not raised; its traceback is not printed.
    client = Client(raise_request_exception=False)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    client.force_login(user)

    numbers = list(Run.objects.order_by("-run_number").values_list("run_number", flat=True))
    n_runs = len(numbers)
    warm, newest = numbers[:5], numbers[5 : 5 + args.pages]
    older = random.Random(3).sample(numbers[5 + args.pages :], args.pages)
    labelled_max = max(ReferencePair.objects.values_list("run_reconstruction__run__run_number", flat=True))
    rebuilt = sum(1 for n in newest if n <= labelled_max)
    # First views: stored recommendations of these runs are dropped, as for runs never shown.
    Recommendation.objects.filter(run_reconstruction__run__run_number__in=newest + older).delete()

    started = time.perf_counter()
    for n in warm:
        assert client.get(f"/runs/{n}/").status_code == 200
    cold = time.perf_counter() - started

    gc_time = [0.0, 0.0]  # seconds in the cyclic garbage collector, start of the current collection

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    gc.callbacks.append(on_gc)

    def measure(runs: list[int], profiler: cProfile.Profile | None = None) -> tuple[list[float], dict[int, int]]:
        samples, failures = [], {}
        gc_time[0] = 0.0
        for n in runs:
            t0 = time.perf_counter()
            if profiler:
                profiler.enable()
            status = client.get(f"/runs/{n}/").status_code
            if profiler:
                profiler.disable()
            samples.append(time.perf_counter() - t0)
            if status != 200:
                failures[n] = status
        gc_share.append(gc_time[0] / sum(samples))
        return samples, failures

    gc_share: list[float] = []
    profiler = cProfile.Profile() if args.profile else None
    new_samples, new_failures = measure(newest, profiler)
    old_samples, old_failures = measure(older)
    repeat_samples, _ = measure(newest[:50])  # second view: recommendations already stored

    def line(name: str, samples: list[float], failures: dict[int, int]) -> str:
        text = (
            f"{name}: median {median(samples) * 1000:.1f} ms, p95 {percentile(samples, 95) * 1000:.1f} ms, "
            f"n {len(samples)}"
        )
        if failures:
            text += f"; **{len(failures)} not 200** (e.g. {dict(list(failures.items())[:3])})"
        return text

    gc_note = ", ".join(f"{100 * x:.0f}%" for x in gc_share)
    lines = [
        line(
            f"**The {len(newest)} newest runs, first view** ({rebuilt} of them at or before the newest label, "
            "so their label history is rebuilt per request)",
            new_samples,
            new_failures,
        ),
        line("Same runs, second view (recommendations already stored)", repeat_samples, {}),
        line(f"{len(older)} older runs at random (history rebuilt before each)", old_samples, old_failures),
        f"Share of the time in Python's cyclic garbage collector (the three lines above): {gc_note}",
        f"Warm-up (cold process: model, run features, labels loaded; 5 pages): {cold:.2f} s",
    ]
    print(f"{n_runs} runs in the database; OMP_NUM_THREADS={os.getenv('OMP_NUM_THREADS', '(unset)')}")
    print("\n".join(lines))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
        print(out.getvalue())
    if args.write:
        section_write(
            "run-page-benchmark",
            "\n".join(
                [
                    "## Run page",
                    "",
                    "GET /runs/<n>/ (express) through Django's test Client in one warm process (middleware, view, "
                    "recommendations via `services.recommendations_store`, lumisection charts, template), "
                    f"{n_runs:,} runs in PostgreSQL (`refrun_load`, as for the load test). Aim: median < 150 ms.",
                    "",
                    f"- Date: {time.strftime('%Y-%m-%d')}; machine: {machine_line} (shared)",
                    "- Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/refrun_load "
                    f".venv/bin/python bench/bench_run_page.py --pages {args.pages} --omp-threads {args.omp_threads} --write`",
                    *[f"- {x}" for x in lines],
                ]
            ),
        )


if __name__ == "__main__":
    main()
