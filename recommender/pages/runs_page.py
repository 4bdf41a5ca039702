"""The runs page's data: one page of runs with their recommendations, rendered as rows,
and the counts of runs awaiting a decision. The view parses the filter and lookup forms."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.urls import reverse
from django.utils.safestring import SafeString

from .. import selectors
from ..models import Reconstruction
from . import run_list_rows
from .references_page import NeededRow, needed_rows

RUNS_PER_PAGE = 50


@dataclass(frozen=True)
class RunsPage:
    """What `recommender/run_list.html` shows besides its forms and query string; each
    field is the template variable of its name."""

    page: Page
    rows_html: SafeString
    awaiting: dict[str, int]  # runs awaiting a decision per reconstruction certified on arrival
    needed: list[NeededRow]
    showing_awaiting: bool
    reconstruction: str

    def as_context(self) -> dict:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _run_hrefs() -> tuple[str, str]:
    """The run pages' URLs as format strings, from one reverse() each: a reverse() per
    link, three per row, cost a third of the runs page."""
    sentinel = "987654321"
    default = reverse("recommender:run_detail_default", args=[sentinel])
    # The route takes known reconstructions only: express stands in for {reco}.
    detail = reverse("recommender:run_detail", args=[sentinel, Reconstruction.EXPRESS])
    detail = detail.replace(f"/{sentinel}/{Reconstruction.EXPRESS}/", "/{run}/{reco}/")
    return default.replace(sentinel, "{run}"), detail


def _given(filters: dict) -> list[str]:
    return [name for name, value in filters.items() if value not in (None, "")]


def runs_page_build(*, filters: dict, page_number: str | None) -> RunsPage:
    """Page `page_number` of the runs `filters` (RunFilterForm's cleaned data, {} when
    it is not valid) select, newest first."""
    runs = selectors.runs_for_list(
        run_class=filters.get("run_class") or "",
        reconstruction=filters.get("reconstruction") or "",
        status=filters.get("status") or "",
        run_min=filters.get("run_min"),
        run_max=filters.get("run_max"),
    )
    counts = selectors.run_list_counts()
    paginator = Paginator(runs, RUNS_PER_PAGE)
    if not any(filters.values()):
        paginator.count = counts.runs  # every run: counted with the awaiting runs, cached
    elif set(_given(filters)) - {"reconstruction"} == {"status"} and filters["status"] == selectors.Status.AWAITING:
        # A work queue (the landing page's, or one reconstruction's): counted with the others, cached.
        queues = {"": counts.queue, **counts.awaiting}
        reconstruction = filters.get("reconstruction") or ""
        if reconstruction in queues:
            paginator.count = queues[reconstruction]
    page = paginator.get_page(page_number)
    recos = selectors.reco_rows_for([run["id"] for run in page])
    run_href, reco_href = _run_hrefs()
    rows = [run_list_rows.row(run, recos[run["id"]], run_href, reco_href) for run in page]
    return RunsPage(
        page=page,
        rows_html=run_list_rows.rows_html(rows),
        awaiting=counts.awaiting,
        needed=needed_rows(with_proposals=False),
        showing_awaiting=filters.get("status") == selectors.Status.AWAITING,
        reconstruction=filters.get("reconstruction") or "",
    )
