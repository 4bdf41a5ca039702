"""POST /api/runs/{run}/{reco}/recommendations/: a shift leader stores a ranking now;
GET on the same path reads it and writes nothing."""

import pytest

from recommender.models import Recommendation, RunReconstruction

pytestmark = pytest.mark.django_db


def _path(run_number: int) -> str:
    return f"/api/runs/{run_number}/prompt/recommendations/"


def test_it_stores_the_ranking_for_a_shift_leader(client, leader_lea, trained_new_run):
    client.force_login(leader_lea)
    read = client.get(_path(trained_new_run))
    assert read.status_code == 200 and not Recommendation.objects.exists()

    stored = client.post(_path(trained_new_run))

    assert stored.status_code == 200
    assert stored.json() == read.json()
    ranks = Recommendation.objects.filter(run_reconstruction__reconstruction="prompt").order_by("rank")
    assert [r.reference.run_number for r in ranks] == [row["reference_run_number"] for row in stored.json()]
    assert client.post(_path(trained_new_run)).status_code == 200  # again: the same rows, no duplicate rank
    assert ranks.count() == len(stored.json())


def test_it_refuses_a_shifter(client, shifter_sam, trained_new_run):
    client.force_login(shifter_sam)
    rows = RunReconstruction.objects.count()

    assert client.post(_path(trained_new_run)).status_code == 403
    assert client.get(_path(trained_new_run)).status_code == 200
    assert (RunReconstruction.objects.count(), Recommendation.objects.count()) == (rows, 0)


def test_it_answers_404_for_a_run_not_in_refrun(client, leader_lea, trained_new_run):
    client.force_login(leader_lea)
    assert client.post(_path(999999)).status_code == 404
    assert client.post(f"/api/runs/{trained_new_run}/nonsense/recommendations/").status_code == 404
