import pytest

from recommender.exceptions import DecisionClosed, InvalidFeedback
from recommender.models import Decision, Feedback, LabelSource, Recommendation, ReferencePair
from recommender.services import feedback_record
from tests.factories import ModelVersionFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs():
    """Run 380100 express, for which the active model showed 380050 then 380060."""
    runs = {n: RunFactory(run_number=n) for n in (380100, 380050, 380060)}
    version = ModelVersionFactory(status="active")
    target = RunReconstructionFactory(run=runs[380100], reconstruction="express")
    for rank, number in enumerate((380050, 380060), start=1):
        Recommendation.objects.create(
            run_reconstruction=target, reference=runs[number], model_version=version, rank=rank, score=0.5
        )
    runs["version"] = version
    return runs


def _decide(user, **overrides):
    arguments = {
        "user": user,
        "run_number": 380100,
        "reconstruction": "express",
        "decision": Decision.ACCEPTED,
        "recommended_run_number": 380050,
        "model_version_id": Recommendation.objects.values_list("model_version_id", flat=True).first(),
    }
    arguments.update(overrides)
    return feedback_record(**arguments)


def test_it_writes_an_accepted_reference_as_a_shifter_label_with_the_model_version(shifter_sam, runs):
    version = runs["version"]
    feedback = _decide(shifter_sam)

    label = ReferencePair.objects.get(source=LabelSource.SHIFTER)
    assert label.is_positive and label.reference.run.run_number == 380050
    assert label.run_reconstruction.reconstruction == "express" and label.reference.reconstruction == "express"
    assert label.recorded_by == shifter_sam and label.model_version == version and label.feedback == feedback


def test_it_writes_a_rejection_as_a_negative_and_the_alternative_as_positive(shifter_sam, runs):
    _decide(shifter_sam, decision=Decision.REJECTED, reason="APV mode differs", alternative_run_number=380060)

    labels = {(p.reference.run.run_number, p.is_positive) for p in ReferencePair.objects.filter(source="shifter")}
    assert labels == {(380050, False), (380060, True)}


def test_it_replaces_a_users_earlier_decision_and_keeps_both_in_the_audit_trail(shifter_sam, runs):
    _decide(shifter_sam)
    _decide(shifter_sam, decision=Decision.REJECTED, reason="wrong era", alternative_run_number=380060)

    assert Feedback.objects.filter(user=shifter_sam).count() == 2
    assert Feedback.objects.get(user=shifter_sam, is_current=True).decision == Decision.REJECTED
    positives = ReferencePair.objects.filter(source="shifter", is_positive=True)
    assert [p.reference.run.run_number for p in positives] == [380060]


def test_it_keeps_another_shifters_decision(shifter_sam, leader_lea, runs):
    # The decision policy: decided is closed for others until a shift leader reopens it.
    _decide(shifter_sam)
    with pytest.raises(DecisionClosed, match="sam accepted it on"):
        _decide(leader_lea, decision=Decision.REJECTED, reason="too short", alternative_run_number=380060)

    assert Feedback.objects.get(is_current=True).user == shifter_sam
    assert ReferencePair.objects.filter(source="shifter").count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"decision": Decision.REJECTED, "reason": "  "}, "needs a reason"),
        ({"alternative_run_number": 380060}, "goes with a rejection"),
        ({"decision": Decision.REJECTED, "reason": "x", "alternative_run_number": 380050}, "recommended run itself"),
        ({"alternative_run_number": 999999, "decision": Decision.REJECTED, "reason": "x"}, "999999 is not in RefRun"),
        ({"run_number": 123}, "run 123 is not in RefRun"),
        ({"reconstruction": "online2"}, "unknown reconstruction"),
        ({"decision": Decision.REJECTED, "reason": "x", "alternative_run_number": 380100}, "earlier than run"),
        ({"recommended_run_number": 380100}, "not among the references RefRun showed"),
    ],
)
def test_it_refuses_bad_feedback_and_writes_nothing(shifter_sam, runs, overrides, message):
    with pytest.raises(InvalidFeedback, match=message):
        _decide(shifter_sam, **overrides)
    assert not Feedback.objects.exists() and not ReferencePair.objects.exists()
