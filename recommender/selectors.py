"""Reads for the shifter's pages and the API."""

from django.db.models import Prefetch, QuerySet

from ingestion.models import Run
from ingestion.selectors import runs_filtered

from .models import ReferencePair, RunReconstruction


def runs_for_certification(
    *, run_class: str = "", run_min: int | None = None, run_max: int | None = None
) -> QuerySet[Run]:
    """Runs newest first, each with its reconstructions and their labels, in three queries."""
    labels = ReferencePair.objects.filter(is_positive=True).select_related("reference__run").order_by("-recorded_at")
    reconstructions = RunReconstruction.objects.prefetch_related(Prefetch("labels", queryset=labels))
    return runs_filtered(run_class=run_class, run_min=run_min, run_max=run_max).prefetch_related(
        Prefetch("reconstructions", queryset=reconstructions)
    )
