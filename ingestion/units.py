"""Luminosity units: parse OMS unit strings and convert to RefRun's canonical units.

OMS sends a unit per row (`meta.row.<attr>.units`) and changed it over the years,
so every luminosity goes through here before it is stored:

    to_canonical_instant_lumi(0.363, "10^{34}cm^{-2}s^{-1}")  # -> 0.363
    to_canonical_instant_lumi(3.63, "10^{33}cm^{-2}s^{-1}")   # -> 0.363
    to_canonical_integrated_lumi(75.9, "{\\mu}b^{-1}")        # -> 7.59e-05 (pb^-1)

Canonical units are the ones in `ingestion.models`: instantaneous luminosity in
10^34 cm^-2 s^-1, integrated luminosity in pb^-1. An unknown unit raises
`UnknownUnit`; guessing would silently store a value off by powers of ten.

Many dumps dropped the unit; `infer_instant_lumi_unit` and
`infer_integrated_lumi_unit` give the unit OMS used that year (data README).
"""

import math
import re

from .models import INSTANT_LUMI_UNIT, INTEGRATED_LUMI_UNIT

__all__ = [
    "INFERRED_SUFFIX",
    "UnknownUnit",
    "infer_instant_lumi_unit",
    "infer_integrated_lumi_unit",
    "instant_lumi_factor",
    "integrated_lumi_factor",
    "to_canonical_instant_lumi",
    "to_canonical_integrated_lumi",
]

# Appended to a *_source_unit field when the dump gave no unit and we inferred it.
INFERRED_SUFFIX = " (inferred)"


class UnknownUnit(ValueError):
    """A unit string we cannot convert. The row carrying it must be rejected."""

    def __init__(self, unit: object, quantity: str):
        self.unit = unit
        self.quantity = quantity
        super().__init__(f"unknown {quantity} unit {unit!r}")


# Barn prefixes, as the power of ten of 1 <prefix>b in barns.
_BARN_PREFIX_EXP = {"": 0, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15, "a": -18}
# Canonical exponents: 10^34 cm^-2 s^-1, and pb^-1 = 10^12 b^-1.
_CANONICAL_INSTANT_EXP = 34
_CANONICAL_INTEGRATED_EXP = 12  # 1 pb^-1 = 10^12 b^-1; 1 b = 10^-24 cm^2

_POWER_CM = re.compile(r"^(?:10\^(-?\d+))?(?:\*|x)?cm\^-2s\^-1$")
_HZ_PER_BARN = re.compile(r"^hz/([munpfa]?)b$")
_INVERSE_BARN = re.compile(r"^([munpfa]?)b\^-1$")
_PER_BARN = re.compile(r"^/([munpfa]?)b$")


def _normalise(unit: str) -> str:
    """`{\\mu}b^{-1}` -> `ub^-1`, `10^{34}cm^{-2}s^{-1}` -> `10^34cm^-2s^-1`."""
    text = unit.strip().replace("\\mu", "u").replace("µ", "u").replace("μ", "u")
    text = text.replace("{", "").replace("}", "").replace(" ", "").replace("\\", "")
    return text


def instant_lumi_factor(unit: str) -> float:
    """Multiply a value in `unit` by this to get 10^34 cm^-2 s^-1."""
    if not isinstance(unit, str) or not unit.strip():
        raise UnknownUnit(unit, "instantaneous luminosity")
    text = _normalise(unit)
    match = _POWER_CM.match(text)
    if match:
        exponent = int(match.group(1) or 0)
        return 10.0 ** (exponent - _CANONICAL_INSTANT_EXP)
    match = _HZ_PER_BARN.match(text.lower())
    if match:
        # 1 Hz/b = 10^24 cm^-2 s^-1; Hz/ub = 10^30 cm^-2 s^-1.
        exponent = 24 - _BARN_PREFIX_EXP[match.group(1)]
        return 10.0 ** (exponent - _CANONICAL_INSTANT_EXP)
    raise UnknownUnit(unit, "instantaneous luminosity")


def integrated_lumi_factor(unit: str) -> float:
    """Multiply a value in `unit` by this to get pb^-1."""
    if not isinstance(unit, str) or not unit.strip():
        raise UnknownUnit(unit, "integrated luminosity")
    text = _normalise(unit)
    match = _INVERSE_BARN.match(text) or _PER_BARN.match(text)
    if match:
        # 1 xb^-1 = 10^-prefix_exp b^-1 ... expressed in pb^-1.
        exponent = -_BARN_PREFIX_EXP[match.group(1)]
        return 10.0 ** (exponent - _CANONICAL_INTEGRATED_EXP)
    raise UnknownUnit(unit, "integrated luminosity")


def _convert(value: float | None, factor: float) -> float | None:
    if value is None or factor == 1.0:
        return value
    result = value * factor
    # Round away float noise from the power of ten (0.1 * 10 != 1.0 exactly) so a
    # re-import of the same dump compares equal and a 10^34 value is untouched.
    return float(f"{result:.15g}") if math.isfinite(result) else result


def to_canonical_instant_lumi(value: float | None, unit: str) -> float | None:
    """An instantaneous luminosity in `unit`, in 10^34 cm^-2 s^-1. None stays None."""
    factor = instant_lumi_factor(unit)
    return _convert(value, factor)


def to_canonical_integrated_lumi(value: float | None, unit: str) -> float | None:
    """An integrated luminosity in `unit`, in pb^-1. None stays None."""
    factor = integrated_lumi_factor(unit)
    return _convert(value, factor)


def infer_instant_lumi_unit(*, year: int, heavy_ion: bool = False) -> str:
    """The unit OMS used for instantaneous luminosity, for dumps that dropped it.

    Data README: up to 2017, 10^30 (Hz/ub); 2018 pp 10^34; 2018 heavy ions 10^27;
    2021 onwards (LHC Run 3, including the 2021 pilot beams) 10^33.
    """
    if year <= 2017:
        return "10^{30}cm^{-2}s^{-1}"
    if year == 2018:
        return "10^{27}cm^{-2}s^{-1}" if heavy_ion else INSTANT_LUMI_UNIT
    return "10^{33}cm^{-2}s^{-1}"


def infer_integrated_lumi_unit(*, year: int, heavy_ion: bool = False) -> str:
    """The unit OMS used for integrated luminosity, for dumps that dropped it.

    pb^-1, except heavy-ion fills, which OMS reports in ub^-1: the 2018 PbPb fills of
    oms_fills_2018 say so explicitly, and the same fills in oms_fills_2009_2022
    (no unit column) carry the same numbers.
    """
    del year  # Same rule every year so far; kept for symmetry with the instant unit.
    return "{\\mu}b^{-1}" if heavy_ion else INTEGRATED_LUMI_UNIT
