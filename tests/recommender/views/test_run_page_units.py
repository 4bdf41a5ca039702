"""Numbers on the run page as a shifter reads them, and the model page in plain words."""

import pytest
from django.urls import reverse

from tests.factories import (
    FillFactory,
    LumisectionFactory,
    ModelVersionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
)

pytestmark = pytest.mark.django_db


def _history(run_class="collisions_pp", **target):
    reference = RunFactory(run_number=381000, run_class=run_class)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=381010, run_class=run_class), reconstruction="express"
        ),
        reference=RunReconstructionFactory(run=reference, reconstruction="express"),
    )
    return RunFactory(run_number=381100, run_class=run_class, **target)


def _page(client, user, run_number=381100):
    client.force_login(user)
    response = client.get(reverse("recommender:run_detail", args=[run_number, "express"]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_says_the_conditions_are_unknown_for_a_run_without_oms_data(client, shifter_sam):
    _history(start_time=None, duration=None, b_field=None, fill=None, energy=None, init_lumi=None, end_lumi=None)
    body = _page(client, shifter_sam)
    assert "its conditions (B field, APV mode, beams, era) are unknown" in body
    assert "Confidence in the first choice: <strong>unknown</strong>" in body
    assert "Check with the shift leader" in body
    assert '<span title="conditions unknown">?</span>' in body


def test_it_shows_heavy_ion_luminosity_in_its_own_unit(client, shifter_sam):
    _history(run_class="heavy_ion", init_lumi=3.1e-7, end_lumi=2.05e-7, recorded_lumi=2.5e-5)
    body = _page(client, shifter_sam)
    assert "3.1 / 2.05 \u00d710²⁷ cm⁻² s⁻¹" in body
    assert "25 μb⁻¹" in body
    assert "0.000" not in body


def test_it_shows_no_colliding_bunches_for_a_cosmics_run(client, shifter_sam):
    _history(
        run_class="cosmics",
        fill=FillFactory(fill_number=9700, bunches_colliding=2340),
        energy=0.0,
        init_lumi=0.0,
        end_lumi=0.0,
        recorded_lumi=0.0,
    )
    body = _page(client, shifter_sam)
    summary = body.split("<h2>Decision</h2>")[0]
    assert "colliding bunches" not in summary
    assert "<dt>Energy</dt><dd>no beam</dd>" in summary
    assert "<dt>Init / end lumi</dt><dd>none (no beam)</dd>" in summary


def test_it_shows_counts_as_whole_numbers(client, shifter_sam):
    _history(last_lumisection_number=6)
    body = _page(client, shifter_sam)
    assert '<td>Lumisections</td><td class="num">6</td>' in body
    assert "6.0" not in body


def test_it_titles_the_charts_visibly_with_their_unit_beside_the_title(client, shifter_sam):
    run = _history()
    for number in (1, 2, 3):
        LumisectionFactory(run=run, number=number, init_lumi=1.0 - 0.1 * number)
    body = _page(client, shifter_sam)
    assert "<figcaption>Instantaneous luminosity per lumisection (10³⁴ cm⁻² s⁻¹)</figcaption>" in body
    assert "<figcaption>Pileup per lumisection (interactions per crossing)</figcaption>" in body
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert "10³⁴" not in svg.split("</title>")[1]  # not over the top tick any more


def test_it_explains_the_model_without_jargon(client, leader_lea):
    metrics = {"n": 120, "top1": 0.9, "top3": 0.95, "top5": 0.975, "mrr": 0.93}
    ModelVersionFactory(
        status="active",
        evaluation={
            "new": {"all": metrics, "switch": metrics, "new": metrics},
            "persistence": {"all": metrics, "switch": metrics, "new": metrics},
            "holdout_run_min": 380000,
            "confidence_thresholds": {"high": 0.8, "medium": 0.5},
        },
    )
    client.force_login(leader_lea)
    body = client.get(reverse("recommender:model_detail")).content.decode()
    assert "First choice right" in body and "runs where the reference changed" in body
    assert "Keep the reference last used" in body and "90%" in body
    for jargon in ("MRR", "Slice", "top-1", "mrr"):
        assert jargon not in body
