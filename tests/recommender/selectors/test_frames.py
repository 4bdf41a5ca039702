"""The frames the model is trained and served on, read from the database, and the label
table's fingerprint, by which the serving cache knows that the labels it holds plus
those it has just read are the table (no label removed or changed in place)."""

import pytest

from recommender.models import ReferencePair
from recommender.selectors import labels_fingerprint, labels_frame, labels_read, run_features_frame
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db


def _label(number: int, reference, **fields) -> ReferencePair:
    target = RunReconstructionFactory(run=RunFactory(run_number=number), reconstruction="express")
    return ReferencePairFactory(run_reconstruction=target, reference=reference, **fields)


@pytest.fixture
def references():
    return [RunReconstructionFactory(run=RunFactory(run_number=n), reconstruction="express") for n in (390001, 390002)]


def test_the_fingerprint_of_the_labels_read_is_the_tables(references):
    labels = [
        _label(390100, references[0]),
        _label(390101, references[0], source="shifter"),
        _label(390102, references[1], source="shifter", is_positive=False),
    ]

    frame, fingerprint, max_id = labels_read()

    assert fingerprint == labels_fingerprint()
    assert max_id == max(label.pk for label in labels)
    assert sorted(frame["run_number"]) == [390100, 390101, 390102]
    assert frame.equals(labels_frame())


def test_a_read_after_an_id_adds_up_to_the_whole_table(references):
    _label(390100, references[0])
    _, held, max_id = labels_read()
    _label(390101, references[1], source="shifter")

    added, fingerprint, newest = labels_read(after_id=max_id)

    assert list(added["run_number"]) == [390101]
    assert tuple(a + b for a, b in zip(held, fingerprint, strict=True)) == labels_fingerprint()
    assert newest == ReferencePair.objects.get(run_reconstruction__run__run_number=390101).pk
    assert labels_read(after_id=newest)[1:] == ((0, 0, 0, 0, 0, 0), newest)


def test_the_fingerprint_changes_when_a_label_changes_in_place(references):
    first, second = _label(390100, references[0]), _label(390101, references[1])
    seen = {labels_fingerprint()}

    # Two labels swapping their references: the same rows, the same references.
    ReferencePair.objects.filter(pk=first.pk).update(reference=references[1])
    ReferencePair.objects.filter(pk=second.pk).update(reference=references[0])
    seen.add(labels_fingerprint())
    ReferencePair.objects.filter(pk=first.pk).update(is_positive=False)
    seen.add(labels_fingerprint())
    ReferencePair.objects.filter(pk=first.pk).update(source="shifter")
    seen.add(labels_fingerprint())
    ReferencePair.objects.filter(pk=second.pk).delete()
    seen.add(labels_fingerprint())

    assert len(seen) == 5


def test_it_reads_the_run_features_of_the_runs_asked_for_in_run_order():
    for number in (390102, 390100, 390101):
        RunFactory(run_number=number)

    assert list(run_features_frame(run_numbers=[390102, 390100]).index) == [390100, 390102]
    assert list(run_features_frame().index) == [390100, 390101, 390102]
