"""What the run page and the API show: the stored ranking, else one computed in memory,
and never a write."""

import pytest

from recommender import ranking_reads
from recommender.models import Recommendation, RunReconstruction
from recommender.services import recommendations_refresh, recommendations_store

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
