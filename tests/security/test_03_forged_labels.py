"""Finding 3: training labels could be forged. `recommended_run_number` and
`model_version_id` are hidden fields and feedback_record only checked that the runs
existed, so any shifter (or token) could write labels for any run, old ones too, as
fast as they liked. Now a decision must name what RefRun showed (those the page's
signed record of what it showed names; without one, ranks 1-5 of the stored ranking
for that run reconstruction and model version, or the ranking it recomputes when none
is stored), its alternative must be an earlier run, it is only taken while the run
reconstruction is open (SHARED_DECISIONS decision policy), and writes are throttled
per user."""

import datetime as dt

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from recommender.exceptions import InvalidFeedback
from recommender.models import Feedback, LabelSource, Recommendation, ReferencePair
from recommender.policy import decision_state
from recommender.recommending import serving_cache_clear
from recommender.services import feedback_record, run_reconstruction_reopen
from recommender.shown import shown_sign
from tests.factories import (
    ModelVersionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHOWN = [380050, 380040, 380030, 380020, 380010]


@pytest.fixture(autouse=True)
def _fresh_serving_cache():
    serving_cache_clear()
    yield
    serving_cache_clear()


@pytest.fixture
def shown():
    """Run 380100 express, for which model version `shown.version` showed SHOWN."""
    for number in (380001, 380090, 380100, 380200, *SHOWN):
        RunFactory(run_number=number)
    version = ModelVersionFactory(status="active")
    target = RunReconstructionFactory(run__run_number=380100, reconstruction="express")
    for rank, number in enumerate(SHOWN, start=1):
        Recommendation.objects.create(
            run_reconstruction=target,
            reference=RunFactory(run_number=number),
            model_version=version,
            rank=rank,
            score=0.5 / rank,
        )
    return version


def _decide(user, version, **overrides):
    arguments = {
        "user": user,
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "accepted",
        "recommended_run_number": 380050,
        "model_version_id": version.pk if version else None,
    }
    arguments.update(overrides)
    return feedback_record(**arguments)


def _nothing_written() -> bool:
    return not Feedback.objects.exists() and not ReferencePair.objects.filter(source=LabelSource.SHIFTER).exists()


@pytest.mark.parametrize("rank", [1, 5])
def test_any_of_the_five_shown_references_can_be_accepted(shifter_sam, shown, rank):
    feedback = _decide(shifter_sam, shown, recommended_run_number=SHOWN[rank - 1])

    assert feedback.is_current and feedback.recommended_reference.run_number == SHOWN[rank - 1]


def test_a_reference_that_was_never_shown_is_refused(shifter_sam, shown):
    with pytest.raises(InvalidFeedback, match="not among the references RefRun showed"):
        _decide(shifter_sam, shown, recommended_run_number=380001)
    assert _nothing_written()


def test_a_model_version_that_showed_nothing_for_this_run_is_refused(shifter_sam, shown):
    other = ModelVersionFactory(status="retired")

    with pytest.raises(InvalidFeedback, match="reload the page"):
        _decide(shifter_sam, other)
    assert _nothing_written()


def test_without_a_stored_ranking_the_recomputed_one_binds(shifter_sam):
    # No model: the persistence ranking (380050 was 380090's express reference).
    RunFactory(run_number=380100)
    RunFactory(run_number=380001)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380090, reconstruction="express"),
        reference=RunReconstructionFactory(run__run_number=380050, reconstruction="express"),
    )
    with pytest.raises(InvalidFeedback, match="not among the references RefRun showed"):
        _decide(shifter_sam, None, recommended_run_number=380001)

    assert _decide(shifter_sam, None).recommended_reference.run_number == 380050


