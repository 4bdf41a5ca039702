"""Finding 4: a double-submitted decision answered 500 ("database is locked" on
SQLite, IntegrityError on PostgreSQL when two first decisions raced). The same
decision twice is one current row, answered 201 then 200, never 5xx."""

import threading

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from recommender.models import Feedback, LabelSource, Recommendation, ReferencePair
from tests.factories import ModelVersionFactory, RunFactory, RunReconstructionFactory, UserFactory


def _shown():
    for number in (380100, 380050, 380040):
        RunFactory(run_number=number)
    version = ModelVersionFactory(status="active")
    target = RunReconstructionFactory(run__run_number=380100, reconstruction="express")
    for rank, number in enumerate((380050, 380040), start=1):
        Recommendation.objects.create(
            run_reconstruction=target,
            reference=RunFactory(run_number=number),
            model_version=version,
            rank=rank,
            score=0.5,
        )
    return version


def _body(version) -> dict:
    return {
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "accepted",
        "recommended_run_number": 380050,
        "model_version_id": version.pk,
    }


@pytest.mark.django_db
def test_the_same_decision_twice_over_the_api_is_one_row(shifter_sam):
    version = _shown()
    client = APIClient()
    client.force_authenticate(shifter_sam)

    first = client.post(reverse("api:feedback"), _body(version))
    second = client.post(reverse("api:feedback"), _body(version))

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Feedback.objects.count() == 1
    assert ReferencePair.objects.filter(source=LabelSource.SHIFTER).count() == 1


@pytest.mark.django_db
def test_the_same_form_posted_twice_is_one_row(client, shifter_sam):
    version = _shown()
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    form = {"decision": "accepted", "recommended_run_number": 380050, "model_version_id": version.pk}

    answers = [client.post(url, form).status_code for _ in range(2)]

    assert answers == [302, 302]
    assert Feedback.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_racing_first_decisions_on_postgresql_never_answer_5xx(settings):
    if connection.vendor != "postgresql":
        pytest.skip("the race of two first decisions needs PostgreSQL (DATABASE_URL)")
    settings.FEEDBACK_WRITE_RATE = "1000/hour"
    version = _shown()
    users = [UserFactory(username=f"racer{n}", groups=["shifters"]) for n in range(4)]
    body = _body(version)
    answers: list[int] = []
    barrier = threading.Barrier(8)

    def submit(user) -> None:
        client = APIClient(raise_request_exception=False)
        client.force_authenticate(user)
        barrier.wait()
        try:
            answers.append(client.post(reverse("api:feedback"), body, format="json").status_code)
        finally:
            connection.close()

    # Each user twice at once (a double click), four users at once (one shift, one run).
    threads = [threading.Thread(target=submit, args=(user,)) for user in users for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 8 and all(code < 500 for code in answers), answers
    assert answers.count(201) == 1
    assert Feedback.objects.filter(is_current=True).count() == 1
    assert ReferencePair.objects.filter(source=LabelSource.SHIFTER).count() == 1
