"""Issue 21, finding 5: reopen took any reconstruction name. A leader's
POST /runs/383839/AAAA…(300 characters)/reopen/ answered 302 and wrote a
RunReconstruction row with that name on SQLite (on PostgreSQL's varchar(10), a 500).
Every route that takes a reconstruction answers 404 for an unknown one, before any write."""

import pytest
from rest_framework.test import APIClient

from recommender.models import Feedback, RunReconstruction
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

RUN = 383839
UNKNOWN = ["A" * 300, "expres", "EXPRESS"]


@pytest.fixture
def run():
    return RunFactory(run_number=RUN, run_class="collisions_pp")


@pytest.mark.parametrize("name", UNKNOWN)
def test_a_leaders_reopen_of_an_unknown_reconstruction_is_404_and_writes_nothing(client, leader_lea, run, name):
    client.force_login(leader_lea)

    answer = client.post(f"/runs/{RUN}/{name}/reopen/")

    assert answer.status_code == 404
    assert not RunReconstruction.objects.exists()


@pytest.mark.parametrize("name", UNKNOWN)
def test_a_decision_on_an_unknown_reconstruction_is_404_and_writes_nothing(client, leader_lea, run, name):
    client.force_login(leader_lea)

    answer = client.post(f"/runs/{RUN}/{name}/feedback/", {"decision": "accepted", "recommended_run_number": 1})

    assert answer.status_code == 404
    assert not RunReconstruction.objects.exists() and not Feedback.objects.exists()


@pytest.mark.parametrize("name", UNKNOWN)
def test_the_run_page_of_an_unknown_reconstruction_is_404(client, shifter_sam, run, name):
    client.force_login(shifter_sam)

    answer = client.get(f"/runs/{RUN}/{name}/")

    assert answer.status_code == 404
    assert not RunReconstruction.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", UNKNOWN)
def test_the_api_recommendations_of_an_unknown_reconstruction_are_404(leader_lea, run, method, name):
    api = APIClient()
    api.force_authenticate(leader_lea)

    answer = getattr(api, method)(f"/api/runs/{RUN}/{name}/recommendations/")

    assert answer.status_code == 404
    assert not RunReconstruction.objects.exists()
