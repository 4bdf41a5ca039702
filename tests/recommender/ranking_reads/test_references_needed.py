"""Runs in the work queue that need a reference: a simulated change of B field and of APV mode."""

import pytest
from django.urls import reverse

from ingestion.models import Run, TrackerCertification
from recommender import ranking_reads, services
from recommender.recommending import serving_cache_clear
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

COSMICS_EXPRESS = "/Express/Cosmics2024/DQM"


@pytest.fixture
def cosmics():
    """Cosmics runs 377000-377010 in DECO at 3.8 T, each compared with 377000."""
    serving_cache_clear()
    for number in range(377000, 377011):
        RunFactory(run_number=number, run_class="cosmics", apv_mode="DECO", l1_hlt_mode="cosmics2024", energy=0.0)
    for number in range(377001, 377011):
        ReferencePairFactory(
            run_reconstruction=RunReconstructionFactory(
                run__run_number=number, reconstruction="express", dataset=COSMICS_EXPRESS
            ),
            reference=RunReconstructionFactory(run__run_number=377000, reconstruction="express"),
        )
    yield
    serving_cache_clear()


def _new_run(number: int, **conditions) -> None:
    RunFactory(run_number=number, run_class="cosmics", l1_hlt_mode="cosmics2024", energy=0.0, **conditions)
    RunReconstructionFactory(run__run_number=number, reconstruction="express", dataset=COSMICS_EXPRESS)


def test_it_flags_a_new_apv_mode(cosmics):
    _new_run(377011, apv_mode="PEAK")
    _new_run(377012, apv_mode="PEAK")
    (group,) = ranking_reads.references_needed()
    assert (group.run_class, group.reconstruction, group.reference_in_use) == ("cosmics", "express", 377000)
    assert group.new == "APV mode PEAK"
    assert (group.since_run, group.runs_waiting) == (377011, 2)


def test_it_flags_a_new_b_field_state_and_not_a_run_like_the_reference(cosmics):
    _new_run(377011, apv_mode="DECO")  # same conditions: nothing to flag
    _new_run(377012, apv_mode="DECO", b_field=0.02)
    (group,) = ranking_reads.references_needed()
    assert group.new == "B field 0 T" and group.since_run == 377012 and group.runs_waiting == 1


def test_it_stops_flagging_once_a_leader_declares_for_the_new_conditions(cosmics, leader_lea):
    _new_run(377011, apv_mode="PEAK")
    assert ranking_reads.references_needed()
    services.declared_reference_declare(
        user=leader_lea,
        run_number=377005,
        reconstruction="express",
        run_class="cosmics",
        from_run=377011,
        apv_mode="PEAK",
    )
    Run.objects.filter(run_number=377005).update(apv_mode="PEAK")  # the declared run was taken in PEAK
    assert ranking_reads.references_needed() == []


def test_a_run_registry_sign_off_takes_the_runs_out_of_the_overview_at_once(cosmics):
    _new_run(377011, apv_mode="PEAK")
    assert ranking_reads.references_needed()

    TrackerCertification.objects.create(
        run=Run.objects.get(run_number=377011), dataset=COSMICS_EXPRESS, reconstruction="express", state="SIGNOFF"
    )

    assert ranking_reads.references_needed() == []


def test_it_shows_the_flag_on_the_runs_page_and_the_references_page(client, cosmics, leader_lea):
    _new_run(377011, apv_mode="PEAK")
    client.force_login(leader_lea)
    runs_page = client.get(reverse("recommender:run_list")).content.decode()
    assert "Runs that need a reference" in runs_page and "APV mode PEAK, since run 377011 (1 waiting)" in runs_page
    references_page = client.get(reverse("recommender:reference_list")).content.decode()
    section = references_page.split('id="needs-reference"')[1].split("</section>")[0]
    assert "APV mode PEAK" in section and ">377000<" in section


def test_the_proposals_are_references_taken_under_the_new_conditions(cosmics):
    RunFactory(run_number=376990, run_class="cosmics", apv_mode="PEAK", l1_hlt_mode="cosmics2024", energy=0.0)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run__run_number=376995, run__run_class="cosmics", reconstruction="express", dataset=COSMICS_EXPRESS
        ),
        reference=RunReconstructionFactory(run__run_number=376990, reconstruction="express"),
    )
    _new_run(377011, apv_mode="PEAK")

    ((group, proposals),) = ranking_reads.references_needed_proposed()

    assert group == ranking_reads.references_needed()[0]
    assert proposals == [376990]  # 377000, the reference in use, was taken in DECO
