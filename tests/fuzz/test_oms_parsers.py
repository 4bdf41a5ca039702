"""The OMS dump readers and the live client's page parser on arbitrary input:
only the documented errors (RowError / DumpFileError / RowInvalid / OmsError) come
out, every row error names file, line and reason, and every accepted value fits
the mirror's columns."""

import datetime as dt
import gzip
import json
import tempfile
from pathlib import Path

import requests
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from ingestion.clients import OmsClient, OmsError
from ingestion.parsers import DumpFileError, DumpSource, Record, RowError, SkippedFile, recognise_dump
from ingestion.parsers.common import RowInvalid
from ingestion.parsers.oms import CSV_SOURCES, fill_data, lumisection_data, run_data
from tests.fuzz.strategies import (
    FUZZ,
    INT32_MAX,
    KNOWN_COLUMNS,
    NASTY_STRINGS,
    csv_cells,
    gzip_padded,
    json_dumps,
    json_values,
    nested_cells,
    record_fits,
    text,
    write_csv,
)

# One file name per CSV reader, as the shared dumps are called.
CSV_NAMES = [pattern.replace("*", "_2018", 1).replace("*", "") for pattern, *_ in CSV_SOURCES]
REQUIRED = {
    "oms_fills_2009_2022": ["oms_fill_number"],
    "oms_fills": ["fill_number"],
    "cosmics_counter": ["run_number", "apv_mode"],
    "apv_mode_runs": ["run_number", "apv_mode"],
    "run_duration_fill": ["run_number", "run_duration_s"],
    "pv_mean_per_run": ["run_number", "stream", "pv_mean"],
    "brilcalc_run_lumisections": ["run_number", "fill_number"],
    "oms_lumisections": ["run_number", "lumisection_number"],
}
UNITS = ["10^{34}cm^{-2}s^{-1}", "10^{30}cm^{-2}s^{-1}", "Hz/fb", "Hz/ub", "pb^{-1}", "{\\mu}b^{-1}", "/fb"]
units = st.one_of(st.sampled_from(UNITS + NASTY_STRINGS), text)


def _read_all(source: DumpSource) -> tuple[list[Record], list[RowError], str]:
    records, errors = [], []
    try:
        for item in source.read():
            (errors if isinstance(item, RowError) else records).append(item)
    except DumpFileError as exc:
        return records, errors, exc.reason
    return records, errors, ""


def _check(records: list[Record], errors: list[RowError], name: str) -> None:
    for error in errors:
        assert error.file == name and error.line >= 1 and error.reason
    for record in records:
        assert record.line >= 1
        assert record_fits(record.data), record
        for key in ("run_number", "fill_number", "number"):
            if record.data.get(key) is not None:
                assert 1 <= record.data[key] <= INT32_MAX


@st.composite
def csv_dumps(draw):
    name = draw(st.sampled_from(CSV_NAMES))
    source = next(source for pattern, source, *_ in CSV_SOURCES if Path(name).match(pattern))
    base = REQUIRED.get(source, ["run_number"])
    header = base + [
        c for c in draw(st.lists(st.sampled_from(KNOWN_COLUMNS), max_size=8, unique=True)) if c not in base
    ]
    # Mostly rows of the right width, some short or long.
    row = st.one_of(
        st.lists(csv_cells, min_size=len(header), max_size=len(header)),
        st.lists(csv_cells, max_size=len(header) + 2),
    )
    return name, header, draw(st.lists(row, max_size=8)), draw(st.booleans())


@FUZZ
@given(dump=csv_dumps())
def test_every_csv_reader_turns_any_row_into_a_record_or_a_row_error(dump):
    name, header, rows, gz = dump
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name + (".gz" if gz else ""))
        write_csv(path, header, rows, gz=gz)
        source = recognise_dump(path)
        assert isinstance(source, DumpSource), source

        records, errors, failure = _read_all(source)

    assert not failure
    _check(records, errors, path.name)


