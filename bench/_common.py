"""Helpers shared by the benchmarks in bench/: the machine, percentiles, scratch
directories, a benchmark database built on demand, runs the shifter has not certified
yet, and writing one section of BENCHMARKS.md between markers."""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "BENCHMARKS.md"
LOAD_DB = "postgres://postgres@127.0.0.1:5432/refrun_load"


def scratch_dir(name: str) -> Path:
    """Where a benchmark keeps its databases and models between runs: REFRUN_BENCH_DIR
    if set, else a directory named after the benchmark in the system's temporary directory."""
    return Path(os.getenv("REFRUN_BENCH_DIR") or Path(tempfile.gettempdir()) / f"refrun_{name}")


LOAD_MODEL_DIR = scratch_dir("load") / "models"


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


def timings_line(samples: list[float]) -> str:
    """Median and p95 of durations in seconds, in milliseconds."""
    return f"median {median(samples) * 1000:.1f} ms, p95 {percentile(samples, 95) * 1000:.1f} ms, n {len(samples)}"


def new_runs(*, after: int, n: int) -> list[tuple[int, str]]:
    """(run number, reconstruction) of `n` runs the shifter has not certified yet, later
    than run `after`: copies of the newest run up to it, made if missing. Needs Django set up."""
    from ingestion.models import Run
    from recommender.models import RunReconstruction

    template = Run.objects.filter(run_number__lte=after).order_by("-run_number").first()
    reconstruction = RunReconstruction.objects.filter(run=template).first()
    out = []
    for i in range(1, n + 1):
        run = Run.objects.filter(run_number=after + 100 + i).first()
        if run is None:
            run = Run.objects.get(pk=template.pk)
            run.pk, run.run_number = None, after + 100 + i
            run.save()
        RunReconstruction.objects.get_or_create(
            run=run, reconstruction=reconstruction.reconstruction, defaults={"dataset": reconstruction.dataset}
        )
        out.append((run.run_number, reconstruction.reconstruction))
    return out


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
        "from recommender.exceptions import ModelArtifactError; from recommender.artifacts import artifact_load;\n"
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
