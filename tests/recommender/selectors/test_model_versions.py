"""The model versions as the model page and the operations metrics read them: the active
one, how often its first choice was the reference finally used, and how often shifters
accepted it."""

import datetime as dt

import pytest

from recommender.models import Feedback, Recommendation
from recommender.selectors import (
    AcceptanceRate,
    MonthlyAccuracy,
    feedback_get,
    feedback_list,
    first_choice_acceptance,
    model_accuracy_by_month,
    model_version_active,
    model_version_is_active,
)
from tests.factories import ModelVersionFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

MAY, JUNE = dt.datetime(2024, 5, 3, tzinfo=dt.UTC), dt.datetime(2024, 6, 7, tzinfo=dt.UTC)


def test_it_finds_the_active_model_version():
    candidate, active = ModelVersionFactory(status="candidate"), ModelVersionFactory(status="active")

    assert model_version_active() == active
    assert model_version_is_active(pk=active.pk) and not model_version_is_active(pk=candidate.pk)


def test_it_judges_each_runs_newest_first_choice_against_the_reference_used_by_month():
    older, newer = ModelVersionFactory(status="retired"), ModelVersionFactory(status="active")
    used, other = (
        RunReconstructionFactory(run=RunFactory(run_number=n), reconstruction="express") for n in (390010, 390011)
    )

    def run(number, start, first_choices, reference=None):
        """A run whose stored first choices (oldest first) are `first_choices`, labelled with `reference`."""
        target = RunReconstructionFactory(run=RunFactory(run_number=number, start_time=start), reconstruction="express")
        for hours, (version, choice) in enumerate(first_choices):
            stored = Recommendation.objects.create(
                run_reconstruction=target, reference=choice.run, model_version=version, rank=1, score=0.5
            )
            Recommendation.objects.filter(pk=stored.pk).update(created_at=start + dt.timedelta(hours=hours))
        if reference is not None:
            ReferencePairFactory(run_reconstruction=target, reference=reference)

    run(390100, MAY, [(newer, used)], reference=used)  # right
    run(390101, MAY, [(older, used), (newer, other)], reference=used)  # the newest choice was wrong
    run(390102, JUNE, [(newer, used)], reference=used)  # right
    run(390103, JUNE, [(newer, other)])  # no reference recorded yet: not judged

    assert model_accuracy_by_month() == [MonthlyAccuracy("2024-05", 2, 0.5), MonthlyAccuracy("2024-06", 1, 1.0)]
    assert model_accuracy_by_month(months=1) == [MonthlyAccuracy("2024-06", 1, 1.0)]


def test_it_counts_the_current_decisions_and_the_accepted_ones(shifter_sam):
    version, other = ModelVersionFactory(status="active"), ModelVersionFactory(status="retired")
    reference = RunFactory(run_number=390001)

    def decision(number, decided, model_version, is_current=True):
        Feedback.objects.create(
            run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=number), reconstruction="express"),
            user=shifter_sam,
            decision=decided,
            recommended_reference=reference,
            model_version=model_version,
            is_current=is_current,
        )

    decision(390100, "accepted", version)
    decision(390101, "rejected", version)
    decision(390102, "accepted", version, is_current=False)  # replaced by a later decision
    decision(390103, "accepted", other)

    assert first_choice_acceptance(model_version=version) == AcceptanceRate(decisions=2, accepted=1)
    assert first_choice_acceptance(model_version=version).rate == 0.5
    assert first_choice_acceptance() == AcceptanceRate(decisions=3, accepted=2)
    assert first_choice_acceptance(model_version=ModelVersionFactory()).rate is None


def test_it_lists_every_decision_newest_first(shifter_sam):
    reference = RunFactory(run_number=390001)
    first, second = (
        Feedback.objects.create(
            run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=n), reconstruction="prompt"),
            user=shifter_sam,
            decision="accepted",
            recommended_reference=reference,
        )
        for n in (390100, 390101)
    )
    Feedback.objects.filter(pk=first.pk).update(created_at=MAY)
    Feedback.objects.filter(pk=second.pk).update(created_at=JUNE)

    assert list(feedback_list()) == [second, first]
    assert feedback_get(pk=first.pk) == first and feedback_get(pk=second.pk + 1) is None
