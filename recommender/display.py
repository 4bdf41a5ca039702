"""Numbers as a shifter reads them: the unit that suits the value's size, whole
numbers for counts, and nothing from a fill that a cosmics run did not see."""

from __future__ import annotations

import math

from ingestion.models import RunClass

# Heavy-ion luminosity is ~10^-7 of pp's in the stored 10^34 unit: shown as 0.000
# until it gets its own unit. Below this, instantaneous luminosity is shown in 10^27.
HEAVY_ION_SCALE_BELOW = 1e-3
DASH = "\u2013"  # shown for a value nobody knows
INSTANT_UNIT_PP = "\u00d710³⁴ cm⁻² s⁻¹"
INSTANT_UNIT_HI = "\u00d710²⁷ cm⁻² s⁻¹"
INTEGER_QUANTITIES = {"duration", "bunches_colliding", "ls_count"}


def _finite(value) -> bool:
    return isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value))


def unit_words(unit: str) -> str:
    """A unit for a title in parentheses: the unit without its leading multiplication sign."""
    return unit.removeprefix("\u00d7")


def instant_lumi_scale(values) -> tuple[float, str]:
    """(factor, unit) for instantaneous luminosities stored in 10^34 cm^-2 s^-1."""
    finite = [abs(v) for v in values if _finite(v)]
    if finite and 0 < max(finite) < HEAVY_ION_SCALE_BELOW:
        return 1e7, INSTANT_UNIT_HI
    return 1.0, INSTANT_UNIT_PP


def significant(value, digits: int = 3) -> str:
    if not _finite(value):
        return DASH
    if value == 0:
        return "0"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"


def instant_lumi_text(init, end) -> str:
    if not _finite(init):
        return DASH
    if init == 0 and (not _finite(end) or end == 0):
        return "none (no beam)"
    factor, unit = instant_lumi_scale([init, end])
    end_text = significant(end * factor) if _finite(end) else DASH
    return f"{significant(init * factor)} / {end_text} {unit}"


def integrated_lumi_text(value) -> str:
    """Recorded luminosity, stored in pb⁻¹: heavy-ion runs record μb⁻¹."""
    if not _finite(value):
        return DASH
    if value == 0:
        return "none"
    if 0 < abs(value) < 0.01:
        return f"{significant(value * 1e6)} μb⁻¹"
    return f"{significant(value)} pb⁻¹"


def colliding_bunches(run) -> int | None:
    """The fill's colliding bunches, for a run that took beam: a cosmics run in a fill's
    shadow, or a run without beam energy, saw none."""
    fill = getattr(run, "fill", None)
    if fill is None or fill.bunches_colliding is None:
        return None
    if run.run_class == RunClass.COSMICS or (run.energy is not None and run.energy == 0):
        return None
    return fill.bunches_colliding


def side_by_side_value(name: str, value, *, lumi_factor: float = 1.0) -> str:
    """One cell of the run-beside-reference table."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if name in INTEGER_QUANTITIES and _finite(value):
        return f"{round(value):,}"
    if name in ("init_lumi", "end_lumi") and _finite(value):
        return significant(value * lumi_factor)
    if name == "recorded_lumi" and _finite(value):
        return integrated_lumi_text(value)
    if _finite(value):
        return significant(value, 4)
    return str(value)


def duration_text(seconds) -> str:
    """A run's duration as a shifter reads it: "7 h 48 min", "45 min", "40 s"
    (whole minutes, rounded down, past the first minute)."""
    if not _finite(seconds) or seconds < 0:
        return DASH
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
