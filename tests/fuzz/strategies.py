"""Hypothesis strategies and settings shared by the fuzz tests.

Bounded and derandomised so CI runs the same examples every time."""

import csv
import gzip
import io
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ingestion.clients import FILL_FIELDS, LUMISECTION_FIELDS, RUN_FIELDS

# The widest integer the mirror stores (PostgreSQL `integer`; BigIntegerField for counters).
INT32_MAX = 2**31 - 1

FUZZ = settings(
    max_examples=75,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# The DB tests: fewer examples, each in a savepoint that is rolled back.
FUZZ_DB = settings(
    FUZZ, max_examples=30, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.function_scoped_fixture]
)

# Strings that have broken parsers before: NaN/inf spellings, huge and negative
# numbers, float-looking integers, blanks, placeholders, JSON, unicode digits.
NASTY_STRINGS = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e308",
    "99999999999999999999999",
    str(2**31),
    str(2**63),
    "-1",
    "0",
    "0.0",
    "1.5",
    "9322.0",
    "true",
    "None",
    "null",
    "N/A",
    "[]",
    "{}",
    "[1, 2]",
    "[1e400]",
    "٣٤٥",  # Arabic-Indic digits: float() accepts them
    "३२१",
    "\uff11\uff12\uff13",  # fullwidth digits
    "2018-13-45T00:00:00",
    "2018-08-01T00:00:00Z",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
    "0001-01-01T00:00:00+14:00",
    "DECO",
    "???",
    "express",
    "PROMPT ",
    "To Be Defined",
    "10^{400}cm^{-2}s^{-1}",
    "10^{-400}cm^{-2}s^{-1}",
    "Hz/fb",
    "{\\mu}b^{-1}",
    "\u2028",
    "é" * 300,
]

# Text that survives a round trip through a UTF-8 file; NUL is legal in JSON strings
# but not in PostgreSQL text, so it comes up often.
text = st.one_of(
    st.sampled_from(["nul\x00byte", "\x00", "😀 émoji", "\u202eright-to-left"]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
)
# ... and stays on one physical line of a CSV file.
cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), max_size=20)
nasty = st.sampled_from(NASTY_STRINGS)
EXTREMES = [2**31 - 1, 2**31, 2**63, 10**400, -(10**400), 1e308, -1e308, 5e-324, -0.0, 0, -1]
numbers = st.one_of(
    st.sampled_from(EXTREMES),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_scalars = st.one_of(st.none(), st.booleans(), numbers, nasty, text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.one_of(nasty, text), children, max_size=3)
    ),
    max_leaves=6,
)
csv_cells = st.one_of(nasty, cell_text, numbers.map(str))
# One wrong value: what a mutated row gets in place of a good one.
bad_values = st.one_of(
    st.sampled_from(EXTREMES), nasty, st.sampled_from([None, True, [], {}, [1], {"a": 1}]), json_values
)
_DROP = object()


@st.composite
def mutated(draw, valid: st.SearchStrategy[dict], *, cells: bool = False) -> dict:
    """A valid row with one or two of its values replaced by a bad one (or dropped, in JSON)."""
    row = dict(draw(valid))
    replacement = csv_cells if cells else st.one_of(bad_values, st.just(_DROP))
    for key in draw(st.lists(st.sampled_from(sorted(row)), min_size=1, max_size=2, unique=True)):
        value = draw(replacement)
        if value is _DROP:
            del row[key]
        else:
            row[key] = value
    return row


KNOWN_COLUMNS = sorted(
    {
        *RUN_FIELDS,
        *FILL_FIELDS,
        *LUMISECTION_FIELDS,
        *(f"oms_{name}" for name in FILL_FIELDS),
        *(f"{name}_unit" for name in ("init_lumi", "end_lumi", "peak_lumi", "delivered_lumi", "recorded_lumi")),
        "n_ls",
        "apv_mode",
        "run_duration_s",
        "lhc_fill",
        "brilcalc_nls",
        "brilcalc_run",
        "stream",
        "pv_mean",
        "fill_number_src",
        "duration_s",
        "ls_pileup_mean",
        "n_ls_proxy",
        "run_reconstruction_type",
        "reference_run_number",
        "reference_run_reconstruction_type",
        "dataset",
    }
)


def json_dumps(value: Any) -> str:
    # allow_nan: OMS (and Python) emit NaN/Infinity, which json.loads accepts.
    return json.dumps(value, allow_nan=True)


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, gz: bool = False) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)


BIGINT_FIELDS = {"hlt_physics_counter"}


def fits_the_database(value: Any, *, bigint: bool = False) -> bool:
    """A parsed value the mirror's columns can hold and the JSON API can render."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63 if bigint else -(2**31) <= value <= INT32_MAX
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(fits_the_database(item) for item in value)
    return True  # datetimes


def record_fits(data: dict[str, Any]) -> bool:
    return all(fits_the_database(value, bigint=key in BIGINT_FIELDS) for key, value in data.items())


# Deeply nested values: "[[[...]]]" or {"a": {"a": ...}} up to the 10^5 levels,
# where json's decoder (and any recursive code) gives up.
def _nested(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


nested_cells = st.builds(_nested, st.sampled_from([2, 900, 1_100, 5_000, 100_000]), st.sampled_from(["list", "dict"]))


def gzip_padded(data: bytes, *, at_least: int) -> bytes:
    """`data`, its last line repeated until the text is at least `at_least` bytes, gzipped:
    a small bomb, as the file reads up to the point it becomes one."""
    lines = data.splitlines(keepends=True) or [b"\n"]
    tail = lines[-1] if lines[-1].endswith(b"\n") else lines[-1] + b"\n"
    padding = tail * (at_least // len(tail) + 1)
    return gzip.compress(data + padding, mtime=0)
