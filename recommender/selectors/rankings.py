"""The rankings stored by the refresh (recommender.services), as the run page, the API
and the refresh itself read them, with the side-by-side values of each reference."""

from ingestion import selectors as ingestion_selectors
from ingestion.models import LUMISECTION_SECONDS

from ..ml.catalogue import SIDE_BY_SIDE
from ..ml.dataset import run_feature_values, side_by_side_value
from ..models import ModelVersion, Recommendation, ReferencePair, RunReconstruction
from ..results import Reason, RecommendationResult, SideBySide


def side_by_side_for(*, run_number: int, reference_run_numbers: list[int]) -> dict[int, list[SideBySide]]:
    """Per reference, the run's and the reference's values of the side-by-side quantities,
    as `recommendations_for` gives them, from one query for all of them (no data frame:
    building one for six runs cost more than the rest of the run page's reads)."""
    if not reference_run_numbers:
        return {}
    rows = ingestion_selectors.run_feature_rows(run_numbers={run_number, *reference_run_numbers})
    values = run_feature_values(
        rows, list(ingestion_selectors.RUN_FEATURE_FIELDS), lumisection_seconds=LUMISECTION_SECONDS
    )
    missing: dict[str, object] = {}

    def shown(run: int, name: str):
        return side_by_side_value(values.get(run, missing).get(name))

    return {
        reference: [
            SideBySide(name, label, shown(run_number, name), shown(reference, name)) for name, label in SIDE_BY_SIDE
        ]
        for reference in reference_run_numbers
    }


def recommendations_stored(
    *, run_number: int, reconstruction: str, model_version: ModelVersion | None, limit: int = 5
) -> list[RecommendationResult]:
    """The stored ranking of `model_version` for a run reconstruction, best first, as
    `recommending.recommendations_for` returns it; [] when none is stored."""
    if model_version is None:
        return []
    stored = list(
        Recommendation.objects.filter(
            run_reconstruction__run__run_number=run_number,
            run_reconstruction__reconstruction=reconstruction,
            model_version=model_version,
            rank__lte=limit,
        )
        .order_by("rank")
        .values_list("reference__run_number", "rank", "score", "reasons")
    )
    if not stored:
        return []
    side_by_side = side_by_side_for(run_number=run_number, reference_run_numbers=[row[0] for row in stored])
    return [
        RecommendationResult(
            reference_run_number=reference,
            rank=rank,
            score=score,
            reasons=[Reason(r["feature"], r["description"], r["effect"]) for r in reasons or []],
            side_by_side=side_by_side[reference],
            model_version_id=model_version.pk,
        )
        for reference, rank, score, reasons in stored
    ]


def recommendations_stored_references(*, run_reconstruction: RunReconstruction, model_version_id: int) -> list[int]:
    """The references of ranks 1-5 stored for a run reconstruction by one model version."""
    return list(
        Recommendation.objects.filter(
            run_reconstruction=run_reconstruction, model_version_id=model_version_id, rank__lte=5
        )
        .order_by("rank")
        .values_list("reference__run_number", flat=True)
    )


def recommendations_stored_with_scores(*, run_reconstruction: RunReconstruction, model_version_id: int) -> list:
    """(reference run number, score) of a stored ranking, best first."""
    return list(
        Recommendation.objects.filter(run_reconstruction=run_reconstruction, model_version_id=model_version_id)
        .order_by("rank")
        .values_list("reference__run_number", "score")
    )


def labelled_keys(*, run_ids: list[int]) -> set[tuple[int, str]]:
    """(run id, reconstruction) of the run reconstructions with a positive label."""
    return set(
        ReferencePair.objects.filter(is_positive=True, run_reconstruction__run_id__in=run_ids).values_list(
            "run_reconstruction__run_id", "run_reconstruction__reconstruction"
        )
    )