def test_the_pages_signed_record_binds_even_after_the_ranking_changed(shifter_sam, shown):
    """A page computed before a retrain: the new model no longer ranks what it showed
    and nothing is stored for the old one, yet its record of what it showed holds."""
    Recommendation.objects.all().delete()
    token = shown_sign(run_number=380100, reconstruction="express", model_version_id=shown.pk, references=SHOWN)
    shown.status = "retired"
    shown.save()
    ModelVersionFactory(status="active")

    with pytest.raises(InvalidFeedback, match="changed since the page was shown"):
        _decide(shifter_sam, shown, recommended_run_number=SHOWN[2])
    feedback = _decide(shifter_sam, shown, recommended_run_number=SHOWN[2], shown=token)

    assert feedback.recommended_reference.run_number == SHOWN[2]


def _signed(version, references, run_number=380100, **signing_options) -> str:
    if signing_options:  # the attacker's own signature
        return signing.dumps(
            [run_number, "express", version.pk, references], salt="refrun.recommender.shown", **signing_options
        )
    return shown_sign(
        run_number=run_number, reconstruction="express", model_version_id=version.pk, references=references
    )


def _tampered(version, references: list[int]) -> str:
    """The page's record with its payload rewritten to name other references, its
    timestamp and signature kept."""
    genuine = _signed(version, SHOWN)
    edited = _signed(version, references, key="whatever")
    return ":".join([edited.split(":")[0], *genuine.split(":")[1:]])


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda version: _tampered(version, [380001]), id="payload-edited"),
        pytest.param(lambda version: _signed(version, [380001], key="a-guessed-key"), id="signed-with-another-key"),
        pytest.param(lambda version: _signed(version, [380001], run_number=380200), id="another-runs-record"),
        pytest.param(lambda version: "not-a-token", id="garbage"),
    ],
)
def test_a_forged_record_of_what_the_page_showed_is_refused(shifter_sam, shown, forge):
    """The attack: a shifter edits the hidden field `shown` to name a reference RefRun
    never showed (380001), to label any run with anything."""
    with pytest.raises(InvalidFeedback, match="record of what it showed"):
        _decide(shifter_sam, shown, recommended_run_number=380001, shown=forge(shown))
    assert _nothing_written()


def _api_decide(user, **fields):
    """POST /api/feedback/ as `user`: an accept of run 380100 express, with `fields`."""
    client = APIClient()
    client.force_authenticate(user)
    return client.post(
        reverse("api:feedback"), {"run_number": 380100, "reconstruction": "express", "decision": "accepted", **fields}
    )


def test_the_api_refuses_an_edited_record_with_a_message(shifter_sam, shown):
    forged = _api_decide(
        shifter_sam, recommended_run_number=380001, model_version_id=shown.pk, shown=_tampered(shown, [380001])
    )

    assert forged.status_code == 400 and "record of what it showed is not valid" in forged.json()["detail"]
    assert _nothing_written()


@pytest.mark.parametrize(
    ("alternative", "message"),
    [(380100, "earlier than run 380100"), (380200, "earlier than run 380100"), (999999, "not in RefRun")],
)
def test_the_alternative_must_be_an_existing_earlier_run(shifter_sam, shown, alternative, message):
    with pytest.raises(InvalidFeedback, match=message):
        _decide(shifter_sam, shown, decision="rejected", reason="wrong era", alternative_run_number=alternative)
    assert _nothing_written()


def test_a_run_certhelper_certified_is_closed(shifter_sam, shown):
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380100, reconstruction="express"),
        reference=RunReconstructionFactory(run__run_number=380040, reconstruction="express"),
    )

    with pytest.raises(InvalidFeedback, match="closed"):
        _decide(shifter_sam, shown)
    assert _nothing_written()


def test_a_second_shifter_cannot_overwrite_the_first_decision_until_a_leader_reopens(shifter_sam, leader_lea, shown):
    tom = UserFactory(username="tom", groups=["shifters"])
    first = _decide(shifter_sam, shown)

    with pytest.raises(InvalidFeedback, match="closed"):
        _decide(tom, shown, decision="rejected", reason="pileup far off")
    with pytest.raises(InvalidFeedback, match="shift leader"):
        run_reconstruction_reopen(user=tom, run_number=380100, reconstruction="express")

    run_reconstruction_reopen(user=leader_lea, run_number=380100, reconstruction="express")
    first.run_reconstruction.refresh_from_db()
    state = decision_state(run_reconstruction=first.run_reconstruction)
    assert state.is_open and state.reopened_by == leader_lea
    second = _decide(tom, shown, decision="rejected", reason="pileup far off", recommended_run_number=380040)

    first.refresh_from_db()
    assert second.is_current and not first.is_current  # the first stays as the audit trail
    labels = ReferencePair.objects.filter(source=LabelSource.SHIFTER)
    assert [(p.reference.run.run_number, p.is_positive) for p in labels] == [(380040, False)]
    assert not decision_state(run_reconstruction=second.run_reconstruction).is_open


