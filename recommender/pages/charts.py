"""Server-rendered SVG line charts of per-lumisection quantities.

A run page overlays the run and its reference; no chart library and no CDN,
so the page works on a control-room machine with no outside network.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape

from ingestion.models import RunClass

from . import display

WIDTH, HEIGHT = 560, 200
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 12, 12, 34
# More points than pixels only costs bytes; thin long runs to one point per pixel column.
MAX_POINTS = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
# No luminosity or pileup comes near this; beyond it a value is a data error, drawn
# as a gap, so the axis arithmetic below can neither overflow nor lose its range.
PLOTTABLE = 1e15
# A flatter range than this (relative to the values) is drawn as a flat line.
MIN_RELATIVE_RANGE = 1e-9


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[int, float | None]]  # (lumisection number, value); None is a gap
    css_class: str


def _thinned(points: Sequence[tuple[int, float | None]]) -> list[tuple[int, float | None]]:
    if len(points) <= MAX_POINTS:
        return list(points)
    step = len(points) / MAX_POINTS
    return [points[int(i * step)] for i in range(MAX_POINTS)]


def _plottable(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and abs(value) < PLOTTABLE


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _format(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000 or abs(value) < 0.01:
        return f"{value:.1e}"
    return f"{value:g}"


def line_chart_svg(*, title: str, unit: str, series: Sequence[Series]) -> str:
    """An SVG chart of value against lumisection number, or "" when no series has a value."""
    thinned = [(s, _thinned(s.points)) for s in series]
    values = [v for _, pts in thinned for _, v in pts if _plottable(v)]
    if not values:
        return ""
    x_max = max(ls for _, pts in thinned for ls, _ in pts) or 1
    y_low, y_high = min(0.0, min(values)), max(values)
    if y_high - y_low <= MIN_RELATIVE_RANGE * max(abs(y_low), abs(y_high), 1.0):
        y_high = y_low + 1.0
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(ls: float) -> float:
        return MARGIN_LEFT + plot_w * (ls - 1) / max(x_max - 1, 1)

    def y(value: float) -> float:
        return MARGIN_TOP + plot_h * (1 - (value - y_low) / (y_high - y_low))

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="axis-title" x="{MARGIN_LEFT}" y="{HEIGHT - 4}">lumisection</text>',
        f'<text class="axis-title" x="4" y="{MARGIN_TOP + 8}">{escape(unit)}</text>',
    ]
    for tick in _nice_ticks(y_low, y_high):
        ty = y(tick)
        parts.append(f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{MARGIN_LEFT - 4}" y="{ty + 4:.1f}" text-anchor="end">{_format(tick)}</text>'
        )
    for tick in _nice_ticks(1, x_max):
        tx = x(tick)
        parts.append(
            f'<text class="tick" x="{tx:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" text-anchor="middle">{int(tick)}</text>'
        )
    for index, (s, pts) in enumerate(thinned):
        segments: list[list[str]] = [[]]
        for ls, value in pts:
            if not _plottable(value):
                segments.append([])
            else:
                segments[-1].append(f"{x(ls):.1f},{y(value):.1f}")
        for segment in segments:
            if len(segment) > 1:
                parts.append(f'<polyline class="{escape(s.css_class)}" points="{" ".join(segment)}"/>')
        legend_y = MARGIN_TOP + 12 + 14 * index
        parts.append(
            f'<text class="legend {escape(s.css_class)}" x="{WIDTH - MARGIN_RIGHT - 4}" y="{legend_y}" '
            f'text-anchor="end">{escape(s.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- What the lumisection charts cannot show -------------------------------------------
# The run page's luminosity and pileup charts say which run has no lumisection to draw,
# and for a run without beam, where both are zero, show what a cosmics certification
# looks at instead: how much of the run the tracker had its HV on, and how long it ran.


@dataclass(frozen=True)
class LumisectionRun:
    """One run shown on a run page (the run or its reference), as its charts see it."""

    run_number: int
    is_reference: bool
    lumisections: int
    drawn: bool  # its luminosity and pileup curves are drawn
    note: str  # why they are not, in words; "" when they are
    strip_hv_on: float | None  # share of the lumisections whose strip HV flags are known
    pixel_hv_on: float | None
    duration: str
    without_beam: bool

    def strip_hv_text(self) -> str:
        return _percent(self.strip_hv_on)

    def pixel_hv_text(self) -> str:
        return _percent(self.pixel_hv_on)


def _percent(share: float | None) -> str:
    # Floored, so "100%" means every lumisection: one off in a long run is "99%".
    return display.DASH if share is None else f"{math.floor(share * 100)}%"


# A run (a reference, mostly) the mirror does not hold has no lumisection either.
_NOT_IN_MIRROR = {
    "run_class": "",
    "duration": None,
    **dict.fromkeys(
        ("lumisection_count", "lumi_known", "lumi_positive", "strip_known", "strip_on", "pixel_known", "pixel_on"), 0
    ),
}


def _share(on: int, known: int) -> float | None:
    return on / known if known else None


def _without_beam(summary: dict) -> str:
    """Why the run had no beam, or "" when it had. A cosmics run is one by its class even
    where OMS gives it a few lumisections of luminosity (a beam in the machine between
    fills): the cosmic muons are what is certified. A run of any other class had no beam
    when every lumisection's luminosity is known and zero (a commissioning run with the
    magnet on, say); a run with no luminosity at all is missing it, not without beam."""
    if summary["run_class"] == RunClass.COSMICS:
        return "cosmics"
    if summary["lumi_known"] and not summary["lumi_positive"]:
        return "luminosity zero in every lumisection"
    return ""


def lumisection_runs(
    *, run_number: int, reference_run_number: int | None, summaries: dict[int, dict]
) -> list[LumisectionRun]:
    """The run and its reference as the charts see them, from
    ingestion.selectors.lumisection_summaries."""
    shown = []
    for number, is_reference in ((run_number, False), (reference_run_number, True)):
        if number is None:
            continue
        name = f"Run {number} (the reference)" if is_reference else f"Run {number}"
        summary = summaries.get(number) or _NOT_IN_MIRROR
        no_beam = _without_beam(summary)
        if not summary["lumisection_count"]:
            note = f"{name} has no per-lumisection data in the mirror."
        elif no_beam:
            note = f"{name} had no beam ({no_beam}): its luminosity and pileup are not drawn."
        elif not summary["lumi_known"]:
            note = f"{name} has {summary['lumisection_count']} lumisections in the mirror but no luminosity for them."
        else:
            note = ""
        shown.append(
            LumisectionRun(
                run_number=number,
                is_reference=is_reference,
                lumisections=summary["lumisection_count"],
                drawn=not note,
                note=note,
                strip_hv_on=_share(summary["strip_on"], summary["strip_known"]),
                pixel_hv_on=_share(summary["pixel_on"], summary["pixel_known"]),
                duration=display.duration_text(summary["duration"]),
                without_beam=bool(no_beam),
            )
        )
    return shown


def charted_runs(runs: Sequence[LumisectionRun]) -> tuple[int, int | None] | None:
    """(run, reference or None) whose luminosity and pileup are drawn, or None when the
    run's are not: a reference's curve alone beside a run without one is no comparison."""
    run = next((r for r in runs if not r.is_reference), None)
    if run is None or not run.drawn:
        return None
    reference = next((r.run_number for r in runs if r.is_reference and r.drawn), None)
    return run.run_number, reference


def tracker_hv_runs(runs: Sequence[LumisectionRun]) -> list[LumisectionRun]:
    """The runs whose tracker HV share and duration stand in for the charts: all shown
    runs when one had no beam, each only when something of it is known; else none."""
    if not any(r.without_beam for r in runs):
        return []
    return [r for r in runs if r.strip_hv_on is not None or r.pixel_hv_on is not None or r.duration != display.DASH]
