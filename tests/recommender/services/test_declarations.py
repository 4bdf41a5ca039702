"""The shift leaders' word comes first: a declared reference is rank 1 for the runs it covers."""

import pytest

from ingestion.models import Run
from recommender import ranking_reads, services
from recommender.exceptions import InvalidDeclaration
from recommender.models import DeclaredReference, Recommendation
from recommender.recommending import declarations_stale, recommendations_for
from tests.factories import RunFactory, RunReconstructionFactory
from tests.recommender.ml.synthetic import DATASETS, runs_compared_with


def _declare(leader, reference: int, new_run: int, **conditions) -> DeclaredReference:
    return services.declared_reference_declare(
        user=leader,
        run_number=reference,
        reconstruction="express",
        run_class="collisions_pp",
        from_run=new_run,
        note="new reference from today",
        **conditions,
    )


def _first(new_run: int):
    return recommendations_for(run_number=new_run, reconstruction="express")[0]


def test_it_puts_the_declared_reference_first_with_the_leaders_reason(trained, leader_lea):
    numbers, new_run = trained
    Run.objects.filter(run_number=new_run).update(fill_type_runtime="PROTONS")
    before = _first(new_run).reference_run_number
    declared = numbers[3] if numbers[3] != before else numbers[4]
    _declare(leader_lea, declared, new_run, b_field_on=True, beam="protons")

    first = _first(new_run)
    assert first.reference_run_number == declared
    assert first.reasons[0].feature == "rule_declared"
    assert first.reasons[0].description == (
        "declared by the shift leaders for pp collisions, express, 3.8 T, protons since run "
        f"{new_run}: “new reference from today”"
    )


def test_it_stores_the_declared_reference_first_at_the_next_refresh(trained, leader_lea):
    numbers, new_run = trained
    services.recommendations_store(run_number=new_run, reconstruction="express")
    old_first = Recommendation.objects.get(
        run_reconstruction__run__run_number=new_run, run_reconstruction__reconstruction="express", rank=1
    ).reference.run_number
    declared = numbers[3] if numbers[3] != old_first else numbers[4]
    _declare(leader_lea, declared, new_run)

    # set aside at once: nobody sees the old rank 1 until the refresh stores the new one
    assert not Recommendation.objects.filter(run_reconstruction__run__run_number=new_run).exists()
    assert ranking_reads.recommendations_shown(run_number=new_run, reconstruction="express")[
        0
    ].reference_run_number == (declared)
    services.recommendations_refresh(newest_runs=5)
    stored = Recommendation.objects.get(
        run_reconstruction__run__run_number=new_run, run_reconstruction__reconstruction="express", rank=1
    )
    assert stored.reference.run_number == declared
    assert stored.reasons[0]["feature"] == "rule_declared"


def test_it_is_not_first_for_a_run_whose_condition_conflicts(trained, leader_lea):
    numbers, new_run = trained  # the new run has 3.8 T
    before = _first(new_run).reference_run_number
    declared = numbers[3] if numbers[3] != before else numbers[4]
    _declare(leader_lea, declared, new_run, b_field_on=False)
    assert _first(new_run).reference_run_number == before


def test_it_is_not_first_for_a_run_of_unknown_condition_unless_the_scope_says_any(trained, leader_lea):
    numbers, new_run = trained
    Run.objects.filter(run_number=new_run).update(apv_mode="")
    before = _first(new_run).reference_run_number
    declared = numbers[3] if numbers[3] != before else numbers[4]
    _declare(leader_lea, declared, new_run, apv_mode="DECO")
    assert _first(new_run).reference_run_number == before


def test_it_stops_being_first_once_ended(trained, leader_lea):
    numbers, new_run = trained
    before = _first(new_run).reference_run_number
    declared = numbers[3] if numbers[3] != before else numbers[4]
    declaration = _declare(leader_lea, declared, new_run)
    assert _first(new_run).reference_run_number == declared

    services.declared_reference_end(user=leader_lea, declaration_id=declaration.pk, until_run=new_run)
    assert _first(new_run).reference_run_number == declared  # the end's own run is still in it
    later = RunFactory(run_number=new_run + 1, run_class="collisions_pp")
    RunReconstructionFactory(run=later, reconstruction="express", dataset=DATASETS["express"])
    assert recommendations_for(run_number=later.run_number, reconstruction="express")[0].reference_run_number != (
        declared
    )
    declaration.refresh_from_db()
    assert declaration.until_run == new_run and declaration.ended_by == leader_lea  # kept, not deleted


def test_it_refuses_a_shifter(trained, shifter_sam):
    numbers, new_run = trained
    with pytest.raises(InvalidDeclaration, match="only a shift leader"):
        _declare(shifter_sam, numbers[3], new_run)
    assert not DeclaredReference.objects.exists()


def test_it_refuses_a_reference_taken_after_the_runs_it_is_for(trained, leader_lea):
    numbers, _ = trained
    with pytest.raises(InvalidDeclaration, match="before the runs it is for"):
        _declare(leader_lea, numbers[10], numbers[10])


def test_it_says_persistence_holds_rank_1_when_no_declaration_covers_the_run(trained):
    _, new_run = trained
    first = _first(new_run)
    assert first.reasons[0].feature == "rule_persistence"


def test_it_tells_the_leaders_a_declaration_is_stale_after_five_decisions_for_another(trained, leader_lea):
    numbers, new_run = trained
    declaration = _declare(leader_lea, numbers[2], new_run)
    used = numbers[9]
    runs_compared_with(range(new_run, new_run + 5), used)
    assert declarations_stale(in_a_row=5) == {declaration.pk: (used, 5)}
    assert declarations_stale(in_a_row=6) == {}
