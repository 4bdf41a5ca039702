"""The references page's overview (the reference each group uses now, the leaders'
declared ones, the timeline) and the declarations as the API, the serving cache and
the run page's conditions warning read them."""

import pytest

from ingestion.models import Run
from recommender.ml.declarations import Declaration
from recommender.selectors import (
    ReferenceInUse,
    TimelineSegment,
    conditions_conflicting,
    declarations_read,
    declared_references,
    references_in_use,
)
from tests.factories import DeclaredReferenceFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

DATASET = "/PromptReco/Collisions2024/DQM"
GROUP = ("collisions_pp", "prompt")


@pytest.fixture
def prompt_pp():
    """Prompt pp runs 390110 and 390111 used 390100; 390112 switched to 390101.
    Runs are made in run order, so their starts are too."""
    runs = {number: RunFactory(run_number=number) for number in (390100, 390101, 390110, 390111, 390112)}
    references = {
        number: RunReconstructionFactory(run=runs[number], reconstruction="prompt", dataset=DATASET)
        for number in (390100, 390101)
    }
    for number, reference in ((390110, 390100), (390111, 390100), (390112, 390101)):
        target = RunReconstructionFactory(run=runs[number], reconstruction="prompt", dataset=DATASET)
        ReferencePairFactory(run_reconstruction=target, reference=references[reference])
    return references


def _start(run_number: int):
    return Run.objects.get(run_number=run_number).start_time


def test_it_tells_the_reference_in_use_since_its_streak_and_the_timeline(prompt_pp):
    overview = references_in_use()

    assert overview.in_use == [
        ReferenceInUse(*GROUP, 390101, True, False, 390112, _start(390112), 1, "", None, DATASET),
    ]
    assert overview.timeline == {
        GROUP: [TimelineSegment(390100, 390110, 390111, 2), TimelineSegment(390101, 390112, 390112, 1)]
    }
    assert overview.run_range == (390110, 390112)
    assert overview.window_end == _start(390112)


def test_it_adds_the_leaders_declared_references_in_use(prompt_pp):
    current = DeclaredReferenceFactory(run_reconstruction=prompt_pp[390101], note="after the magnet ramp")
    older = DeclaredReferenceFactory(run_reconstruction=prompt_pp[390100], note="B on")
    DeclaredReferenceFactory(
        run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=390050), reconstruction="prompt"),
        until_run=390099,  # ended: no longer in use
    )

    in_use = references_in_use().in_use

    assert [(u.reference_run_number, u.is_current, u.is_declared, u.note) for u in in_use] == [
        (390101, True, True, "after the magnet ramp"),
        (390100, False, True, "B on"),
    ]
    assert [u.declaration_id for u in in_use] == [current.pk, older.pk]
    # A declared reference that is not the newest label's: in use since its first run.
    assert (in_use[1].since_run, in_use[1].since, in_use[1].runs_used) == (390101, _start(390101), 2)


def test_it_lists_the_declarations_by_class_and_use_newest_first(leader_lea):
    def declared(number, run_class, **fields):
        return DeclaredReferenceFactory(
            run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=number), reconstruction="express"),
            run_class=run_class,
            **fields,
        )

    pp_old = declared(390100, "collisions_pp", until_run=390199)
    pp_new = declared(390200, "collisions_pp", declared_by=leader_lea, note="Run2024D")
    cosmics = declared(390150, "cosmics", apv_mode="DECO")

    assert list(declared_references()) == [pp_new, cosmics, pp_old]
    assert list(declared_references(run_class="collisions_pp", in_use=True)) == [pp_new]
    assert list(declared_references(run_class="collisions_pp", in_use=False)) == [pp_old]
    read = {declaration.pk: declaration for declaration in declarations_read()}
    assert read[pp_new.pk] == Declaration(
        pk=pp_new.pk,
        reference=390200,
        reference_reconstruction="express",
        run_class="collisions_pp",
        reconstruction="express",
        from_run=390201,
        note="Run2024D",
        declared_by=leader_lea.username,
        declared_at=pp_new.created_at,
    )
    assert (read[pp_old.pk].until_run, read[pp_old.pk].declared_by) == (390199, "")
    assert read[cosmics.pk].apv_mode == "DECO"


def test_it_names_the_conditions_a_run_differs_from_its_reference_in():
    run = RunFactory(run_number=390100, b_field=3.8)
    RunFactory(run_number=390001, b_field=0.02)  # magnet off
    RunFactory(run_number=390002, b_field=3.8)

    assert conditions_conflicting(run=run, reconstruction="prompt", reference_run_number=390001) == ["B field"]
    assert conditions_conflicting(run=run, reconstruction="prompt", reference_run_number=390002) == []
    assert conditions_conflicting(run=run, reconstruction="prompt", reference_run_number=999999) == []
