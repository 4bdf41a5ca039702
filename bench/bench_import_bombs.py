"""Benchmark: peak memory of an import fed a gzip bomb (issue 21, finding 3).

    .venv/bin/python bench/bench_import_bombs.py [--inflated-mb 300] [--write]

Each import runs as its own process under `/usr/bin/time -v` on a fresh SQLite
database (migrated once, in a temporary directory), with the default
IMPORT_MAX_INFLATED_MB. The bombs are the attack tests' (tests/security/bombs.py):
a Certhelper pairs export (.json.gz) and two OMS lumisection dumps (.csv.gz: one
line of zeros; one rejected row repeated), each inflating to `--inflated-mb` MB from
a few hundred KB. The baseline is `manage.py check`: the process before any import.
Peak RSS must stay under 400 MB, and the output must say why the import stopped.
`--write` puts the table in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.security.bombs import (  # noqa: E402
    lumisections_csv_rows_bomb,
    lumisections_csv_zeros_bomb,
    pairs_json_bomb,
)

LIMIT_MB = 400


def _run(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(peak RSS in MB, exit code, last lines of output) of one process."""
    done = subprocess.run(["/usr/bin/time", "-v", *command], env=env, capture_output=True, text=True, cwd=REPO)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    output = (done.stdout + done.stderr).splitlines()
    said = [line for line in output if "inflates" in line] or [line for line in output if "FAILED" in line]
    return peak_kb / 1024, done.returncode, (said[0].strip() if said else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inflated-mb", type=int, default=300)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-bombs-"))
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{scratch}/bench.sqlite3",
        "REFRUN_VAR_DIR": str(scratch),
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True, cwd=REPO)
    bombs = [
        ("import_pairs", pairs_json_bomb(scratch / "pairs.json.gz", inflated_mb=args.inflated_mb)),
        (
            "import_oms_dump",
            lumisections_csv_zeros_bomb(scratch / "oms_lumisections_zeros.csv.gz", inflated_mb=args.inflated_mb),
        ),
        (
            "import_oms_dump",
            lumisections_csv_rows_bomb(scratch / "oms_lumisections_rows.csv.gz", inflated_mb=args.inflated_mb),
        ),
    ]
    baseline, _, _ = _run([*manage, "check"], env)
    rows = [("`manage.py check` (baseline)", "", baseline, 0, "")]
    for command, path in bombs:
        peak, code, said = _run([*manage, command, str(path)], env)
        size_kb = path.stat().st_size / 1024
        rows.append((f"`{command} {path.name}`", f"{size_kb:,.0f} KB → {args.inflated_mb} MB", peak, code, said))

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite; "
        f"`.venv/bin/python bench/bench_import_bombs.py --inflated-mb {args.inflated_mb}`.",
        "",
        "| import | file | peak RSS | exit | why it stopped |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {size} | {peak:,.0f} MB | {code} | {said.replace('|', '/')} |"
        for name, size, peak, code, said in rows
    ]
    worst = max(peak for _, _, peak, _, _ in rows)
    lines += ["", f"Worst peak {worst:,.0f} MB (limit {LIMIT_MB} MB): {'within' if worst < LIMIT_MB else 'OVER'}."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        bench_md = REPO / "BENCHMARKS.md"
        heading = "## Import of gzip bombs: peak memory"
        body = bench_md.read_text(encoding="utf-8")
        section = f"{heading}\n\n{text}\n"
        if heading in body:
            start = body.index(heading)
            end = body.find("\n## ", start + len(heading))
            body = body[:start] + section + (body[end + 1 :] if end != -1 else "")
        else:
            body = body.rstrip("\n") + "\n\n" + section
        bench_md.write_text(body, encoding="utf-8")
    if worst >= LIMIT_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
