"""What the run page's lumisection charts say when there is nothing to draw
(recommender.pages.charts.lumisection_runs and friends, ingestion.selectors.lumisection_summaries)."""

import pytest

from ingestion.models import RunClass
from ingestion.selectors import lumisection_summaries
from recommender.pages.charts import charted_runs, lumisection_runs, tracker_hv_runs
from tests.factories import LumisectionFactory, RunFactory

ALL_ON = {name: True for name in ("bpix_ready", "fpix_ready", "tibtid_ready", "tob_ready", "tecp_ready", "tecm_ready")}


def _summary(run_number, run_class=RunClass.COLLISIONS_PP, **counts):
    row = {
        "run_number": run_number,
        "run_class": run_class,
        "duration": 28105,
        "lumisection_count": 10,
        "lumi_known": 10,
        "lumi_positive": 10,
        "strip_known": 10,
        "strip_on": 10,
        "pixel_known": 10,
        "pixel_on": 10,
    }
    return row | counts


def test_it_draws_both_runs_that_have_luminosity():
    runs = lumisection_runs(
        run_number=383901, reference_run_number=383800, summaries={n: _summary(n) for n in (383901, 383800)}
    )
    assert charted_runs(runs) == (383901, 383800)
    assert [r.note for r in runs] == ["", ""]
    assert tracker_hv_runs(runs) == []


def test_it_names_the_run_without_lumisections_and_draws_nothing_for_it():
    runs = lumisection_runs(run_number=383901, reference_run_number=383800, summaries={383800: _summary(383800)})
    assert runs[0].note == "Run 383901 has no per-lumisection data in the mirror."
    # The reference's curve alone is no comparison.
    assert charted_runs(runs) is None


def test_it_names_the_reference_without_lumisections_and_draws_the_run_alone():
    summaries = {383901: _summary(383901), 383800: _summary(383800, lumisection_count=0, lumi_known=0)}
    runs = lumisection_runs(run_number=383901, reference_run_number=383800, summaries=summaries)
    assert runs[1].note == "Run 383800 (the reference) has no per-lumisection data in the mirror."
    assert charted_runs(runs) == (383901, None)


def test_a_cosmics_run_shows_its_tracker_hv_and_duration_instead_of_flat_curves():
    summaries = {
        383901: _summary(383901, RunClass.COSMICS, lumi_positive=0, strip_on=9, pixel_known=8, pixel_on=2),
        383800: _summary(383800, RunClass.COSMICS, lumi_positive=0, duration=2700),
    }
    runs = lumisection_runs(run_number=383901, reference_run_number=383800, summaries=summaries)

    assert charted_runs(runs) is None
    assert runs[0].note == "Run 383901 had no beam (cosmics): its luminosity and pileup are not drawn."
    shown = tracker_hv_runs(runs)
    assert [(r.run_number, r.strip_hv_text(), r.pixel_hv_text(), r.duration) for r in shown] == [
        (383901, "90%", "25%", "7 h 48 min"),
        (383800, "100%", "100%", "45 min"),
    ]


def test_a_run_of_another_class_with_zero_luminosity_everywhere_had_no_beam():
    summaries = {383901: _summary(383901, RunClass.COMMISSIONING, lumi_positive=0)}
    runs = lumisection_runs(run_number=383901, reference_run_number=None, summaries=summaries)
    assert runs[0].without_beam
    assert "luminosity zero in every lumisection" in runs[0].note


def test_a_run_with_no_luminosity_at_all_is_missing_it_not_without_beam():
    summaries = {383901: _summary(383901, lumi_known=0, lumi_positive=0)}
    runs = lumisection_runs(run_number=383901, reference_run_number=None, summaries=summaries)
    assert not runs[0].without_beam
    assert runs[0].note == "Run 383901 has 10 lumisections in the mirror but no luminosity for them."
    assert tracker_hv_runs(runs) == []


def test_it_shows_nothing_of_a_cosmics_run_when_its_flags_and_duration_are_unknown_too():
    summaries = {
        383901: _summary(383901, RunClass.COSMICS, duration=None, lumisection_count=0, strip_known=0, pixel_known=0)
    }
    runs = lumisection_runs(run_number=383901, reference_run_number=None, summaries=summaries)
    assert runs[0].note == "Run 383901 has no per-lumisection data in the mirror."
    assert tracker_hv_runs(runs) == []


@pytest.mark.django_db
def test_the_summary_counts_the_lumisections_with_every_partition_on():
    run = RunFactory(run_number=383901, run_class=RunClass.COSMICS)
    LumisectionFactory(run=run, number=1, init_lumi=0.0, **ALL_ON)
    LumisectionFactory(run=run, number=2, init_lumi=0.0, **(ALL_ON | {"tob_ready": False, "fpix_ready": None}))
    LumisectionFactory(run=run, number=3, init_lumi=None)
    RunFactory(run_number=383800)

    summaries = lumisection_summaries(run_numbers=[383901, 383800, 1])

    assert set(summaries) == {383901, 383800}
    cosmics = summaries[383901]
    assert (cosmics["lumisection_count"], cosmics["lumi_known"], cosmics["lumi_positive"]) == (3, 2, 0)
    assert (cosmics["strip_known"], cosmics["strip_on"]) == (2, 1)
    assert (cosmics["pixel_known"], cosmics["pixel_on"]) == (1, 1)
    assert summaries[383800]["lumisection_count"] == 0
