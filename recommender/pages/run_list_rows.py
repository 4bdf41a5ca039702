"""The runs page's table rows, formatted and rendered here rather than in the template.

A page shows 50 runs, two reconstructions each: through Django's template engine, their
cells' lookups, filters and URL tags took more of the page's time than all its reads
(BENCHMARKS.md, "Runs page round"). The markup is the one the template had; every
value is escaped.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from ingestion.models import RunClass

from .display import duration_text

UNKNOWN = "\u2013"  # an en dash: what the pages show for a value OMS did not give
RUN_CLASS_NAMES = dict(RunClass.choices)
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class RunListRow:
    run_number: int
    href: str
    run_class: str
    fill: str
    start: str
    duration: str
    lumisections: str
    b_field: str
    recos: list  # (RecoRow, its run page's URL, the first choice's score as shown)


def two_decimals(value) -> str:
    """floatformat(value, 2) without its localisation machinery (100 calls a page):
    the same half-up rounding of the value's shortest decimal form, and no "-0.00"."""
    rounded = Decimal(repr(value)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
    return str(rounded if rounded else abs(rounded))


def row(run: dict, recos: list, run_href: str, reco_href: str) -> RunListRow:
    """One row from a `selectors.runs_for_list` dict and its `selectors.reco_rows_for` rows."""
    number, start, duration, b_field = run["run_number"], run["start_time"], run["duration"], run["b_field"]
    # The run number opens the first reconstruction awaiting a decision: its decision forms.
    awaiting = next((reco.reconstruction for reco in recos if reco.status == "awaiting"), None)
    return RunListRow(
        run_number=number,
        href=reco_href.format(run=number, reco=awaiting) if awaiting else run_href.format(run=number),
        run_class=RUN_CLASS_NAMES.get(run["run_class"], run["run_class"]) or "unknown",
        fill=str(run["fill__fill_number"] or UNKNOWN),
        start=timezone.localtime(start).strftime("%Y-%m-%d %H:%M") if start else UNKNOWN,
        duration=duration_text(duration) if duration else UNKNOWN,
        lumisections=str(run["last_lumisection_number"] or UNKNOWN),
        b_field=two_decimals(b_field) if b_field is not None else UNKNOWN,
        recos=[
            (
                reco,
                reco_href.format(run=number, reco=reco.reconstruction),
                two_decimals(reco.confidence) if reco.recommended_run_number else "",
            )
            for reco in recos[:2]
        ],
    )


def _reco_cell(reco, href: str, confidence: str) -> str:
    status = escape(reco.status)
    shown = status.replace("-", " ")  # "not-queued" is a CSS class; "not queued" is read
    label = f"ref {reco.reference_run_number}" if reco.reference_run_number else ""
    if reco.recommended_run_number:
        suggestion = (
            '<span class="suggested" title="model\'s first choice and its score, as on the run page">'
            f"→ {reco.recommended_run_number} ({escape(confidence)})</span>"
        )
    elif reco.status == "awaiting":
        suggestion = '<span class="who">suggestion on its page</span>'
    else:
        suggestion = ""
    who = f'<span class="who">by {escape(reco.decided_by)}</span>' if reco.decided_by else ""
    return (
        f'<td class="reco-cell"><a href="{escape(href)}"><span class="status {status}">{shown}</span>'
        f" {label} {suggestion}</a>{who}</td>"
    )


def rows_html(rows: list[RunListRow]) -> SafeString:
    """The <tr> of every row, for the template's table body."""
    return mark_safe(  # every value above is escaped
        "\n".join(
            f'<tr><td class="num"><a href="{escape(r.href)}">{r.run_number}</a></td>'
            f'<td>{escape(r.run_class)}</td><td class="num">{escape(r.fill)}</td><td>{escape(r.start)}</td>'
            f'<td class="num">{escape(r.duration)}</td><td class="num">{escape(r.lumisections)}</td>'
            f'<td class="num">{escape(r.b_field)}</td>'
            + "".join(_reco_cell(reco, href, confidence) for reco, href, confidence in r.recos)
            + "</tr>"
            for r in rows
        )
    )
