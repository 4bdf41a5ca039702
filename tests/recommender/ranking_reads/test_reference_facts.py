"""The facts behind a run page's reasons, read from the labels the serving cache holds."""

import datetime as dt

import pytest

from recommender.ranking_reads import reference_facts
from recommender.recommending import serving_cache_clear
from tests.factories import DeclaredReferenceFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_serving_cache():
    serving_cache_clear()
    yield
    serving_cache_clear()


def _label(run_number, reference, *, reconstruction="express", run_class="collisions_pp", hours=0, **extra):
    run = RunFactory(run_number=run_number, run_class=run_class)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run=run, reconstruction=reconstruction),
        reference=RunReconstructionFactory(run__run_number=reference, reconstruction=reconstruction),
        recorded_at=T0 + dt.timedelta(hours=hours),
        **extra,
    )


@pytest.fixture
def history():
    """pp express used 101, then 102 from run 111; prompt used 103; cosmics used 102;
    102 itself was certified at hour 1."""
    for number in (101, 102, 103):
        RunFactory(run_number=number, run_class="collisions_pp")
    _label(102, 101, hours=1)
    _label(110, 101, hours=10)
    _label(111, 102, hours=11)
    _label(112, 102, hours=12)
    _label(113, 103, reconstruction="prompt", hours=13)
    _label(114, 102, run_class="cosmics", hours=14)
    _label(115, 101, hours=15, is_positive=False, source="shifter")  # a rejection is not a use
    _label(130, 103, hours=30)  # after the run: not seen from it
    DeclaredReferenceFactory(run_reconstruction=RunReconstructionFactory(run__run_number=102, reconstruction="express"))
    return RunFactory(run_number=120, run_class="collisions_pp")


def test_it_tells_each_references_use_by_the_runs_group_and_elsewhere(history):
    facts = reference_facts(run=history, reconstruction="express", reference_run_numbers=[102, 101, 103])

    current, before, prompt_only = facts[102], facts[101], facts[103]
    assert (current.is_group_current, current.current_since_run) == (True, 111)
    assert (current.group_runs, current.group_last_run) == (2, 112)
    assert current.first_certified_at == T0 + dt.timedelta(hours=1)
    assert current.curated_note == ""
    assert (before.is_group_current, before.current_since_run, before.group_runs, before.group_last_run) == (
        False,
        None,
        2,  # runs 102 and 110; the rejection of run 115 is not a use
        110,
    )
    assert before.first_certified_at is None and before.curated_note is None
    assert prompt_only.group_runs == 0 and prompt_only.group_last_run is None
    assert prompt_only.other_reco_first_use == {"prompt": T0 + dt.timedelta(hours=13)}


def test_a_new_label_is_in_the_facts_of_the_next_page(history):
    reference_facts(run=history, reconstruction="express", reference_run_numbers=[102])
    _label(119, 103, hours=19)

    facts = reference_facts(run=history, reconstruction="express", reference_run_numbers=[102, 103])

    assert facts[103].is_group_current and facts[103].current_since_run == 119
    assert not facts[102].is_group_current