@FUZZ
@given(dump=csv_dumps(), cut=st.floats(0.0, 0.99))
def test_a_truncated_gzip_dump_fails_the_file_not_the_process(dump, cut):
    name, header, rows, _ = dump
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name + ".gz")
        write_csv(path, header, rows, gz=True)
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])

        records, errors, failure = _read_all(recognise_dump(path))

    assert failure  # a gzip cut anywhere is noticed
    _check(records, errors, path.name)


@FUZZ
@given(dump=csv_dumps(), cell=nested_cells, where=st.tuples(st.integers(0, 7), st.integers(0, 20)))
def test_a_deeply_nested_cell_in_any_column_is_a_row_error_or_a_value(dump, cell, where):
    name, header, rows, gz = dump
    rows = [list(row) or [""] for row in rows] or [[""] * len(header)]
    row = rows[where[0] % len(rows)]
    row[where[1] % len(row)] = cell
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (name + (".gz" if gz else ""))
        write_csv(path, header, rows, gz=gz)

        records, errors, failure = _read_all(recognise_dump(path))

    assert not failure
    _check(records, errors, path.name)


@FUZZ
@given(dump=csv_dumps(), limit_kb=st.sampled_from([1, 8, 20]))
def test_a_gzip_dump_that_inflates_beyond_the_limit_fails_the_file_and_names_the_limit(dump, limit_kb):
    name, header, rows, _ = dump
    with tempfile.TemporaryDirectory() as folder:
        plain = Path(folder) / name
        write_csv(plain, header, rows)
        path = Path(folder) / (name + ".gz")
        path.write_bytes(gzip_padded(plain.read_bytes(), at_least=limit_kb * 1024 + 1))

        with override_settings(IMPORT_MAX_INFLATED_MB=limit_kb / 1024):
            records, errors, failure = _read_all(recognise_dump(path))

    assert failure == f"{path.name} inflates to more than {limit_kb / 1024:g} MB (IMPORT_MAX_INFLATED_MB)"
    _check(records, errors, path.name)


def _recognised(path: Path):
    """The dump's source, or None where the file is refused or skipped, each with its reason."""
    try:
        source = recognise_dump(path)
    except DumpFileError as exc:
        assert exc.file == path.name and exc.reason
        return None
    if isinstance(source, SkippedFile):
        assert source.reason
        return None
    return source


@FUZZ
@given(cell=nested_cells, gz=st.booleans(), shape=st.sampled_from(["page", "runs", "bare"]))
def test_a_deeply_nested_json_dump_is_a_file_error_a_row_error_or_skipped(cell, gz, shape):
    text = {"page": '{"data": [%s]}', "runs": '[{"run_number": 1, "l1_hlt_mode": %s}]', "bare": "%s"}[shape] % cell
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("page.json.gz" if gz else "page.json")
        path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
        source = _recognised(path)
        if source is None:
            return
        records, errors, failure = _read_all(source)

    assert not failure
    _check(records, errors, path.name)


oms_items = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "type": st.one_of(st.sampled_from(["runs", "fills", "lumisections"]), json_values),
            "attributes": st.one_of(
                st.dictionaries(st.sampled_from(KNOWN_COLUMNS), json_values, max_size=8), json_values
            ),
        },
        optional={
            "meta": st.one_of(
                st.fixed_dictionaries(
                    {
                        "row": st.one_of(
                            st.dictionaries(
                                st.sampled_from(
                                    ["init_lumi", "end_lumi", "peak_lumi", "delivered_lumi", "recorded_lumi"]
                                ),
                                st.one_of(st.fixed_dictionaries({"units": units}), json_values),
                                max_size=3,
                            ),
                            json_values,
                        )
                    }
                ),
                json_values,
            )
        },
    ),
)


