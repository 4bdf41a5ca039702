"""Hostile import files, built in a test's tmp_path: deeply nested cells and gzip
bombs. The bombs are streamed through gzip in chunks, so building one costs a
second and a few MB however far it inflates."""

import gzip
from pathlib import Path

MB = 1024 * 1024
# The nesting of the reproduction: 10^5 brackets, a 200 KB cell.
DEPTH = 100_000


def nested_list(depth: int = DEPTH) -> str:
    return "[" * depth + "]" * depth


def deep_fills_csv(path: Path, *, depth: int = DEPTH) -> Path:
    """oms_fills_2009_2022_deep.csv: one fill whose brilcalc_run is nested `depth` deep."""
    path.write_text(f'oms_fill_number,brilcalc_run\n7000,"{nested_list(depth)}"\n', encoding="utf-8")
    return path


def gzip_bomb(path: Path, *, head: bytes, chunk: bytes, inflated_mb: int, tail: bytes = b"") -> Path:
    """`head`, then `chunk` repeated until about `inflated_mb` MB, then `tail`, gzipped."""
    block = chunk * max(1, MB // len(chunk))
    with gzip.open(path, "wb", compresslevel=6) as handle:
        handle.write(head)
        written = len(head)
        while written < inflated_mb * MB:
            handle.write(block)
            written += len(block)
        handle.write(tail)
    return path


PAIR = (
    b'{"run_number": 320002, "run_reconstruction_type": "express", "reference_run_number": 320001, '
    b'"reference_run_reconstruction_type": "express", "dataset": "/StreamExpress/Run2018D-Express-v1/DQMIO"},'
)


def pairs_json_bomb(path: Path, *, inflated_mb: int = 300) -> Path:
    """A Certhelper pairs export (JSON list) of one pair repeated to `inflated_mb` MB."""
    return gzip_bomb(path, head=b"[", chunk=PAIR, inflated_mb=inflated_mb, tail=PAIR[:-1] + b"]")


def lumisections_csv_zeros_bomb(path: Path, *, inflated_mb: int = 300) -> Path:
    """An OMS lumisections dump whose first record is `inflated_mb` MB of zeros on one line."""
    return gzip_bomb(path, head=b"run_number,lumisection_number\n", chunk=b"0" * 4096, inflated_mb=inflated_mb)


def lumisections_csv_rows_bomb(path: Path, *, inflated_mb: int = 300) -> Path:
    """An OMS lumisections dump of one rejected row (run 0) repeated to `inflated_mb` MB."""
    return gzip_bomb(path, head=b"run_number,lumisection_number\n", chunk=b"0,1\n", inflated_mb=inflated_mb)
