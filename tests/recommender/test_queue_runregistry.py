"""The work queue where the Run Registry knows a run's dataset (recommender.queue)."""

import pytest

from ingestion.models import TrackerCertification
from recommender.models import Feedback
from recommender.selectors import run_list_counts, runs_awaiting
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

EXPRESS = "/Express/Collisions2024/DQM"


def _awaiting(reconstruction="express") -> list[int]:
    return list(runs_awaiting(reconstruction=reconstruction).values_list("run_number", flat=True))


def _certified(run, state, *, dataset=EXPRESS, reconstruction="express"):
    return TrackerCertification.objects.create(run=run, dataset=dataset, reconstruction=reconstruction, state=state)


def test_it_awaits_exactly_the_runs_whose_dataset_the_run_registry_has_open():
    opened = RunReconstructionFactory(run=RunFactory(run_number=380100), reconstruction="express", dataset=EXPRESS)
    signed = RunReconstructionFactory(run=RunFactory(run_number=380101), reconstruction="express", dataset=EXPRESS)
    done = RunReconstructionFactory(run=RunFactory(run_number=380102), reconstruction="express", dataset=EXPRESS)
    _certified(opened.run, "OPEN")
    _certified(signed.run, "SIGNOFF")
    _certified(done.run, "COMPLETED")

    assert _awaiting() == [380100]


def test_an_open_dataset_overrides_the_fallback_rule_both_ways(settings):
    settings.REFRUN_QUEUE_MIN_LUMISECTIONS = 10
    # The fallback would leave these out (3 lumisections; no tracker listed by OMS) ...
    short = RunFactory(run_number=380100, last_lumisection_number=3)
    no_components = RunFactory(run_number=380101, components=[])
    # ... and take this one (tracker in, long, newest run): the Run Registry says completed.
    completed = RunFactory(run_number=380200)
    _certified(short, "OPEN")
    _certified(no_components, "OPEN")
    _certified(completed, "COMPLETED")

    assert _awaiting() == [380101, 380100]


def test_it_keeps_the_fallback_rule_for_runs_the_run_registry_does_not_know():
    RunReconstructionFactory(run=RunFactory(run_number=380100), reconstruction="express", dataset=EXPRESS)
    known = RunFactory(run_number=380150)
    _certified(known, "COMPLETED")
    RunFactory(run_number=380200)  # newer than the newest known dataset: the fallback takes it

    assert _awaiting() == [380200, 380100]


def test_it_reads_the_state_of_the_reconstruction_asked_for():
    run = RunFactory(run_number=380100)
    _certified(run, "COMPLETED")
    _certified(run, "OPEN", dataset="/PromptReco/Collisions2024G/DQM", reconstruction="prompt")

    assert _awaiting("express") == []
    assert _awaiting("prompt") == [380100]


def test_an_open_dataset_with_a_decision_or_a_certhelper_label_is_not_awaiting(shifter_sam):
    decided = RunReconstructionFactory(run=RunFactory(run_number=380100), reconstruction="express", dataset=EXPRESS)
    labelled = RunReconstructionFactory(run=RunFactory(run_number=380101), reconstruction="express", dataset=EXPRESS)
    waiting = RunReconstructionFactory(run=RunFactory(run_number=380102), reconstruction="express", dataset=EXPRESS)
    for rr in (decided, labelled, waiting):
        _certified(rr.run, "OPEN")
    Feedback.objects.create(
        run_reconstruction=decided, user=shifter_sam, decision="accepted", recommended_reference=waiting.run
    )
    ReferencePairFactory(run_reconstruction=labelled, reference=waiting)

    assert _awaiting() == [380102]


def test_a_dataset_without_a_state_does_not_count_as_known():
    run = RunFactory(run_number=380100)
    RunReconstructionFactory(run=run, reconstruction="express", dataset=EXPRESS)
    _certified(run, "")

    assert _awaiting() == [380100]  # the fallback rule: tracker in, long enough, a dataset


def test_a_run_the_run_registry_marks_not_significant_never_awaits():
    # Open in the Run Registry, but not significant: not certified offline.
    opened = RunFactory(run_number=380100, significant=False)
    _certified(opened, "OPEN")
    # Unknown to the Run Registry; the fallback rule would take it (newest, tracker in, long).
    RunFactory(run_number=380300, significant=False)
    significant = RunFactory(run_number=380101, significant=True)
    _certified(significant, "OPEN")
    unknown = RunFactory(run_number=380102, significant=None)
    _certified(unknown, "OPEN")
    RunFactory(run_number=380200, significant=None)  # the fallback rule takes it

    assert _awaiting() == [380200, 380102, 380101]


def test_a_run_registry_sign_off_leaves_the_queue_and_its_counts_at_once():
    # The queue is cached (selectors.work_queue); the Run Registry's states are part of its key.
    run = RunReconstructionFactory(run=RunFactory(run_number=380100), reconstruction="express", dataset=EXPRESS).run
    certification = _certified(run, "OPEN")
    assert run_list_counts().awaiting["express"] == 1

    certification.state = "SIGNOFF"
    certification.save()

    assert _awaiting() == []
    assert run_list_counts().awaiting["express"] == 0


def test_the_cached_queue_lists_what_its_rule_selects(monkeypatch, settings):
    settings.REFRUN_QUEUE_MIN_LUMISECTIONS = 10
    RunReconstructionFactory(run=RunFactory(run_number=380100), reconstruction="express", dataset=EXPRESS)
    _certified(RunFactory(run_number=380101), "OPEN")
    _certified(
        RunFactory(run_number=380102), "SIGNOFF", dataset="/PromptReco/Collisions2024G/DQM", reconstruction="prompt"
    )
    RunFactory(run_number=380103, last_lumisection_number=3)
    RunFactory(run_number=380104)
    from_members = {reco: _awaiting(reco) for reco in ("express", "prompt", "")}

    # Above the limit the rule itself filters: the same runs, in the same order.
    monkeypatch.setattr("recommender.selectors.runs.QUEUE_IDS_IN_QUERY_MAX", 0)
    assert {reco: _awaiting(reco) for reco in ("express", "prompt", "")} == from_members
    # 380102: its prompt dataset signed off; its express one unknown to the Run Registry,
    # and newer than any express dataset, so the fallback rule takes it.
    assert from_members == {
        "express": [380104, 380102, 380101, 380100],
        "prompt": [380104, 380101, 380100],
        "": [380104, 380102, 380101, 380100],
    }
