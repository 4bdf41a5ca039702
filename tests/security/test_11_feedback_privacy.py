"""Finding 11: one privacy policy for decisions, pages and API alike (SHARED_DECISIONS):
decisions are part of the shared certification record, so every logged-in shifter
reads all of them with username, time and reason; nobody edits another's; someone
without a role reads none."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from recommender.models import Feedback
from tests.factories import RunFactory, RunReconstructionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def toms_decision(db):
    run = RunFactory(run_number=380100)
    reference = RunFactory(run_number=380050)
    tom = UserFactory(username="tom", groups=["shifters"])
    return Feedback.objects.create(
        run_reconstruction=RunReconstructionFactory(run=run, reconstruction="express"),
        user=tom,
        decision="rejected",
        recommended_reference=reference,
        reason="pileup far off from the run's",
    )


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_shifter_reads_every_decision_in_the_api_as_on_the_run_page(client, shifter_sam, toms_decision):
    listed = _api(shifter_sam).get(reverse("api:feedback")).json()
    detail = _api(shifter_sam).get(reverse("api:feedback_detail", args=[toms_decision.pk]))

    assert listed["count"] == 1
    assert listed["results"][0]["user"] == "tom" and listed["results"][0]["reason"] == "pileup far off from the run's"
    assert detail.status_code == 200 and detail.json()["user"] == "tom"
    client.force_login(shifter_sam)
    page = client.get(reverse("recommender:run_detail", args=[380100, "express"])).content.decode()
    assert "tom" in page and "pileup far off from the run&#x27;s" in page


def test_someone_without_a_role_reads_no_decision_anywhere(client, outsider_olga, toms_decision):
    assert _api(outsider_olga).get(reverse("api:feedback")).status_code == 403
    assert _api(outsider_olga).get(reverse("api:feedback_detail", args=[toms_decision.pk])).status_code == 403
    client.force_login(outsider_olga)
    assert client.get(reverse("recommender:run_detail", args=[380100, "express"])).status_code == 403


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_reading_is_all_a_shifter_can_do_with_anothers_decision(shifter_sam, toms_decision, method):
    path = reverse("api:feedback_detail", args=[toms_decision.pk])

    response = getattr(_api(shifter_sam), method)(path, {"decision": "accepted"}, format="json")

    assert response.status_code == 405
    toms_decision.refresh_from_db()
    assert toms_decision.decision == "rejected" and toms_decision.is_current
