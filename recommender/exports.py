"""What RefRun writes as CSV: every CSV it writes goes through `csv_write`."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV
# injection): a leader's note or an imported dataset name would reach every shifter's
# spreadsheet as =HYPERLINK(...) or a DDE command.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value):
    """`value` as a spreadsheet reads it as text: a leading single quote before a
    formula start. Numbers stay as they are: -0.5 is data, not a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_write(out: IO[str], *, fieldnames: list[str], rows: Iterable[dict]) -> None:
    writer = csv.DictWriter(out, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows({name: spreadsheet_cell(value) for name, value in row.items()} for row in rows)
