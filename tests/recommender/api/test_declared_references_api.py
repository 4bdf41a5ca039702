"""POST /api/references/ and /api/references/<id>/end/: leaders declare and end, shifters read."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender.models import DeclaredReference
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

PAYLOAD = {
    "run_number": 377127,
    "reconstruction": "express",
    "run_class": "cosmics",
    "from_run": 377400,
    "note": "CRAFT, new reference from today",
    "b_field_on": True,
    "apv_mode": "DECO",
}


@pytest.fixture
def reference_run():
    return RunFactory(run_number=377127, run_class="cosmics", apv_mode="DECO")


def _api(user):
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_it_declares_for_a_shift_leader(leader_lea, reference_run):
    answer = _api(leader_lea).post(reverse("api:reference_list"), PAYLOAD, format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["run_number"] == 377127 and body["apv_mode"] == "DECO" and body["b_field_on"] is True
    assert body["declared_by"] == "lea" and body["until_run"] is None


def test_it_refuses_a_shifter(shifter_sam, reference_run):
    answer = _api(shifter_sam).post(reverse("api:reference_list"), PAYLOAD, format="json")
    assert answer.status_code == 403
    assert not DeclaredReference.objects.exists()


def test_it_answers_400_with_the_reason_for_a_reference_after_its_runs(leader_lea, reference_run):
    answer = _api(leader_lea).post(reverse("api:reference_list"), {**PAYLOAD, "from_run": 377000}, format="json")
    assert answer.status_code == 400
    assert "before the runs it is for" in answer.json()["detail"]


def test_it_ends_a_declaration_and_keeps_it_listed(leader_lea, shifter_sam, reference_run):
    leader = _api(leader_lea)
    declared = leader.post(reverse("api:reference_list"), PAYLOAD, format="json").json()
    url = reverse("api:reference_end", args=[declared["id"]])
    assert _api(shifter_sam).post(url, {"until_run": 377500}, format="json").status_code == 403
    ended = leader.post(url, {"until_run": 377500}, format="json")
    assert ended.status_code == 200 and ended.json()["until_run"] == 377500 and ended.json()["ended_by"] == "lea"
    assert leader.post(url, {"until_run": 377600}, format="json").status_code == 400  # already ended
    listed = _api(shifter_sam).get(reverse("api:reference_list"), {"active": "false"}).json()["results"]
    assert [row["id"] for row in listed] == [declared["id"]]
    assert _api(leader_lea).post(reverse("api:reference_end", args=[999]), {"until_run": 1}).status_code == 404
