"""Simulated records written through the ORM."""

import pytest

from demo.simulation.generator import simulation_generate
from demo.simulation.writer import simulation_write
from ingestion.models import Fill, Lumisection, Run
from recommender.models import DeclaredReference, ReferencePair, RunReconstruction


def _snapshot():
    runs = list(
        Run.objects.order_by("run_number").values_list("run_number", "fill__fill_number", "run_class", "b_field")
    )
    pairs = list(
        ReferencePair.objects.order_by(
            "run_reconstruction__run__run_number", "run_reconstruction__reconstruction"
        ).values_list(
            "run_reconstruction__run__run_number", "run_reconstruction__reconstruction", "reference__run__run_number"
        )
    )
    ls = list(
        Lumisection.objects.order_by("run__run_number", "number").values_list(
            "run__run_number", "number", "recorded_lumi"
        )
    )
    return runs, pairs, ls


@pytest.mark.django_db
def test_it_writes_the_same_rows_for_the_same_seed():
    simulation_write(data=simulation_generate(seed=4, years=[2024], runs=600, lumisections_for_last=5))
    first = _snapshot()
    ReferencePair.objects.all().delete()  # references are protected
    Run.objects.all().delete()
    Fill.objects.all().delete()
    simulation_write(data=simulation_generate(seed=4, years=[2024], runs=600, lumisections_for_last=5))
    assert _snapshot() == first
    assert first[0] and first[1] and first[2]


@pytest.mark.django_db
def test_it_writes_every_record_with_its_links():
    data = simulation_generate(seed=8, years=[2024], runs=600, lumisections_for_last=3)
    summary = simulation_write(data=data)
    assert summary.runs == Run.objects.count() == len(data.runs)
    assert summary.labels == ReferencePair.objects.count() == len(data.labels)
    assert RunReconstruction.objects.count() == len(data.reconstructions)
    assert DeclaredReference.objects.count() == len(data.declared) > 0
    assert Lumisection.objects.count() == sum(len(b.pileup) for b in data.lumisections)
    assert not Run.objects.filter(run_class="").exists()
    assert set(Run.objects.values_list("run_class_source", flat=True)) == {"oms"}
    assert Run.objects.filter(run_class="collisions_pp", fill__isnull=False).exists()


@pytest.mark.django_db
def test_it_skips_what_exists_when_asked():
    data = simulation_generate(seed=8, years=[2024], runs=300, lumisections_for_last=2)
    simulation_write(data=data)
    again = simulation_write(data=data, skip_existing=True)
    assert (again.runs, again.labels, again.lumisections) == (0, 0, 0)
    assert again.skipped_runs == len(data.runs)
    assert Run.objects.count() == len(data.runs)


@pytest.mark.django_db
def test_it_holds_back_the_newest_runs_with_everything_that_hangs_off_them():
    from demo.simulation.writer import runs_hold_back
    from ingestion.models import Lumisection, Run
    from recommender.models import ReferencePair
    from tests.factories import LumisectionFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

    old, newer, newest = (RunFactory(run_number=n) for n in (380001, 380002, 380003))
    LumisectionFactory(run=newest, number=1)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run=old), reference=RunReconstructionFactory(run=newer)
    )

    assert runs_hold_back(count=2) == [380003, 380002]
    assert list(Run.objects.values_list("run_number", flat=True)) == [380001]
    assert not Lumisection.objects.exists() and not ReferencePair.objects.exists()


@pytest.mark.django_db
def test_it_leaves_a_few_days_of_runs_in_the_work_queue():
    """The simulated shifters have not reached the newest runs when the clock stops:
    those are the queue, tens of runs, not every run without a label."""
    import datetime as dt

    from recommender.selectors import run_list_counts, runs_awaiting

    simulation_write(data=simulation_generate(seed=1, years=[2024], lumisections_for_last=0))
    counts = run_list_counts()
    assert 10 <= counts.awaiting["prompt"] <= 300 and 1 <= counts.awaiting["express"] <= counts.awaiting["prompt"]
    end = Run.objects.order_by("-end_time").values_list("end_time", flat=True).first()
    older = runs_awaiting(reconstruction="").filter(end_time__lt=end - dt.timedelta(days=5))
    # Only the first runs of a class wait longer: they had no reference to compare with.
    assert older.count() <= 5