@FUZZ
@given(
    document=st.one_of(
        st.fixed_dictionaries({"data": st.lists(oms_items, max_size=6)}),
        st.lists(st.dictionaries(st.sampled_from(KNOWN_COLUMNS), json_values, min_size=1, max_size=8), max_size=6).map(
            lambda items: [{"run_number": 1, **item} for item in items]
        ),
        json_values,
    ),
    gz=st.booleans(),
)
def test_json_dumps_of_any_shape_are_recognised_or_skipped(document, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("page.json.gz" if gz else "page.json")
        data = json_dumps(document).encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        source = _recognised(path)
        if source is None:
            return

        records, errors, failure = _read_all(source)

    assert not failure
    _check(records, errors, path.name)
    assert len(records) + len(errors) >= len(document["data"] if isinstance(document, dict) else document)


# --- The live client's page parser -----------------------------------------------------


class _Session:
    """Stands in for requests.Session: a token, then the given API answers, then empty pages."""

    def __init__(self, answers: list[tuple[int, bytes]]):
        self.answers = list(answers)

    def request(self, method, url, **kwargs):
        response = requests.Response()
        response.url = url
        response.headers["Content-Type"] = "application/json"
        if "token" in url:
            response.status_code, response._content = 200, b'{"access_token": "t0k3n", "expires_in": 600}'
        elif self.answers:
            response.status_code, response._content = self.answers.pop(0)
        else:
            response.status_code, response._content = 200, b'{"data": []}'
        return response


page_bodies = st.one_of(
    st.fixed_dictionaries(
        {"data": st.lists(oms_items, max_size=5)},
        optional={
            "meta": st.one_of(st.fixed_dictionaries({"totalResourceCount": json_values}), json_values),
            "links": json_values,
        },
    ).map(json_dumps),
    json_values.map(json_dumps),
    st.sampled_from(["", "{", "[" * 5000, "<html>SSO login</html>", '{"data": [' + "[" * 100_000 + "]}"]),
).map(str.encode)
answers = st.lists(st.tuples(st.sampled_from([200, 200, 200, 200, 301, 401, 404, 500]), page_bodies), max_size=3)


def _client(session: _Session) -> OmsClient:
    return OmsClient(
        api_url="https://oms.invalid/agg/api",
        token_url="https://auth.invalid/token",
        client_id="refrun-test",
        client_secret="not-a-secret",
        audience="cmsoms-prod",
        max_requests_per_s=None,
        max_retries=0,
        session=session,
        sleep=lambda seconds: None,
    )


@FUZZ
@given(answers=answers, resource=st.sampled_from(["runs", "fills", "lumisections"]))
def test_the_live_page_parser_raises_only_oms_errors_and_rows_only_row_errors(answers, resource):
    client = _client(_Session(answers))
    normalise = {"runs": run_data, "fills": fill_data, "lumisections": lumisection_data}[resource]
    rows = []
    try:
        for page in client.iter_pages(resource, page_size=3):
            rows.extend(page)
            assert len(rows) < 100  # the fake session runs dry: paging must end
    except OmsError as exc:
        assert str(exc)
    for row in rows:
        assert isinstance(row.attributes, dict)
        assert all(isinstance(unit, str) for unit in row.units.values())
        try:
            data = normalise(row.attributes, row.units)
        except RowInvalid as exc:
            assert str(exc)
            continue
        assert record_fits(data), data


@FUZZ
@given(answers=answers)
def test_the_newest_run_is_a_number_or_an_oms_error(answers):
    client = _client(_Session(answers))
    try:
        newest = client.newest_run_number()
    except OmsError:
        return
    assert newest is None or (isinstance(newest, int) and 1 <= newest <= INT32_MAX)


def test_units_that_overflow_are_row_errors_not_crashes():
    for units, value in (({"init_lumi": "10^{400}cm^{-2}s^{-1}"}, 1.0), ({"init_lumi": "Hz/fb"}, 1e305)):
        try:
            data = run_data(
                {"run_number": 1, "init_lumi": value, "start_time": dt.datetime.now(dt.UTC).isoformat()}, units
            )
        except RowInvalid as exc:
            assert "init_lumi" in str(exc)
        else:
            raise AssertionError(f"accepted {data['init_lumi']}")
    assert json.loads("1e400") == float("inf")
