import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender.models import Feedback
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    RunFactory(run_number=380100)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380090, reconstruction="express"),
        reference=RunReconstructionFactory(run__run_number=380050, reconstruction="express"),
    )


def _api(user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_it_lists_runs_with_their_reconstructions(shifter_sam, history):
    body = _api(shifter_sam).get(reverse("api:run_list"), {"run_min": 380090}).json()
    assert [r["run_number"] for r in body["results"]] == [380100, 380090]
    express = body["results"][1]["reconstructions"][0]
    assert express == {
        "reconstruction": "express",
        "status": "certified",
        "reference_run_number": 380050,
        "recommended_run_number": None,
        "confidence": None,
    }


def test_it_lists_each_runs_conditions_and_null_when_unknown(shifter_sam):
    RunFactory(run_number=380200, apv_mode="PEAK", pv_mean=31.5)
    RunFactory(run_number=380201)

    body = _api(shifter_sam).get(reverse("api:run_list"), {"run_min": 380200, "run_max": 380201}).json()

    assert [(r["run_number"], r["apv_mode"], r["pv_mean"]) for r in body["results"]] == [
        (380201, "", None),
        (380200, "PEAK", 31.5),
    ]


def test_it_rejects_a_bad_filter_with_a_message(shifter_sam):
    response = _api(shifter_sam).get(reverse("api:run_list"), {"run_class": "pp", "run_min": "abc"})
    assert response.status_code == 400
    assert set(response.json()) == {"run_class", "run_min"}


def test_it_recommends_for_a_run_over_the_api(shifter_sam, history):
    response = _api(shifter_sam).get(reverse("api:recommendation_list", args=[380100, "express"]))
    assert response.status_code == 200
    assert response.json()[0]["reference_run_number"] == 380050


def test_it_answers_404_for_an_unknown_run(shifter_sam):
    response = _api(shifter_sam).get(reverse("api:recommendation_list", args=[1, "express"]))
    assert response.status_code == 404 and "not in the database" in response.json()["detail"]


def test_it_records_feedback_and_shows_it_to_every_shifter(shifter_sam, leader_lea, history):
    other = UserFactory(username="tom", groups=["shifters"])
    payload = {
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "accepted",
        "recommended_run_number": 380050,
    }
    created = _api(shifter_sam).post(reverse("api:feedback"), payload, format="json")
    assert created.status_code == 201
    feedback_id = created.json()["id"]

    assert _api(other).get(reverse("api:feedback")).json()["count"] == 1
    assert _api(other).get(reverse("api:feedback_detail", args=[feedback_id])).json()["user"] == "sam"
    assert _api(leader_lea).get(reverse("api:feedback")).json()["count"] == 1
    assert _api(shifter_sam).get(reverse("api:feedback_detail", args=[feedback_id])).json()["user"] == "sam"


def test_it_refuses_invalid_feedback_with_a_message_and_writes_nothing(shifter_sam, history):
    payload = {
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "rejected",
        "recommended_run_number": 380050,
    }
    response = _api(shifter_sam).post(reverse("api:feedback"), payload, format="json")
    assert response.status_code == 400 and "needs a reason" in response.json()["detail"]
    assert not Feedback.objects.exists()


def test_it_serves_the_openapi_schema(shifter_sam):
    response = _api(shifter_sam).get(reverse("api:schema"))
    assert response.status_code == 200 and b"/api/feedback/" in response.content


def test_it_lists_each_runs_tracker_flags_null_when_unknown(shifter_sam, history):
    from ingestion.models import Run, TrackerCertification

    run = Run.objects.get(run_number=380100)
    TrackerCertification.objects.create(
        run=run, dataset="/Express/Collisions2024/DQM", reconstruction="express", pixel="BAD", strip="GOOD"
    )
    TrackerCertification.objects.create(
        run=run,
        dataset="/PromptReco/Collisions2024G/DQM",
        reconstruction="prompt",
        pixel="GOOD",
        strip="GOOD",
        tracking="GOOD",
    )
    body = _api(shifter_sam).get(reverse("api:run_list"), {"run_min": 380090}).json()
    tracker = {r["run_number"]: r["tracker"] for r in body["results"]}
    # Prompt, the dataset the certification masks record, stands for the run.
    assert tracker[380100] == {"pixel": "GOOD", "strip": "GOOD", "tracking": "GOOD"}
    assert tracker[380090] == {"pixel": None, "strip": None, "tracking": None}
