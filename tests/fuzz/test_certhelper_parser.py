"""parse_certhelper_pairs on arbitrary exports: it never raises, accounts for every
row (a pair, or a row error with file, line and reason), and keeps every valid pair."""

import gzip
import json
import tempfile
from pathlib import Path

from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from ingestion.parsers import RECONSTRUCTION_TYPES, CerthelperPair, RowError, parse_certhelper_pairs
from tests.fuzz.strategies import (
    FUZZ,
    INT32_MAX,
    KNOWN_COLUMNS,
    csv_cells,
    gzip_padded,
    json_dumps,
    json_values,
    mutated,
    nested_cells,
    write_csv,
)

COLUMNS = [
    "run_number",
    "run_reconstruction_type",
    "reference_run_number",
    "reference_run_reconstruction_type",
    "dataset",
]
DATASETS = [
    "",
    "/StreamExpress/Run2024C-Express-v1/DQMIO",
    "/ZeroBias/Run2018D-PromptReco-v2/DQMIO",
    "/Cosmics/Commissioning2024-PromptReco-v1/DQMIO",
]

recos = st.sampled_from(sorted(RECONSTRUCTION_TYPES))
valid_pairs = st.fixed_dictionaries(
    {
        "run_number": st.integers(1, INT32_MAX),
        "run_reconstruction_type": recos,
        "reference_run_number": st.integers(1, INT32_MAX),
        "reference_run_reconstruction_type": recos,
        "dataset": st.sampled_from(DATASETS),
    }
)
# Anything: missing keys, wrong types, huge numbers, NaN, unicode, not an object.
junk_items = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(KNOWN_COLUMNS), json_values, max_size=6),
    mutated(valid_pairs),
    mutated(valid_pairs),
)
items = st.lists(st.one_of(valid_pairs.map(lambda p: ("valid", p)), junk_items.map(lambda j: ("junk", j))), max_size=12)


def _expected(pair: dict, line: int) -> CerthelperPair:
    return CerthelperPair(line=line, **pair)


def _check_accounting(parsed, name: str, count: int, *, contiguous: bool = True) -> None:
    """Every row is a pair or an error, once; errors say file, line and why."""
    assert not parsed.fatal
    lines = sorted([row.line for row in parsed.rows] + [error.line for error in parsed.errors])
    assert len(lines) == len(set(lines)) == count
    if contiguous:
        assert lines == list(range(1, count + 1))
    for error in parsed.errors:
        assert isinstance(error, RowError) and error.file == name and error.reason
    for row in parsed.rows:
        assert 1 <= row.run_number <= INT32_MAX and 1 <= row.reference_run_number <= INT32_MAX
        assert row.run_reconstruction_type in RECONSTRUCTION_TYPES
        assert row.reference_run_reconstruction_type in RECONSTRUCTION_TYPES
        assert len(row.dataset) <= 200


