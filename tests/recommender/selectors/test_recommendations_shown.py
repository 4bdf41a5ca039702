"""What the run page and the API show: the stored ranking, else one computed in memory,
and never a write; the side-by-side values the same whichever way they are read."""

import pytest

from recommender import ranking_reads, selectors
from recommender.ml.features import SIDE_BY_SIDE, RunTable
from recommender.models import Recommendation, RunReconstruction
from recommender.services import recommendations_refresh, recommendations_store
from tests.factories import FillFactory, RunFactory

pytestmark = pytest.mark.django_db


def test_it_computes_in_memory_and_writes_nothing_when_none_is_stored(trained_new_run):
    rows = (RunReconstruction.objects.count(), Recommendation.objects.count())

    shown = ranking_reads.recommendations_shown(run_number=trained_new_run, reconstruction="prompt")

    assert shown and shown[0].model_version_id is not None
    assert (RunReconstruction.objects.count(), Recommendation.objects.count()) == rows


def test_it_shows_the_stored_ranking_as_it_was_computed(trained_new_run):
    computed = recommendations_store(run_number=trained_new_run, reconstruction="express")

    shown = ranking_reads.recommendations_shown(run_number=trained_new_run, reconstruction="express")

    assert shown == computed  # ranks, scores, reasons and side by side


def test_it_shows_the_stored_ranking_not_a_new_computation(trained_new_run):
    computed = recommendations_store(run_number=trained_new_run, reconstruction="express")
    # As if the label history had moved since the refresh: the page shows what is stored
    # (what the runs page shows, and what a decision is checked against).
    Recommendation.objects.filter(rank=1, model_version_id=computed[0].model_version_id).update(score=0.123)

    shown = ranking_reads.recommendations_shown(run_number=trained_new_run, reconstruction="express")

    assert shown[0].score == 0.123


def test_the_refresh_stores_new_rankings_and_rewrites_changed_ones_only(trained_new_run):
    first = recommendations_refresh(newest_runs=5)
    assert first > 0
    assert recommendations_refresh(newest_runs=5) == 0
    Recommendation.objects.filter(rank=1).update(score=0.123)

    assert recommendations_refresh(newest_runs=5) == first
    assert not Recommendation.objects.filter(score=0.123).exists()


def test_the_side_by_side_values_are_the_data_frames(db):
    fill = FillFactory(energy=6800.0, b_field=3.8, peak_pileup=61.5, era="Run2024D", bunches_colliding=2340)
    run = RunFactory(run_number=390010, fill=fill, duration=None, last_lumisection_number=100, energy=None, era="")
    unknown = RunFactory(
        run_number=390005, fill=None, duration=None, last_lumisection_number=None, b_field=None, init_lumi=None
    )
    other = RunFactory(run_number=390001, pv_mean=31.25, pileup_mean=48.123456, apv_mode="PEAK", era="Run2024C")
    numbers = [run.run_number, unknown.run_number, other.run_number]
    table = RunTable(selectors.run_features_frame(run_numbers=numbers))

    shown = selectors.side_by_side_for(run_number=run.run_number, reference_run_numbers=[*numbers[1:], 999999])

    for reference, rows in shown.items():
        assert [(row.name, row.label) for row in rows] == SIDE_BY_SIDE
        for row in rows:
            expected = selectors.side_by_side_value(table.value(reference, row.name))
            assert row.reference_value == expected, (reference, row.name)
            assert row.run_value == selectors.side_by_side_value(table.value(run.run_number, row.name)), row.name
    by_name = {row.name: row for row in shown[unknown.run_number]}
    assert by_name["duration"].run_value == pytest.approx(2331.0)  # 100 LS of 23.31 s
    assert by_name["energy"].run_value == 6800.0 and by_name["era"].run_value == "Run2024D"  # the fill's
    assert by_name["duration"].reference_value is None and by_name["b_field"].reference_value is None
