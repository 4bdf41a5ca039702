"""Helpers shared by the benchmarks in bench/: the machine, percentiles, a benchmark
database built on demand, and writing one section of BENCHMARKS.md between markers."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "BENCHMARKS.md"
LOAD_DB = "postgres://postgres@127.0.0.1:5432/refrun_load"
LOAD_MODEL_DIR = Path(os.getenv("REFRUN_BENCH_DIR", "/tmp/refrun_load")) / "models"


def machine() -> str:
    """One line: cores, memory, Python, and the load average when measured."""
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}; load average before the run {load}"
    )


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no samples."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def ensure_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> str:
    """Run manage.py in a child process with `env` added; its output, or exit with it."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    print(f"  manage.py {' '.join(args)}: {time.perf_counter() - started:.0f} s", flush=True)
    return done.stdout


def database_prepare(
    env: dict[str, str], *, runs: int, seed: int = 1, lumisections_for_last: str = "300", train: bool = True
) -> None:
    """Migrate; fill an empty database with `simulate`; train unless an active model
    whose artifact loads exists. `env` holds DATABASE_URL and MODEL_DIR."""
    if env["DATABASE_URL"].startswith("postgres"):
        ensure_postgres_database(env["DATABASE_URL"])
    manage(env, "migrate", "--verbosity", "0")
    probe = (
        "from ingestion.models import Run; from recommender.models import ModelVersion as M;"
        "from recommender.exceptions import ModelArtifactError; from recommender.training import artifact_load;\n"
        "a = M.objects.filter(status='active').first()\n"
        "try: ok = int(bool(a and artifact_load(a)))\n"
        "except ModelArtifactError: ok = 0\n"
        "print(Run.objects.count(), ok)"
    )
    count, has_model = (int(x) for x in manage(env, "shell", "-c", probe).split()[-2:])
    if count == 0:
        manage(
            env,
            "simulate",
            "--seed",
            str(seed),
            "--runs",
            str(runs),
            "--lumisections-for-last",
            lumisections_for_last,
        )
    if train and not has_model:
        manage(env, "train", "--force")
    if env["DATABASE_URL"].startswith("postgres"):
        # Planner statistics after the bulk fill: without them (autovacuum is off on
        # this machine's PostgreSQL) the runs page's prefetch plans hash joins over
        # every run (50 ms instead of 1 ms).
        import psycopg

        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            conn.execute("ANALYZE")


def section_write(marker: str, text: str) -> None:
    """Replace the section between <!-- marker:start --> and <!-- marker:end -->
    in BENCHMARKS.md (appended if absent); every other section is left as it is."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS.write_text(updated)
    print(f"wrote the '{marker}' section of {BENCHMARKS.name}")
