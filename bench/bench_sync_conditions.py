"""Benchmark: `ingestion.services.conditions_sync` over a year of runs, against the
APV-mode and DIALS doubles (demo.fake_conditions) served by fake_oms on a socket.

    .venv/bin/python bench/bench_sync_conditions.py [--runs 4000] [--write]

A year of Run 3 is about 4,000 runs: here 45% cosmics (asked for their APV mode,
one request each), 45% collisions (their PV mean from DIALS, one paged `th1/` query
per 100 run numbers, each run with 50 lumisections of 100-bin histograms) and 10%
commissioning (both); every run's express and prompt DQMIO names from DIALS's run list
(one paged `run/` query per range). The database is a fresh SQLite file in a temporary directory
(DATABASE_URL to use another; never one you keep). The APV service's one request a
second is OFF here (it would make the APV step last one second per run: its bound
in production, stated below); DIALS's rate limit is off too. Everything else is
production code over real HTTP. `--write` puts the figures in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=4000)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="bench-conditions-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refrun.settings")
    os.environ["REFRUN_VAR_DIR"] = scratch
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from demo.fake_conditions import ConditionsData, urls
    from demo.fake_oms import TOKEN_PATH, FakeOmsData, make_server
    from ingestion.models import Run, RunClass
    from ingestion.services import conditions_sync

    call_command("migrate", verbosity=0)
    Run.objects.all().delete()
    first = 380000
    classes = [RunClass.COSMICS] * 9 + [RunClass.COLLISIONS_PP] * 9 + [RunClass.COMMISSIONING] * 2
    runs = [Run(run_number=first + i, run_class=classes[i % len(classes)]) for i in range(args.runs)]
    Run.objects.bulk_create(runs, batch_size=1000)
    conditions = ConditionsData(lumisections={r.run_number: 50 for r in runs})
    for r in runs:
        if r.run_class != RunClass.COLLISIONS_PP:
            conditions.apv_modes[r.run_number] = "PEAK" if r.run_number % 3 else "DECO"
        if r.run_class != RunClass.COSMICS:
            conditions.pv_means[r.run_number] = {"/ZeroBias/Run2024C-PromptReco-v1/DQMIO": 20 + r.run_number % 30}
        express, prompt = (
            ("StreamExpressCosmics", "Cosmics") if r.run_class == RunClass.COSMICS else ("StreamExpress", "ZeroBias")
        )
        conditions.dqmio_datasets[r.run_number] = [
            f"/{express}/Run2024C-Express-v1/DQMIO",
            f"/{prompt}/Run2024C-PromptReco-v1/DQMIO",
        ]
    server = make_server(FakeOmsData(conditions=conditions))
    thread = server.start_in_thread()
    for name, value in urls(server.url).items():
        setattr(settings, name, value)
    settings.DIALS_TOKEN_URL = f"{server.url}{TOKEN_PATH}"
    settings.DIALS_CLIENT_ID, settings.DIALS_CLIENT_SECRET = "bench", "bench"
    settings.APV_MODE_MAX_REQUESTS_PER_S = 0
    settings.DIALS_MAX_REQUESTS_PER_S = 0

    started, cpu = time.perf_counter(), time.process_time()
    job = conditions_sync(run_min=first, run_max=first + args.runs - 1)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    counters = dict(server.counters)
    started = time.perf_counter()
    again = conditions_sync(run_min=first, run_max=first + args.runs - 1)
    wall_again = time.perf_counter() - started
    server.shutdown()
    thread.join(timeout=5)

    apv_asked = sum(1 for r in runs if r.run_class != RunClass.COLLISIONS_PP)
    lines = [
        "## Conditions sync",
        "",
        "`ingestion.services.conditions_sync` over a year of runs against the APV-mode and DIALS doubles "
        "(fake_oms in this process's threads, real HTTP on a socket), SQLite. Rate limits off: in production "
        "the APV service's one request a second bounds the APV step at one run per second (about "
        f"{apv_asked / 60:.0f} minutes for this year's {apv_asked:,} non-collision runs, once: a mode once known "
        "is not asked again).",
        "",
        f"- Date: {time.strftime('%Y-%m-%d')}; machine: {os.cpu_count()} cores shared, Python {platform.python_version()}",
        f"- Command: `.venv/bin/python bench/bench_sync_conditions.py --runs {args.runs} --write`",
        f"- Job #{job.pk} {job.status}: {job.message}",
        f"- Requests: {counters.get('apv', 0):,} APV, {counters.get('dials', 0):,} DIALS pages (PV histograms and run lists), "
        f"{counters.get('token', 0)} token",
        f"- Wall time: {wall:.1f} s ({cpu:.1f} s CPU in this process, the doubles included)",
        f"- **Throughput: {args.runs / wall:,.0f} runs/s** ({args.runs:,} runs in the range)",
        f"- Second sync (modes known, means unchanged): {wall_again:.1f} s, {again.rows_updated} rows changed",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        from bench._common import section_write

        section_write("conditions-benchmark", text)


if __name__ == "__main__":
    main()
