"""The `--from/--to` run-number range of the sync commands, one spelling for all."""

from __future__ import annotations

from argparse import ArgumentParser


def add_run_range_arguments(
    parser: ArgumentParser, *, from_help: str = "first run number", to_help: str = "last run number"
) -> None:
    """`--from` and `--to`, as the options run_from and run_to (None when not given):
    what an absent end means is each command's own, so it says so in its help."""
    parser.add_argument("--from", dest="run_from", type=int, help=from_help)
    parser.add_argument("--to", dest="run_to", type=int, help=to_help)
