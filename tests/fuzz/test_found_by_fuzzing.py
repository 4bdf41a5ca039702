"""The inputs the property tests found crashing the parsers, pinned as examples."""

import pytest

from ingestion.clients import _total_of, _units_of
from ingestion.parsers.common import RowInvalid, to_datetime, to_float, to_int, to_str, to_str_list
from ingestion.parsers.oms import run_data


@pytest.mark.parametrize(
    ("convert", "value", "reason"),
    [
        (to_float, 10**400, "finite"),  # JSON integer beyond any float: was OverflowError
        (to_int, 2**31, "must be <="),  # fit no integer column: was a failed batch at the database
        (to_int, "99999999999999999999999", "must be <="),
        (to_str, "a\x00b", "NUL"),  # PostgreSQL refuses NUL in text: was a failed batch
        (to_str_list, ["TRACKER\x00"], "NUL"),
        (to_datetime, "0001-01-01T00:00:00+14:00", "out of range"),  # was OverflowError
    ],
)
def test_it_rejects_the_value_as_a_row_error(convert, value, reason):
    with pytest.raises(RowInvalid, match=reason):
        convert(value, "column")


@pytest.mark.parametrize("units", [{"init_lumi": "10^{400}cm^{-2}s^{-1}"}, {"init_lumi": "Hz/fb"}])
def test_a_unit_that_overflows_is_a_row_error(units):
    with pytest.raises(RowInvalid, match="init_lumi"):
        run_data({"run_number": 1, "init_lumi": 1e305}, units)


def test_the_live_client_tolerates_odd_meta():
    assert _units_of({"meta": True}) == {} and _units_of({"meta": {"row": [1]}}) == {}
    assert _total_of({"meta": {"totalResourceCount": float("inf")}}) is None
    assert _total_of({"meta": "x"}) is None