def test_the_author_may_change_a_decision_within_the_shift_but_not_after(shifter_sam, shown, settings, monkeypatch):
    _decide(shifter_sam, shown)
    changed = _decide(shifter_sam, shown, decision="rejected", reason="wrong era")
    assert changed.is_current and Feedback.objects.filter(is_current=True).count() == 1

    later = timezone.now() + dt.timedelta(hours=settings.DECISION_CHANGE_HOURS, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(InvalidFeedback, match="closed"):
        _decide(shifter_sam, shown)


def test_the_api_refuses_a_forged_label_with_a_message(shifter_sam, shown):
    forged = _api_decide(shifter_sam, recommended_run_number=380001, model_version_id=shown.pk)

    assert forged.status_code == 400 and "not among the references" in forged.json()["detail"]
    assert _nothing_written()


def test_the_api_answers_409_on_a_closed_run(shifter_sam, shown):
    tom = UserFactory(username="tom", groups=["shifters"])
    _decide(tom, shown)

    answer = _api_decide(shifter_sam, recommended_run_number=380040, model_version_id=shown.pk)

    assert answer.status_code == 409 and "tom" in answer.json()["detail"]


def test_api_decisions_are_throttled_per_user(shifter_sam, shown, settings):
    settings.FEEDBACK_WRITE_RATE = "3/hour"
    client = APIClient()
    client.force_authenticate(shifter_sam)
    body = {
        "run_number": 380100,
        "reconstruction": "express",
        "decision": "accepted",
        "recommended_run_number": 380050,
        "model_version_id": shown.pk,
    }

    answers = [client.post(reverse("api:feedback"), body).status_code for _ in range(4)]

    assert answers[:3] == [201, 200, 200] and answers[3] == 429


def test_page_decisions_are_throttled_per_user(client, shifter_sam, shown, settings):
    settings.FEEDBACK_WRITE_RATE = "2/hour"
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    for number in SHOWN[:3]:
        response = client.post(
            url, {"decision": "accepted", "recommended_run_number": number, "model_version_id": shown.pk}
        )

    assert Feedback.objects.count() == 2
    # The page is shown again with what was typed, saying why nothing was recorded.
    assert response.status_code == 429 and "too many decisions" in response.content.decode()


def test_retraining_judges_a_new_model_on_certhelper_labels_alone(settings, tmp_path, monkeypatch):
    """Forged shifter labels on the newest runs must not decide whether a retrained
    model replaces the active one."""
    import recommender.training as training
    from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

    settings.MODEL_DIR = tmp_path / "models"
    numbers = make_runs(48)
    rows = pair_rows(numbers)
    make_labels(rows)
    for row in rows:
        if row["run_number"] in numbers[-8:]:
            ReferencePairFactory(
                run_reconstruction=RunReconstructionFactory(
                    run__run_number=row["run_number"], reconstruction=row["run_reconstruction_type"]
                ),
                reference=RunReconstructionFactory(
                    run__run_number=numbers[0], reconstruction=row["run_reconstruction_type"]
                ),
                source=LabelSource.SHIFTER,
            )
    judged = []
    real = training.prequential_records

    def spy(train_labels, test_labels, *args, **kwargs):
        judged.append(test_labels)
        return real(train_labels, test_labels, *args, **kwargs)

    monkeypatch.setattr(training, "prequential_records", spy)
    training.model_version_train()

    assert judged and not judged[0].empty
    assert set(judged[0]["source"]) == {LabelSource.CERTHELPER}
