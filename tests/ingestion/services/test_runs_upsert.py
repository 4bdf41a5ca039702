import pytest

from ingestion.models import Fill, Run, RunClass, RunClassSource
from ingestion.services import runs_upsert
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

FILE3 = {
    "run_number": 315190,
    "duration": 2733,
    "fill_number": 6614,
    "l1_hlt_mode": "collisions2018",
    "init_lumi": 0.36,
    "end_lumi": None,
    "instant_lumi_source_unit": "10^{34}cm^{-2}s^{-1} (inferred)",
}
FILE4 = {
    "run_number": 315190,
    "duration": 2700,
    "fill_number": 6614,
    "l1_hlt_mode": "collisions2018",
    "sequence": "GLOBAL-RUN",
    "components": ["TRACKER"],
    "init_lumi": 0.30,
    "end_lumi": 0.01,
    "instant_lumi_source_unit": "10^{34}cm^{-2}s^{-1} (inferred)",
}
MERGED = {"run_number": 315190, "duration": 2000, "pileup_mean": 29.0, "apv_mode": None, "b_field": 3.8}
DQM = {"run_number": 315190, "duration": 2500, "fill_number": 6615}  # run_duration_fill


def _state(run_number=315190):
    run = Run.objects.select_related("fill").get(run_number=run_number)
    return {
        "duration": run.duration,
        "fill": run.fill.fill_number if run.fill else None,
        "init_lumi": run.init_lumi,
        "end_lumi": run.end_lumi,
        "sequence": run.sequence,
        "components": run.components,
        "pileup_mean": run.pileup_mean,
        "b_field": run.b_field,
        "run_class": run.run_class,
        "sources": run.sources,
    }


SOURCES = [
    ("oms_runs_2018_collisions", FILE3),
    ("oms_runs_2018_apr_may_all", FILE4),
    ("run_duration_fill", DQM),
    ("runs_features_merged", MERGED),
]


def test_it_gives_the_same_run_whatever_the_source_order():
    for source, row in SOURCES:
        runs_upsert(rows=[row], source=source)
    forward = _state()
    Run.objects.all().delete()
    for source, row in reversed(SOURCES):
        runs_upsert(rows=[row], source=source)
    assert _state() == forward
    assert forward["duration"] == 2733  # file 3 > file 4 > file 12 > merged
    assert forward["fill"] == 6614
    assert forward["init_lumi"] == 0.36 and forward["end_lumi"] is None  # the group comes whole from file 3
    assert forward["components"] == ["TRACKER"]  # only file 4 has it
    assert forward["pileup_mean"] == 29.0 and forward["b_field"] == 3.8  # gaps filled by the merged table
    assert forward["sources"]["duration"] == "oms_runs_2018_collisions"
    assert forward["sources"]["run_config"] == "oms_runs_2018_apr_may_all"
    assert forward["sources"]["pileup_mean"] == "runs_features_merged"


def test_it_counts_created_updated_and_unchanged():
    assert runs_upsert(rows=[DQM], source="run_duration_fill").created == 1
    counts = runs_upsert(rows=[FILE3], source="oms_runs_2018_collisions")
    assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 0)
    counts = runs_upsert(rows=[FILE3, DQM], source="oms_runs_2018_collisions")
    assert (counts.created, counts.updated, counts.unchanged) == (
        0,
        1,
        1,
    )  # DQM row re-sent as file 3: duration changes
    counts = runs_upsert(rows=[DQM], source="run_duration_fill")
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 1)  # lower priority: no change


def test_it_creates_a_bare_fill_for_an_unknown_fill_number():
    runs_upsert(rows=[{"run_number": 377254, "fill_number": 9322}], source="oms_runs_json")
    assert Fill.objects.get(fill_number=9322).runs.get().run_number == 377254


def test_it_sets_the_run_class_from_oms_attributes_over_a_dataset_class():
    RunFactory(run_number=315190, run_class=RunClass.COSMICS, run_class_source=RunClassSource.DATASET, l1_hlt_mode="")
    runs_upsert(rows=[FILE3], source="oms_runs_2018_collisions")
    run = Run.objects.get(run_number=315190)
    assert (run.run_class, run.run_class_source) == (RunClass.COLLISIONS_PP, RunClassSource.OMS)


def test_it_leaves_the_run_class_alone_without_oms_attributes():
    RunFactory(run_number=266272, run_class=RunClass.COSMICS, run_class_source=RunClassSource.DATASET, l1_hlt_mode="")
    runs_upsert(rows=[{"run_number": 266272, "apv_mode": "DECO"}], source="apv_mode_runs")
    run = Run.objects.get(run_number=266272)
    assert (run.run_class, run.run_class_source, run.apv_mode) == (RunClass.COSMICS, RunClassSource.DATASET, "DECO")


def test_it_refuses_an_unknown_source():
    with pytest.raises(ValueError, match="unknown run source"):
        runs_upsert(rows=[DQM], source="my_spreadsheet")


def test_it_takes_a_run_only_the_cosmics_counter_lists_for_a_cosmics_run_until_oms_says_more():
    # 377417: 2024 cosmics, DECO, 3.8 T, 574 lumisections; OMS has not been synced for it yet
    counter = {
        "run_number": 377417,
        "duration": 13362,
        "b_field": 3.8,
        "apv_mode": "DECO",
        "last_lumisection_number": 574,
    }
    runs_upsert(rows=[counter], source="cosmics_counter")
    run = Run.objects.get(run_number=377417)
    assert (run.run_class, run.run_class_source) == (RunClass.COSMICS, RunClassSource.COSMICS_COUNTER)
    runs_upsert(rows=[{"run_number": 377417, "l1_hlt_mode": "commissioning2024"}], source="oms_api")
    run.refresh_from_db()
    assert (run.run_class, run.run_class_source) == (RunClass.COMMISSIONING, RunClassSource.OMS)


def test_it_leaves_a_run_only_an_apv_list_names_without_a_class():
    runs_upsert(rows=[{"run_number": 300100, "apv_mode": "DECO"}], source="apv_mode_runs")
    assert Run.objects.get(run_number=300100).run_class == ""
