"""The run page says which run has no lumisection to draw, and for a cosmics run shows
the tracker's HV and the duration instead of flat luminosity and pileup curves."""

import pytest
from django.urls import reverse

from ingestion.models import RunClass
from tests.factories import LumisectionFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

ALL_ON = {name: True for name in ("bpix_ready", "fpix_ready", "tibtid_ready", "tob_ready", "tecp_ready", "tecm_ready")}


def _page(client, user, run_number):
    client.force_login(user)
    response = client.get(reverse("recommender:run_detail", args=[run_number, "express"]))
    assert response.status_code == 200
    return response.content.decode()


def _history(run_class, dataset):
    """383800 was the express reference of 383850; 383901 awaits its decision."""
    reference = RunFactory(run_number=383800, run_class=run_class, duration=2700)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=383850, run_class=run_class), reconstruction="express", dataset=dataset
        ),
        reference=RunReconstructionFactory(run=reference, reconstruction="express", dataset=dataset),
    )
    target = RunFactory(run_number=383901, run_class=run_class, duration=28105)
    RunReconstructionFactory(run=target, reconstruction="express", dataset=dataset)
    return target, reference


def test_it_names_the_run_without_lumisections_and_draws_no_curve_for_it(client, shifter_sam):
    _, reference = _history(RunClass.COLLISIONS_PP, "/Express/Collisions2024/DQM")
    for number in (1, 2, 3):
        LumisectionFactory(run=reference, number=number, init_lumi=1.0 + number)

    body = _page(client, shifter_sam, 383901)

    assert "Run 383901 has no per-lumisection data in the mirror." in body
    assert "<svg" not in body.split('class="charts"')[1].split("</div>")[0]
    assert "run 383901" not in body  # no legend for a curve that is not there


def test_a_cosmics_run_shows_its_tracker_hv_instead_of_flat_zero_curves(client, shifter_sam):
    target, reference = _history(RunClass.COSMICS, "/Express/Cosmics2024/DQM")
    for number in range(1, 11):
        flags = ALL_ON if number > 1 else ALL_ON | {"tob_ready": False}
        LumisectionFactory(run=target, number=number, init_lumi=0.0, pileup=0.0, **flags)
        LumisectionFactory(run=reference, number=number, init_lumi=0.0, pileup=0.0, **ALL_ON)

    body = _page(client, shifter_sam, 383901)

    assert "Run 383901 had no beam (cosmics): its luminosity and pileup are not drawn." in body
    assert "Instantaneous luminosity per lumisection" not in body
    assert "Pileup per lumisection" not in body
    hv = body.split('class="tracker-hv"')[1].split("</table>")[0]
    assert '<th scope="row">run 383901</th><td>10</td><td>90%</td><td>100%</td><td>7 h 48 min</td>' in hv
    assert '<th scope="row">reference 383800</th><td>10</td><td>100%</td><td>100%</td><td>45 min</td>' in hv


def test_a_collisions_run_with_data_has_no_note_and_no_hv_table(client, shifter_sam):
    target, reference = _history(RunClass.COLLISIONS_PP, "/Express/Collisions2024/DQM")
    for number in (1, 2, 3):
        LumisectionFactory(run=target, number=number, init_lumi=1.0 + number)
        LumisectionFactory(run=reference, number=number, init_lumi=1.5 + number)

    body = _page(client, shifter_sam, 383901)

    assert "lumisection-note" not in body
    assert "tracker-hv" not in body
    assert body.count("<svg") == 2
