"""A server-drawn SVG of which reference each group used across run numbers.

Same look and the same no-library, no-CDN rule as the run page's charts
(recommender/pages/charts.py); every text is escaped with Django's escape.
"""

from __future__ import annotations

from django.utils.html import escape

from .charts import _nice_ticks

WIDTH = 1000
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 170, 12, 8, 30
ROW_HEIGHT, BAR_HEIGHT = 26, 18
# Distinct fills for neighbouring references of a group; colour means nothing beyond "changed".
PALETTE = ["#2b6cb0", "#dd6b20", "#2f855a", "#805ad5", "#c53030", "#319795", "#b7791f", "#4a5568"]
LABEL_MIN_WIDTH = 44  # a segment narrower than this shows its reference only in its tooltip


def timeline_svg(*, title: str, groups: list[tuple[str, list]], run_range: tuple[int, int] | None) -> str:
    """`groups` is [(label, [TimelineSegment...])]; "" when there is nothing to draw."""
    if not groups or run_range is None:
        return ""
    low, high = run_range
    if high <= low:
        high = low + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    height = MARGIN_TOP + ROW_HEIGHT * len(groups) + MARGIN_BOTTOM

    def x(run: float) -> float:
        return MARGIN_LEFT + plot_w * (run - low) / (high - low)

    parts = [
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    axis_y = MARGIN_TOP + ROW_HEIGHT * len(groups)
    for tick in _nice_ticks(low, high, count=6):
        tx = x(tick)
        parts.append(f'<line class="grid" x1="{tx:.1f}" x2="{tx:.1f}" y1="{MARGIN_TOP}" y2="{axis_y}"/>')
        parts.append(f'<text class="tick" x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle">{int(tick)}</text>')
    parts.append(f'<text class="tick" x="{MARGIN_LEFT}" y="{height - 2}">run number</text>')
    for row, (label, segments) in enumerate(groups):
        y = MARGIN_TOP + row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        parts.append(
            f'<text class="group-label" x="{MARGIN_LEFT - 6}" y="{y + BAR_HEIGHT - 5:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        colours: dict[int, str] = {}
        for index, segment in enumerate(segments):
            # The next segment starts where this one's successor run begins: no gaps between uses.
            end = segments[index + 1].first_run if index + 1 < len(segments) else segment.last_run
            x0, x1 = x(segment.first_run), max(x(end), x(segment.first_run) + 2)
            colour = colours.setdefault(segment.reference_run_number, PALETTE[len(colours) % len(PALETTE)])
            tip = (
                f"reference {segment.reference_run_number}: runs {segment.first_run} to {segment.last_run} "
                f"({segment.runs} run{'s' if segment.runs != 1 else ''})"
            )
            parts.append(
                f'<rect class="segment" x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{BAR_HEIGHT}" '
                f'fill="{colour}" data-reference="{segment.reference_run_number}"><title>{escape(tip)}</title></rect>'
            )
            if x1 - x0 >= LABEL_MIN_WIDTH:
                parts.append(
                    f'<text x="{x0 + 3:.1f}" y="{y + BAR_HEIGHT - 5:.1f}" fill="#fff">'
                    f"{segment.reference_run_number}</text>"
                )
    parts.append("</svg>")
    return "".join(parts)
