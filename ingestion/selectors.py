"""Reads of the OMS mirror. The recommender reads runs only through here."""

from django.db.models import Prefetch, QuerySet

from .models import Run


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


def run_with_lumisections(*, run_number: int) -> Run:
    from .models import Lumisection

    return (
        Run.objects.select_related("fill")
        .prefetch_related(Prefetch("lumisections", queryset=Lumisection.objects.order_by("number")))
        .get(run_number=run_number)
    )
