"""What the page benchmarks share (bench_run_page.py, bench_references_page.py,
load_test.py): where their database and model files are, given on the command line or
in the environment, never a default path on some machine; and a shifter logged in
through Django's test client.

    --database-url URL   (or DATABASE_URL)  e.g. sqlite:///$TMP/refrun-bench.sqlite3
    --work-dir DIR       (or REFRUN_BENCH_DIR) model files (DIR/models) and var files (DIR/var)

A database that is empty is built on demand (bench/_common.database_prepare:
`simulate` with the given seed and run count, then `train`).
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import time
from pathlib import Path

from bench._common import section_write


def arguments_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", default=os.getenv("DATABASE_URL", ""), help="default: $DATABASE_URL")
    parser.add_argument(
        "--work-dir",
        default=os.getenv("REFRUN_BENCH_DIR", ""),
        help="model and var files of the benchmark database (default: $REFRUN_BENCH_DIR)",
    )
    parser.add_argument("--runs", type=int, default=20000, help="runs to simulate when the database is empty")


def environment(args: argparse.Namespace, *, allowed_hosts: str) -> dict[str, str]:
    """The settings of the benchmarked process (and of the manage.py children building
    the database); exits when the database or the work directory is not given."""
    if not args.database_url or not args.work_dir:
        raise SystemExit("give --database-url (or DATABASE_URL) and --work-dir (or REFRUN_BENCH_DIR)")
    work = Path(args.work_dir).resolve()
    (work / "models").mkdir(parents=True, exist_ok=True)
    (work / "var").mkdir(parents=True, exist_ok=True)
    return {
        "DATABASE_URL": args.database_url,
        "MODEL_DIR": str(work / "models"),
        "REFRUN_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
        "DEBUG": "false",
        "ALLOWED_HOSTS": allowed_hosts,
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": "",  # the local-memory cache, so the figures do not include Redis
    }


def command_line(args: argparse.Namespace, script: str, *options: str) -> str:
    """The command as BENCHMARKS.md quotes it: the database and work directory as the
    reader's own (`$TMP`), not this machine's paths."""
    engine = "postgres://postgres@127.0.0.1:5432/refrun_bench" if "postgres" in args.database_url else ""
    database = engine or "sqlite:///$TMP/refrun-bench.sqlite3"
    return " ".join([f".venv/bin/python bench/{script}", f"--database-url {database}", "--work-dir $TMP", *options])


def timed_get(client, path: str, profiler=None) -> tuple[float, int]:
    """One GET: its wall time in seconds (profiled with --profile) and status code."""
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    status = client.get(path).status_code
    if profiler:
        profiler.disable()
    return time.perf_counter() - t0, status


def results_report(
    args: argparse.Namespace,
    lines: list[str],
    *,
    profiler,
    profile_rows: int,
    section: str,
    title: str,
    description: str,
    command: str,
    machine_line: str,
) -> None:
    """Print the figures (and the profile with --profile); with --write, put them in
    BENCHMARKS.md under `section`, with the date, the machine and the command."""
    print("\n".join(lines))
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile_rows)
        print(out.getvalue())
    if args.write:
        section_write(
            section,
            "\n".join(
                [
                    title,
                    "",
                    description,
                    "",
                    f"- Date: {time.strftime('%Y-%m-%d')}; machine: {machine_line} (shared)",
                    f"- Command: `{command}`",
                    *[f"- {x}" for x in lines],
                ]
            ),
        )


def shifter_client(username: str):
    """Django's test client logged in as a shifter; a failing page is counted, not raised."""
    import logging

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client

    from accounts.roles import SHIFTERS

    user, _ = get_user_model().objects.get_or_create(username=username)
    user.groups.add(Group.objects.get(name=SHIFTERS))
    client = Client(raise_request_exception=False)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    client.force_login(user)
    return client
