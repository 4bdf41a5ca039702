"""The run page's data, built without a request (recommender.pages.run_page)."""

import pytest

from recommender import services
from recommender.pages import display
from recommender.pages.run_page import run_page_build
from recommender.shown import shown_references
from tests.factories import LumisectionFactory, RunFactory, ranking_shown

pytestmark = pytest.mark.django_db


def test_it_puts_the_declared_reference_first_and_says_so(trained, leader_lea, shifter_sam):
    numbers, new_run = trained
    declared = services.declared_reference_declare(
        user=leader_lea, run_number=numbers[2], reconstruction="express", run_class="collisions_pp", from_run=new_run
    )

    page = run_page_build(run_number=new_run, reconstruction="express", user=shifter_sam)

    assert page.top.reference_run_number == numbers[2]
    assert page.declared.pk == declared.pk
    assert page.confidence.word == "declared"
    said = page.rows[0].sentences[0]
    assert said.rule and said.text.startswith("declared by the shift leaders"), said
    # A shifter is not offered the declaration form nor told whether it looks stale.
    assert page.is_leader is False and page.declaration_form is None and page.declared_stale is None
    as_leader = run_page_build(run_number=new_run, reconstruction="express", user=leader_lea)
    assert as_leader.is_leader is True and as_leader.declaration_form is not None


def test_it_shows_the_stored_ranking_and_signs_what_it_showed(shifter_sam):
    version = ranking_shown(run_number=377100, reconstruction="express", references=[376959, 376800, 376700])
    for number in (1, 2, 3):
        LumisectionFactory(run=RunFactory(run_number=377100), number=number, init_lumi=1.0, pileup=50.0)
        LumisectionFactory(run=RunFactory(run_number=376959), number=number, init_lumi=1.1, pileup=52.0)

    page = run_page_build(run_number=377100, reconstruction="express", user=shifter_sam)

    assert [r.reference_run_number for r in page.recommendations] == [376959, 376800, 376700]
    assert [row.result.reference_run_number for row in page.rows] == [376959, 376800, 376700]
    assert page.top.model_version_id == version.pk
    signed = shown_references(page.shown, run_number=377100, reconstruction="express", model_version_id=version.pk)
    assert signed == [376959, 376800, 376700]
    assert page.feedback_initial() == {
        "recommended_run_number": 376959,
        "model_version_id": version.pk,
        "shown": page.shown,
    }
    assert page.may_decide is True and page.error == ""
    assert [chart.title.split(" per ")[0] for chart in page.charts] == ["Instantaneous luminosity", "Pileup"]
    assert all("reference 376959" in chart.svg for chart in page.charts)
    # The summary and the side-by-side table show the same texts for the run.
    assert len(page.side_by_side) == len(display.SHOWN)
    assert page.side_by_side[0] == ("Duration", page.values["duration"], page.values["duration"])
    assert "cms_run=377100" in page.run_oms_url


def test_it_is_none_for_a_run_refrun_has_no_oms_data_for(shifter_sam):
    assert run_page_build(run_number=99, reconstruction="express", user=shifter_sam) is None


def test_it_draws_no_chart_for_a_run_without_lumisections(shifter_sam):
    RunFactory(run_number=380500, run_class="")

    page = run_page_build(run_number=380500, reconstruction="prompt", user=shifter_sam)

    assert page.run.run_number == 380500
    assert page.charts == []
    assert page.recommendations == [] and page.top is None and page.shown == "" and page.side_by_side == []
    assert page.feedback_initial() == {"recommended_run_number": None, "model_version_id": None, "shown": ""}
