"""The runs the shifters certify: each reconstruction's status as the runs page and the
API show and filter it, and the work queue's rule (recommender.queue) as the counts,
the filter and "next" read it."""

import pytest

from recommender.forms import RunFilterForm
from recommender.models import Feedback, Recommendation
from recommender.selectors import (
    STATUS_FILTERS,
    RecoRow,
    Status,
    next_awaiting_run,
    reco_rows_for,
    run_list_counts,
    runs_awaiting,
    runs_for_certification,
)
from tests.factories import ModelVersionFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

EXPRESS_DATASET = "/Express/Collisions2024/DQM"


def _awaiting(reconstruction="express") -> list[int]:
    return list(runs_awaiting(reconstruction=reconstruction).values_list("run_number", flat=True))


def _run_with_dataset(number, reconstruction="express", **run):
    return RunReconstructionFactory(
        run=RunFactory(run_number=number, **run), reconstruction=reconstruction, dataset=EXPRESS_DATASET
    )


def test_it_leaves_a_three_lumisection_test_run_out(settings):
    settings.REFRUN_QUEUE_MIN_LUMISECTIONS = 10
    _run_with_dataset(380100, last_lumisection_number=3)
    _run_with_dataset(380101, last_lumisection_number=10)
    _run_with_dataset(380102, last_lumisection_number=None)
    assert _awaiting() == [380101]
    settings.REFRUN_QUEUE_MIN_LUMISECTIONS = 2
    assert _awaiting() == [380101, 380100]


def test_it_leaves_a_run_with_a_decision_or_a_certhelper_label_out(shifter_sam):
    decided = _run_with_dataset(380100)
    labelled = _run_with_dataset(380101)
    waiting = _run_with_dataset(380102)
    Feedback.objects.create(
        run_reconstruction=decided, user=shifter_sam, decision="accepted", recommended_reference=waiting.run
    )
    ReferencePairFactory(run_reconstruction=labelled, reference=waiting)
    assert _awaiting() == [380102]
    # Decided in express only: it still awaits its prompt decision.
    RunReconstructionFactory(run=decided.run, reconstruction="prompt", dataset="/PromptReco/Collisions2024/DQM")
    assert 380100 in _awaiting("prompt")


def test_it_leaves_a_run_without_the_tracker_out():
    _run_with_dataset(380100, components=["CSC", "DAQ", "DT", "ECAL", "HCAL", "TRG"])
    _run_with_dataset(380101, components=[])  # OMS gave none: not known to be in
    _run_with_dataset(380102, components=["DAQ", "PIXEL", "TRG"])  # strips out, pixels in
    assert _awaiting() == [380102]


def test_it_takes_a_new_run_without_a_dataset_yet_but_not_one_the_datasets_passed_over():
    _run_with_dataset(380100)
    RunFactory(run_number=380050)  # older than the newest known dataset, none of its own: never opened
    RunFactory(run_number=380200)  # newer: its dataset is not known yet
    RunFactory(run_number=380210, run_class="special")  # special runs only once a dataset is named
    RunFactory(run_number=380220, run_class="")  # class unknown
    RunReconstructionFactory(run=RunFactory(run_number=380060), reconstruction="express", dataset="To Be Defined")
    assert _awaiting() == [380200, 380100]


def test_its_counts_are_the_filters_lengths(shifter_sam):
    _run_with_dataset(380100)
    _run_with_dataset(380101, last_lumisection_number=3)
    prompt = _run_with_dataset(380102, reconstruction="prompt")
    RunReconstructionFactory(run=prompt.run, reconstruction="express", dataset=EXPRESS_DATASET)
    Feedback.objects.create(
        run_reconstruction=RunReconstructionFactory(run=prompt.run, reconstruction="express"),
        user=shifter_sam,
        decision="accepted",
        recommended_reference=RunFactory(run_number=380001),
    )
    counts = run_list_counts()
    assert counts.awaiting == {"express": len(_awaiting("express")), "prompt": len(_awaiting("prompt"))}
    assert counts.awaiting == {"express": 1, "prompt": 1}
    assert counts.queue == len(_awaiting("")) == 2


def test_it_goes_on_to_the_newest_run_of_the_queue():
    for number in (380100, 380110, 380120):
        _run_with_dataset(number)
    # After 380110, the newest one left (380120) comes before the older 380100.
    assert next_awaiting_run(reconstruction="express", after_run_number=380110) == 380120
    RunFactory(run_number=380130)  # synced meanwhile
    assert next_awaiting_run(reconstruction="express", after_run_number=380120) == 380130
    # No prompt dataset is known yet: every run awaits prompt, the newest first.
    assert next_awaiting_run(reconstruction="prompt", after_run_number=380130) == 380120


def test_its_statuses_are_the_query_parameters_and_not_queued_is_no_filter():
    assert [Status.AWAITING, Status.ACCEPTED, Status.REJECTED, Status.CERTIFIED, Status.NOT_QUEUED] == [
        "awaiting",
        "accepted",
        "rejected",
        "certified",
        "not-queued",
    ]
    assert str(Status.NOT_QUEUED) == "not-queued"  # as the runs page's CSS class and the API show it
    assert [value for value, _ in STATUS_FILTERS] == ["awaiting", "accepted", "rejected", "certified"]
    assert RunFilterForm(data={"status": "certified"}).is_valid()
    assert not RunFilterForm(data={"status": "not-queued"}).is_valid()


def test_it_tells_each_reconstructions_status_label_decision_and_first_choice(settings, shifter_sam):
    settings.REFRUN_QUEUE_MIN_LUMISECTIONS = 10
    reference = RunReconstructionFactory(run=RunFactory(run_number=380001), reconstruction="prompt")
    decided = _run_with_dataset(380100)
    short = _run_with_dataset(380101, last_lumisection_number=3)  # a test run
    waiting = _run_with_dataset(380102)
    Feedback.objects.create(
        run_reconstruction=decided, user=shifter_sam, decision="accepted", recommended_reference=reference.run
    )
    certified = RunReconstructionFactory(run=decided.run, reconstruction="prompt")
    ReferencePairFactory(run_reconstruction=certified, reference=reference)
    RunReconstructionFactory(run=decided.run, reconstruction="rereco")
    for version, score in ((ModelVersionFactory(status="retired"), 0.99), (ModelVersionFactory(status="active"), 0.42)):
        Recommendation.objects.create(
            run_reconstruction=waiting, reference=reference.run, model_version=version, rank=1, score=score
        )

    rows = reco_rows_for([decided.run_id, short.run_id, waiting.run_id])

    assert rows[decided.run_id] == [
        RecoRow("express", "accepted", None, None, None, "sam"),
        RecoRow("prompt", "certified", 380001, None, None, ""),
        RecoRow("rereco", "awaiting", None, None, None, ""),
    ]
    assert [row.status for row in rows[short.run_id]] == [Status.NOT_QUEUED, Status.NOT_QUEUED]
    # Only the active model's first choice, with its score.
    assert rows[waiting.run_id][0] == RecoRow("express", "awaiting", None, 380001, 0.42, "")
    assert reco_rows_for([]) == {}
    assert list(runs_for_certification(status=Status.CERTIFIED).values_list("run_number", flat=True)) == [380100]
    assert list(runs_for_certification(status="accepted", reconstruction="prompt")) == []
