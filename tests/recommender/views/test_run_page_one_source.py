"""The run page's OMS summary and its side-by-side table show one value per run, from
one source: the run's own, or its fill's, said to be the fill's."""

import re

import pytest
from django.urls import reverse

from tests.factories import FillFactory, ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db


def _history(run_class="collisions_pp", reference=None, dataset="/Express/Collisions2024/DQM", **target):
    reference = reference or RunFactory(run_number=381000, run_class=run_class)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=381010, run_class=run_class), reconstruction="express", dataset=dataset
        ),
        reference=RunReconstructionFactory(run=reference, reconstruction="express", dataset=dataset),
    )
    return RunFactory(run_number=381100, run_class=run_class, **target)


def _page(client, user, run_number=381100):
    client.force_login(user)
    response = client.get(reverse("recommender:run_detail", args=[run_number, "express"]))
    assert response.status_code == 200
    return response.content.decode()


def _summary(body: str, term: str) -> str:
    return re.search(rf"<dt>{re.escape(term)}</dt><dd>(.*?)</dd>", body).group(1)


def _run_cell(body: str, label: str) -> str:
    return re.search(rf'<td>{re.escape(label)}</td><td class="num">(.*?)</td>', body).group(1)


def test_it_labels_the_fills_pileup_as_the_fills_in_the_summary_and_the_table(client, shifter_sam):
    fill = FillFactory(fill_number=9800, peak_pileup=48.59, era="2018A")
    _history(fill=fill, pileup_mean=None, era="")
    body = _page(client, shifter_sam)
    assert _summary(body, "Pileup (mean)") == "48.59 (fill&#x27;s peak pileup)"
    assert _run_cell(body, "Pileup (mean)") == _summary(body, "Pileup (mean)")
    assert _summary(body, "Era") == _run_cell(body, "Era") == "2018A (fill&#x27;s)"


def test_it_shows_the_runs_own_pileup_where_it_has_one(client, shifter_sam):
    _history(fill=FillFactory(fill_number=9801, peak_pileup=48.59), pileup_mean=31.2)
    body = _page(client, shifter_sam)
    assert _summary(body, "Pileup (mean)") == _run_cell(body, "Pileup (mean)") == "31.2"


def test_it_shows_the_b_field_known_in_one_place_in_both(client, shifter_sam):
    _history(fill=FillFactory(fill_number=9802, b_field=3.801), b_field=None)
    body = _page(client, shifter_sam)
    assert _summary(body, "B field") == _run_cell(body, "B field") == "3.801 T (fill&#x27;s)"


def test_it_shows_heavy_ion_luminosities_in_one_unit_in_both(client, shifter_sam):
    reference = RunFactory(
        run_number=381000, run_class="heavy_ion", init_lumi=1.7e-7, end_lumi=1.2e-7, recorded_lumi=2.0e-5
    )
    _history(
        run_class="heavy_ion",
        reference=reference,
        dataset="/Express/HIRun2024/DQM",
        init_lumi=1.85e-7,
        end_lumi=1.43e-7,
        recorded_lumi=2.2e-5,
    )
    body = _page(client, shifter_sam)
    assert _summary(body, "Init / end lumi") == "1.85 / 1.43 \u00d710²⁷ cm⁻² s⁻¹"
    assert _run_cell(body, "Initial inst. luminosity (10²⁷ cm⁻² s⁻¹)") == "1.85"
    assert _run_cell(body, "End inst. luminosity (10²⁷ cm⁻² s⁻¹)") == "1.43"
    assert _summary(body, "Recorded") == _run_cell(body, "Recorded luminosity") == "22 μb⁻¹"
