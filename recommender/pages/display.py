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


def instant_lumi_text(init, end, *, scale: tuple[float, str] | None = None) -> str:
    """Initial / end luminosity in one unit: `scale` (from instant_lumi_scale over the
    runs shown together) keeps the summary in the side-by-side table's unit."""
    if not _finite(init):
        return DASH
    if init == 0 and (not _finite(end) or end == 0):
        return "none (no beam)"
    factor, unit = scale or instant_lumi_scale([init, end])
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
    return _bunches_seen(fill.bunches_colliding if fill else None, run.run_class, run.energy)


def _bunches_seen(bunches, run_class, energy) -> int | None:
    if bunches is None or run_class == RunClass.COSMICS or (energy is not None and energy == 0):
        return None
    return bunches


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


# What the run page shows of a run, in its summary and beside the reference, in this
# order: one text per run from the run's own row, so the two never disagree. Where the
# run has no value of its own and its fill has one, the fill's is shown and says so
# (a fill's peak pileup is not the run's mean). The model's frame takes the same
# fallbacks silently (recommender.ml.dataset); only what is shown is labelled.
SHOWN = [
    ("duration", "Duration"),
    ("ls_count", "Lumisections"),
    ("bunches_colliding", "Fill's colliding bunches"),
    ("init_lumi", "Initial inst. luminosity"),
    ("end_lumi", "End inst. luminosity"),
    ("recorded_lumi", "Recorded luminosity"),
    ("energy", "Beam energy"),
    ("b_field", "B field"),
    ("era", "Era"),
    ("apv_mode", "APV mode"),
    ("pileup", "Pileup (mean)"),
    ("pv_mean", "Primary vertices (mean)"),
]
FROM_FILL = {"energy": ("fill_energy", "fill's"), "b_field": ("fill_b_field", "fill's"), "era": ("fill_era", "fill's")}
FROM_FILL["pileup"] = ("fill_peak_pileup", "fill's peak pileup")


def run_values_shown(raw: dict, *, scale: tuple[float, str]) -> dict[str, str]:
    """The texts of SHOWN for one run, from its row (ingestion.selectors.RUN_FEATURE_FIELDS
    names: the run's own values with its fill's beside them)."""
    factor = scale[0]

    def own_or_fill(name: str, text) -> str:
        value = raw.get(name)
        if value not in (None, "") and not (isinstance(value, float) and math.isnan(value)):
            return text(value)
        column, words = FROM_FILL[name]
        fill_value = raw.get(column)
        if fill_value in (None, "") or (isinstance(fill_value, float) and math.isnan(fill_value)):
            return DASH
        return f"{text(fill_value)} ({words})"

    bunches = _bunches_seen(raw.get("bunches_colliding"), raw.get("run_class"), raw.get("energy"))
    ls_count = raw.get("ls_count")
    return {
        "duration": duration_text(raw.get("duration")),
        "ls_count": f"{round(ls_count):,}" if _finite(ls_count) else DASH,
        "bunches_colliding": f"{bunches:,}" if bunches is not None else DASH,
        "init_lumi": significant(raw["init_lumi"] * factor) if _finite(raw.get("init_lumi")) else DASH,
        "end_lumi": significant(raw["end_lumi"] * factor) if _finite(raw.get("end_lumi")) else DASH,
        "instant_lumi": instant_lumi_text(raw.get("init_lumi"), raw.get("end_lumi"), scale=scale),
        "recorded_lumi": integrated_lumi_text(raw.get("recorded_lumi")),
        "energy": own_or_fill("energy", lambda v: "no beam" if v == 0 else f"{v:,.0f} GeV"),
        "b_field": own_or_fill("b_field", lambda v: f"{significant(v, 4)} T"),
        "era": own_or_fill("era", str),
        "apv_mode": raw.get("apv_mode") or DASH,
        "pileup": own_or_fill("pileup", lambda v: significant(v, 4)),
        "pv_mean": significant(raw.get("pv_mean")),
    }
