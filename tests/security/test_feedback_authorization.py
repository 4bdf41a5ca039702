"""No user can change another's feedback through the API; every shifter reads all
of it (the shared certification record). Nobody can edit or delete feedback over
the API at all: rows are the audit trail."""

import pytest
from django.urls import URLPattern, reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommender import api_urls
from recommender.models import Feedback, ReferencePair
from recommender.services import feedback_record
from tests.factories import RunFactory, UserFactory, ranking_shown

pytestmark = pytest.mark.django_db

WRITES = ("put", "patch", "delete")


def _api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def toms_feedback(db):
    for number in (380100, 380050, 380040):
        RunFactory(run_number=number)
    tom = UserFactory(username="tom", groups=["shifters"])
    version = ranking_shown(run_number=380100, reconstruction="express", references=[380050])
    return feedback_record(
        user=tom,
        run_number=380100,
        reconstruction="express",
        decision="rejected",
        recommended_run_number=380050,
        alternative_run_number=380040,
        reason="different pileup",
        model_version_id=version.pk,
    )


def _snapshot(feedback: Feedback) -> tuple:
    feedback.refresh_from_db()
    labels = sorted(ReferencePair.objects.filter(feedback=feedback).values_list("reference_id", "is_positive"))
    return (feedback.user_id, feedback.decision, feedback.reason, feedback.is_current, feedback.updated_at, labels)


def _api_paths(feedback_id: int) -> list[str]:
    """Every route of the API, with its path parameters filled in."""
    values = {"pk": feedback_id, "run_number": 380100, "reconstruction": "express"}
    paths = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: values[name] for name in pattern.pattern.converters}
        paths.append(reverse(f"api:{pattern.name}", kwargs=kwargs))
    return paths


@pytest.mark.parametrize("method", WRITES)
def test_no_api_route_lets_a_shifter_change_or_delete_someone_elses_feedback(shifter_sam, toms_feedback, method):
    before = _snapshot(toms_feedback)
    client = _api(shifter_sam)

    for path in _api_paths(toms_feedback.pk):
        body = {"decision": "accepted", "reason": "", "user": "sam", "is_current": False}
        response = getattr(client, method)(path, body, format="json")
        # 403 where the route needs a role a shifter lacks (a leader's declaration's end).
        assert response.status_code in (403, 404, 405), (method, path, response.status_code)

    assert _snapshot(toms_feedback) == before


@pytest.mark.parametrize("method", WRITES)
def test_not_even_its_author_or_a_leader_can_rewrite_feedback_over_the_api(leader_lea, toms_feedback, method):
    tom = toms_feedback.user
    before = _snapshot(toms_feedback)
    path = reverse("api:feedback_detail", args=[toms_feedback.pk])

    for user in (tom, leader_lea):
        assert getattr(_api(user), method)(path, {"decision": "accepted"}, format="json").status_code == 405

    assert _snapshot(toms_feedback) == before


def test_a_shifters_decision_on_the_same_run_leaves_anothers_current(shifter_sam, toms_feedback):
    before = _snapshot(toms_feedback)
    payload = {
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "accepted",
        "recommended_run_number": 380050,
        "model_version_id": toms_feedback.model_version_id,
        "user": "tom",  # not an input: feedback is always the caller's
        "id": toms_feedback.pk,
    }

    response = _api(shifter_sam).post(reverse("api:feedback"), payload, format="json")

    # Tom decided: closed for Sam until a shift leader reopens it (the decision policy).
    assert response.status_code == 409 and "tom rejected it on" in response.json()["detail"]
    assert _snapshot(toms_feedback) == before


def test_a_shifter_reads_someone_elses_feedback_but_only_reads_it(shifter_sam, toms_feedback):
    # The shared certification record (SHARED_DECISIONS privacy policy; test_11).
    client = _api(shifter_sam)

    assert client.get(reverse("api:feedback")).json()["count"] == 1
    assert client.get(reverse("api:feedback_detail", args=[toms_feedback.pk])).json()["user"] == "tom"


@pytest.mark.parametrize("reader", ["leader_lea", "admin_ada"])
def test_shift_leaders_and_admins_read_all_feedback(request, shifter_sam, toms_feedback, reader):
    feedback_record(
        user=shifter_sam,
        run_number=380050,
        reconstruction="express",
        decision="accepted",
        recommended_run_number=380040,
        model_version_id=ranking_shown(
            run_number=380050, reconstruction="express", references=[380040], version=toms_feedback.model_version
        ).pk,
    )
    client = _api(request.getfixturevalue(reader))

    listed = client.get(reverse("api:feedback")).json()
    assert listed["count"] == 2
    assert {row["user"] for row in listed["results"]} == {"tom", "sam"}
    for feedback in Feedback.objects.all():
        detail = client.get(reverse("api:feedback_detail", args=[feedback.pk]))
        assert detail.status_code == 200 and detail.json()["user"] == feedback.user.username
