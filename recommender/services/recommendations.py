"""Stored recommendations: the active model's ranking of a run reconstruction, kept
with the model version that made it, so pages read it instead of computing it."""

from django.db import transaction

from ingestion import selectors as ingestion_selectors
from ingestion.models import RunClass

from .. import selectors
from ..models import Recommendation, RunReconstruction


def recommendations_store(*, run_number: int, reconstruction: str, limit: int = 5) -> list:
    """Compute the recommendations of a run reconstruction and keep them, with
    the model version that made them, unless that version's are already stored
    as they are computed now. Returns what was computed.

    Only the refresh task and an explicit POST call this: pages and GET APIs read
    what is stored (ranking_reads.recommendations_shown) and never write.
    """
    return _recommendations_store(run_number=run_number, reconstruction=reconstruction, limit=limit)[0]


def _recommendations_store(*, run_number: int, reconstruction: str, limit: int) -> tuple[list, bool]:
    from ..recommending import recommendations_for

    results = recommendations_for(run_number=run_number, reconstruction=reconstruction, limit=limit)
    if not results or results[0].model_version_id is None:
        return results, False  # persistence fallback: nothing learned to record
    run = ingestion_selectors.run_get(run_number=run_number)
    version_id = results[0].model_version_id
    wanted = [(r.reference_run_number, r.score) for r in results]
    target, _ = RunReconstruction.objects.get_or_create(run=run, reconstruction=reconstruction)
    # Scores too: the runs page shows the stored first choice and score, and the run page
    # the stored ranking; both follow the label history at the next refresh.
    if selectors.recommendations_stored_with_scores(run_reconstruction=target, model_version_id=version_id) == wanted:
        return results, False
    references = ingestion_selectors.run_ids(run_numbers=[r.reference_run_number for r in results])
    with transaction.atomic():
        # The row lock serialises two refreshes of one run reconstruction (PostgreSQL);
        # the unique (run reconstruction, model version, rank) constraint backs it.
        RunReconstruction.objects.select_for_update().filter(pk=target.pk).first()
        Recommendation.objects.filter(run_reconstruction=target, model_version_id=version_id).delete()
        Recommendation.objects.bulk_create(
            Recommendation(
                run_reconstruction=target,
                reference_id=references[r.reference_run_number],
                model_version_id=version_id,
                rank=r.rank,
                score=r.score,
                reasons=[{"feature": x.feature, "description": x.description, "effect": x.effect} for x in r.reasons],
            )
            for r in results
        )
    return results, True


def recommendations_refresh(*, newest_runs: int = 200) -> int:
    """Store the active model's recommendations for the newest runs that still
    await a reference, so the pages show them without computing them: new ones, and
    those the label history changed since they were stored. Returns how many run
    reconstructions got new or changed stored recommendations."""
    version = selectors.model_version_active()
    if version is None:
        return 0
    runs = ingestion_selectors.runs_newest(limit=newest_runs, exclude_run_classes=["", RunClass.SPECIAL])
    labelled = selectors.labelled_keys(run_ids=[run_id for run_id, _ in runs])
    stored_now = 0
    for run_id, run_number in runs:
        for reconstruction in selectors.CERTIFIED_ON_ARRIVAL:
            if (run_id, reconstruction) in labelled:
                continue
            _, written = _recommendations_store(run_number=run_number, reconstruction=reconstruction, limit=5)
            stored_now += written
    return stored_now
