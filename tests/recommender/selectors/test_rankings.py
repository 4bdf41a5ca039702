"""The stored rankings as the run page, the API and the refresh read them, and the
side-by-side values the same whichever way they are read."""

import pytest

from recommender.ml.catalogue import SIDE_BY_SIDE
from recommender.ml.dataset import side_by_side_value
from recommender.ml.run_table import RunTable
from recommender.models import Recommendation
from recommender.results import Reason
from recommender.selectors import (
    labelled_keys,
    recommendations_stored,
    recommendations_stored_references,
    recommendations_stored_with_scores,
    run_features_frame,
    side_by_side_for,
)
from tests.factories import (
    FillFactory,
    ModelVersionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
)

pytestmark = pytest.mark.django_db

REASON = {"feature": "run_number_gap", "description": "the nearest earlier run", "effect": 0.25}


def _stored(target, version, references: list[int]) -> None:
    """A ranking of `version` for `target`, written worst first so that the read orders it."""
    for rank, number in reversed(list(enumerate(references, start=1))):
        Recommendation.objects.create(
            run_reconstruction=target,
            reference=RunFactory(run_number=number),
            model_version=version,
            rank=rank,
            score=1.0 - rank / 10,
            reasons=[REASON] if rank == 1 else [],
        )


def test_it_reads_the_stored_ranking_of_one_model_version_best_first():
    active, older = ModelVersionFactory(status="active"), ModelVersionFactory(status="retired")
    target = RunReconstructionFactory(run=RunFactory(run_number=390100), reconstruction="express")
    _stored(target, active, [390090, 390080])
    Recommendation.objects.create(
        run_reconstruction=target, reference=RunFactory(run_number=390070), model_version=older, rank=1, score=0.99
    )

    shown = recommendations_stored(run_number=390100, reconstruction="express", model_version=active)

    assert [(r.reference_run_number, r.rank, r.score) for r in shown] == [(390090, 1, 0.9), (390080, 2, 0.8)]
    assert shown[0].reasons == [Reason("run_number_gap", "the nearest earlier run", 0.25)] and shown[1].reasons == []
    assert {r.model_version_id for r in shown} == {active.pk}
    assert [(row.name, row.label) for row in shown[0].side_by_side] == SIDE_BY_SIDE
    assert recommendations_stored(run_number=390100, reconstruction="express", model_version=active, limit=1) == [
        shown[0]
    ]
    assert recommendations_stored(run_number=390100, reconstruction="prompt", model_version=active) == []
    assert recommendations_stored(run_number=390100, reconstruction="express", model_version=None) == []


def test_it_gives_the_refresh_the_first_five_references_and_every_score():
    version = ModelVersionFactory(status="active")
    target = RunReconstructionFactory(run=RunFactory(run_number=390200), reconstruction="express")
    references = [390190, 390180, 390170, 390160, 390150, 390140]
    _stored(target, version, references)

    assert recommendations_stored_references(run_reconstruction=target, model_version_id=version.pk) == references[:5]
    assert recommendations_stored_with_scores(run_reconstruction=target, model_version_id=version.pk) == [
        (number, pytest.approx(1.0 - rank / 10)) for rank, number in enumerate(references, start=1)
    ]


def test_it_keys_the_run_reconstructions_with_a_positive_label_only():
    accepted = RunReconstructionFactory(run=RunFactory(run_number=390300), reconstruction="express")
    rejected = RunReconstructionFactory(run=RunFactory(run_number=390301), reconstruction="prompt")
    elsewhere = RunReconstructionFactory(run=RunFactory(run_number=390302), reconstruction="express")
    reference = RunReconstructionFactory(run=RunFactory(run_number=390250), reconstruction="express")
    ReferencePairFactory(run_reconstruction=accepted, reference=reference)
    ReferencePairFactory(run_reconstruction=rejected, reference=reference, is_positive=False, source="shifter")
    ReferencePairFactory(run_reconstruction=elsewhere, reference=reference)

    keys = labelled_keys(run_ids=[accepted.run_id, rejected.run_id])

    assert keys == {(accepted.run_id, "express")}


def test_the_side_by_side_values_are_the_data_frames():
    fill = FillFactory(energy=6800.0, b_field=3.8, peak_pileup=61.5, era="Run2024D", bunches_colliding=2340)
    run = RunFactory(run_number=390010, fill=fill, duration=None, last_lumisection_number=100, energy=None, era="")
    unknown = RunFactory(
        run_number=390005, fill=None, duration=None, last_lumisection_number=None, b_field=None, init_lumi=None
    )
    other = RunFactory(run_number=390001, pv_mean=31.25, pileup_mean=48.123456, apv_mode="PEAK", era="Run2024C")
    numbers = [run.run_number, unknown.run_number, other.run_number]
    table = RunTable(run_features_frame(run_numbers=numbers))

    shown = side_by_side_for(run_number=run.run_number, reference_run_numbers=[*numbers[1:], 999999])

    for reference, rows in shown.items():
        assert [(row.name, row.label) for row in rows] == SIDE_BY_SIDE
        for row in rows:
            expected = side_by_side_value(table.value(reference, row.name))
            assert row.reference_value == expected, (reference, row.name)
            assert row.run_value == side_by_side_value(table.value(run.run_number, row.name)), row.name
    by_name = {row.name: row for row in shown[unknown.run_number]}
    assert by_name["duration"].run_value == pytest.approx(2331.0)  # 100 LS of 23.31 s
    assert by_name["energy"].run_value == 6800.0 and by_name["era"].run_value == "Run2024D"  # the fill's
    assert by_name["duration"].reference_value is None and by_name["b_field"].reference_value is None
