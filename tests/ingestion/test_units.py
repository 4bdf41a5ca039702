import pytest

from ingestion.units import (
    UnknownUnit,
    infer_instant_lumi_unit,
    infer_integrated_lumi_unit,
    to_canonical_instant_lumi,
    to_canonical_integrated_lumi,
)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("10^{34}cm^{-2}s^{-1}", 2.5),
        ("10^{33}cm^{-2}s^{-1}", 0.25),
        ("10^{30}cm^{-2}s^{-1}", 2.5e-4),
        ("10^{27}cm^{-2}s^{-1}", 2.5e-7),
        ("Hz/ub", 2.5e-4),
        ("Hz/{\\mu}b", 2.5e-4),
        ("Hz/nb", 0.25),
        (" 10^{34} cm^{-2} s^{-1} ", 2.5),
    ],
)
def test_it_converts_instant_lumi_to_1e34(unit, expected):
    assert to_canonical_instant_lumi(2.5, unit) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("pb^{-1}", 75.9),
        ("{\\mu}b^{-1}", 75.9e-6),
        ("ub^{-1}", 75.9e-6),
        ("nb^{-1}", 75.9e-3),
        ("fb^{-1}", 75.9e3),
        ("/ub", 75.9e-6),
    ],
)
def test_it_converts_integrated_lumi_to_pb(unit, expected):
    assert to_canonical_integrated_lumi(75.9, unit) == pytest.approx(expected, rel=1e-12)


def test_it_keeps_canonical_values_bit_for_bit():
    value = 0.12345678901234567
    assert to_canonical_instant_lumi(value, "10^{34}cm^{-2}s^{-1}") == value
    assert to_canonical_integrated_lumi(value, "pb^{-1}") == value


def test_it_rounds_away_power_of_ten_noise():
    assert to_canonical_instant_lumi(3.63, "10^{33}cm^{-2}s^{-1}") == 0.363


def test_it_passes_none_through():
    assert to_canonical_instant_lumi(None, "10^{33}cm^{-2}s^{-1}") is None
    assert to_canonical_integrated_lumi(None, "pb^{-1}") is None


@pytest.mark.parametrize("unit", ["", "furlongs", "10^{34}cm^{-2}", "Hz/kb", None])
def test_it_rejects_unknown_instant_units(unit):
    with pytest.raises(UnknownUnit, match="unknown instantaneous luminosity unit"):
        to_canonical_instant_lumi(1.0, unit)


@pytest.mark.parametrize("unit", ["", "pb", "cm^{-2}", "kb^{-1}"])
def test_it_rejects_unknown_integrated_units(unit):
    with pytest.raises(UnknownUnit, match="unknown integrated luminosity unit"):
        to_canonical_integrated_lumi(1.0, unit)


def test_it_rejects_a_unit_even_for_a_missing_value():
    with pytest.raises(UnknownUnit):
        to_canonical_instant_lumi(None, "furlongs")


@pytest.mark.parametrize(
    ("year", "heavy_ion", "unit"),
    [
        (2012, False, "10^{30}cm^{-2}s^{-1}"),
        (2017, False, "10^{30}cm^{-2}s^{-1}"),
        (2018, False, "10^{34}cm^{-2}s^{-1}"),
        (2018, True, "10^{27}cm^{-2}s^{-1}"),
        (2022, False, "10^{33}cm^{-2}s^{-1}"),
        (2024, True, "10^{33}cm^{-2}s^{-1}"),
    ],
)
def test_it_infers_the_instant_unit_by_year(year, heavy_ion, unit):
    assert infer_instant_lumi_unit(year=year, heavy_ion=heavy_ion) == unit


def test_it_infers_ub_for_heavy_ion_integrated_lumi():
    assert infer_integrated_lumi_unit(year=2018, heavy_ion=True) == "{\\mu}b^{-1}"
    assert infer_integrated_lumi_unit(year=2018) == "pb^{-1}"