@FUZZ
@given(items=items, gz=st.booleans())
def test_it_accounts_for_every_json_item(items, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("pairs.json.gz" if gz else "pairs.json")
        document = json_dumps([item for _, item in items]).encode()
        path.write_bytes(gzip.compress(document) if gz else document)

        parsed = parse_certhelper_pairs(path)

    _check_accounting(parsed, path.name, len(items))
    for position, (kind, item) in enumerate(items, start=1):
        if kind == "valid":
            assert _expected(item, position) in parsed.rows


@FUZZ
@given(
    rows=st.lists(
        st.one_of(
            valid_pairs.map(lambda p: ("valid", [str(p[c]) for c in COLUMNS])),
            st.lists(csv_cells, min_size=0, max_size=7).map(lambda cells: ("junk", cells)),
            mutated(valid_pairs, cells=True).map(lambda p: ("junk", [str(p[c]) for c in COLUMNS])),
        ),
        max_size=12,
    ),
    extra_columns=st.lists(st.sampled_from(KNOWN_COLUMNS), max_size=2, unique=True),
)
def test_it_accounts_for_every_csv_record(rows, extra_columns):
    extra = [c for c in extra_columns if c not in COLUMNS]
    header = COLUMNS + extra
    # Valid pairs fill the extra columns with blanks; junk rows keep whatever length they have.
    written = [cells + [""] * len(extra) if kind == "valid" else cells for kind, cells in rows]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.csv"
        write_csv(path, header, written)

        parsed = parse_certhelper_pairs(path)

    # One record per physical line (header = 1); csv skips a line with no field at all.
    numbered = [
        (line, kind, cells) for line, ((kind, cells), fields) in enumerate(zip(rows, written, strict=True), 2) if fields
    ]
    assert sorted([r.line for r in parsed.rows] + [e.line for e in parsed.errors]) == [line for line, _, _ in numbered]
    _check_accounting(parsed, path.name, len(numbered), contiguous=False)
    for line, kind, cells in numbered:
        if kind == "valid":
            pair = dict(zip(COLUMNS, cells, strict=True))
            pair["run_number"], pair["reference_run_number"] = (
                int(pair["run_number"]),
                int(pair["reference_run_number"]),
            )
            assert _expected(pair, line) in parsed.rows


@FUZZ
@given(pairs=st.lists(valid_pairs, min_size=1, max_size=30), cut=st.floats(0.0, 1.0))
def test_it_keeps_the_rows_before_a_truncated_gzip(pairs, cut):
    data = gzip.compress(json_dumps(pairs).encode())
    csv_rows = [[str(p[c]) for c in COLUMNS] for p in pairs]
    with tempfile.TemporaryDirectory() as folder:
        json_path = Path(folder) / "pairs.json.gz"
        json_path.write_bytes(data[: int(len(data) * cut)])
        csv_path = Path(folder) / "pairs.csv.gz"
        write_csv(csv_path, COLUMNS, csv_rows, gz=True)
        whole = csv_path.read_bytes()
        csv_path.write_bytes(whole[: int(len(whole) * cut)])

        from_json = parse_certhelper_pairs(json_path)
        from_csv = parse_certhelper_pairs(csv_path)

    assert from_json.fatal or len(from_json.rows) == len(pairs)
    assert not from_json.errors
    assert from_csv.fatal or len(from_csv.rows) == len(pairs)
    # What survives is a prefix of the file, row for row.
    expected = [_expected(p, line) for line, p in enumerate(pairs, start=2)]
    assert from_csv.rows == expected[: len(from_csv.rows)]


def test_it_reports_a_document_that_is_not_a_list():
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pairs.json"
        for document in ("{}", "3", '"x"', "null", "[" * 100_000, "NaN"):
            path.write_text(document)
            parsed = parse_certhelper_pairs(path)
            assert parsed.fatal and not parsed.rows, document
        path.write_bytes(b"\xff\xfe\x00")
        assert parse_certhelper_pairs(path).fatal
        assert json.loads("[]") == [] and parse_certhelper_pairs(Path(folder) / "missing.json").fatal


@FUZZ
@given(pairs=st.lists(valid_pairs, max_size=10), cell=nested_cells, column=st.sampled_from(COLUMNS))
def test_a_deeply_nested_value_is_a_row_error_in_csv_and_a_file_error_in_json(pairs, cell, column):
    rows = [[str(p[c]) for c in COLUMNS] for p in pairs] + [[cell if c == column else "1" for c in COLUMNS]]
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "pairs.csv"
        write_csv(csv_path, COLUMNS, rows)
        json_path = Path(folder) / "pairs.json"
        json_path.write_text(json_dumps(pairs)[:-1] + ("," if pairs else "") + cell + "]")

        from_csv = parse_certhelper_pairs(csv_path)
        from_json = parse_certhelper_pairs(json_path)

    _check_accounting(from_csv, csv_path.name, len(rows), contiguous=False)
    assert [error.line for error in from_csv.errors][-1] == len(rows) + 1
    # A JSON document too deep for the decoder is refused whole; a shallower one is a row error.
    assert from_json.fatal or len(from_json.errors) == 1


@FUZZ
@given(pairs=st.lists(valid_pairs, min_size=1, max_size=10), limit_kb=st.sampled_from([1, 8]), as_json=st.booleans())
def test_a_pairs_gzip_that_inflates_beyond_the_limit_fails_the_file_and_names_the_limit(pairs, limit_kb, as_json):
    with tempfile.TemporaryDirectory() as folder:
        if as_json:
            path = Path(folder) / "pairs.json.gz"
            text = json_dumps(pairs)[:-1] + "," + ",\n".join([json_dumps(pairs[0])] * (limit_kb * 10)) + "]"
            path.write_bytes(gzip_padded(text.encode(), at_least=limit_kb * 1024 + 1))
        else:
            plain = Path(folder) / "pairs.csv"
            write_csv(plain, COLUMNS, [[str(p[c]) for c in COLUMNS] for p in pairs])
            path = Path(folder) / "pairs.csv.gz"
            path.write_bytes(gzip_padded(plain.read_bytes(), at_least=limit_kb * 1024 + 1))

        with override_settings(IMPORT_MAX_INFLATED_MB=limit_kb / 1024):
            parsed = parse_certhelper_pairs(path)

    limit = f"{limit_kb / 1024:g} MB (IMPORT_MAX_INFLATED_MB)"
    assert parsed.fatal == f"{path.name}: {path.name} inflates to more than {limit}"
    assert not as_json or not parsed.rows  # a JSON document is all or nothing
