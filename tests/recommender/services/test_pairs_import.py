import datetime as dt

import pytest

from ingestion.models import Run, RunClass, RunClassSource
from ingestion.parsers import CerthelperPair
from recommender.models import LabelSource, ReferencePair, RunReconstruction
from recommender.services import reference_pairs_import
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2024, 3, 2, tzinfo=dt.UTC)


def pair(run, reference, *, reco="prompt", ref_reco="prompt", dataset="/PromptReco/Cosmics2024/DQM", line=2):
    return CerthelperPair(line, run, reco, reference, ref_reco, dataset)


def test_it_creates_runs_reconstructions_and_positive_pairs():
    counts = reference_pairs_import(rows=[pair(377300, 377254)], recorded_at=T0)
    assert (counts.created, counts.updated, counts.unchanged) == (1, 0, 0)
    label = ReferencePair.objects.get()
    assert (label.run_reconstruction.run.run_number, label.reference.run.run_number) == (377300, 377254)
    assert (label.source, label.is_positive, label.recorded_at) == (LabelSource.CERTHELPER, True, T0)
    assert label.run_reconstruction.dataset == "/PromptReco/Cosmics2024/DQM"
    assert label.reference.dataset == ""


def test_it_is_idempotent_and_keeps_recorded_at():
    reference_pairs_import(rows=[pair(377300, 377254)], recorded_at=T0)
    counts = reference_pairs_import(rows=[pair(377300, 377254)], recorded_at=T1)
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 1)
    assert ReferencePair.objects.get().recorded_at == T0


def test_it_updates_a_changed_reference():
    reference_pairs_import(rows=[pair(377300, 377254)], recorded_at=T0)
    counts = reference_pairs_import(rows=[pair(377300, 377260)], recorded_at=T1)
    assert (counts.created, counts.updated) == (0, 1)
    label = ReferencePair.objects.get()
    assert label.reference.run.run_number == 377260
    assert label.recorded_at == T0


def test_it_updates_a_changed_dataset():
    reference_pairs_import(rows=[pair(377300, 377254, dataset="")], recorded_at=T0)
    counts = reference_pairs_import(rows=[pair(377300, 377254)], recorded_at=T0)
    assert counts.updated == 1
    assert RunReconstruction.objects.get(run__run_number=377300).dataset == "/PromptReco/Cosmics2024/DQM"


def test_it_keeps_one_pair_per_reconstruction_of_a_run():
    rows = [pair(377300, 377254, reco="express", ref_reco="express"), pair(377300, 377254)]
    assert reference_pairs_import(rows=rows, recorded_at=T0).created == 2
    assert RunReconstruction.objects.filter(run__run_number=377254).count() == 2


def test_it_sets_a_dataset_class_only_on_runs_without_one():
    RunFactory(run_number=377254, run_class=RunClass.COLLISIONS_PP, run_class_source=RunClassSource.OMS)
    reference_pairs_import(rows=[pair(377300, 377254), pair(377254, 377254)], recorded_at=T0)
    new = Run.objects.get(run_number=377300)
    assert (new.run_class, new.run_class_source) == (RunClass.COSMICS, RunClassSource.DATASET)
    assert Run.objects.get(run_number=377254).run_class == RunClass.COLLISIONS_PP


def test_it_leaves_the_class_empty_for_a_placeholder_dataset():
    reference_pairs_import(rows=[pair(313098, 312727, dataset="")], recorded_at=T0)
    assert Run.objects.get(run_number=313098).run_class == ""


def test_it_writes_in_batches():
    rows = [pair(377300 + i, 377254, line=i + 2) for i in range(7)]
    seen = []
    counts = reference_pairs_import(rows=rows, recorded_at=T0, batch_size=3, progress=seen.append)
    assert counts.created == 7
    assert seen == [3, 3, 1]
