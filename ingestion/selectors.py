"""Reads of the OMS mirror. The recommender reads runs only through here."""

from collections import defaultdict

from django.db.models import QuerySet

from .models import Lumisection, Run


def runs_filtered(
    *,
    run_class: str = "",
    run_min: int | None = None,
    run_max: int | None = None,
) -> QuerySet[Run]:
    runs = Run.objects.select_related("fill").order_by("-run_number")
    if run_class:
        runs = runs.filter(run_class=run_class)
    if run_min is not None:
        runs = runs.filter(run_number__gte=run_min)
    if run_max is not None:
        runs = runs.filter(run_number__lte=run_max)
    return runs


def lumisection_series(*, run_numbers: list[int]) -> dict[int, dict[str, list[tuple[int, float | None]]]]:
    """Per run, (LS number, value) lists of instantaneous luminosity and pileup, in one query."""
    series: dict[int, dict[str, list]] = defaultdict(lambda: {"init_lumi": [], "pileup": []})
    rows = (
        Lumisection.objects.filter(run__run_number__in=run_numbers)
        .order_by("run__run_number", "number")
        .values_list("run__run_number", "number", "init_lumi", "pileup")
    )
    for run_number, number, init_lumi, pileup in rows:
        series[run_number]["init_lumi"].append((number, init_lumi))
        series[run_number]["pileup"].append((number, pileup))
    return dict(series)
