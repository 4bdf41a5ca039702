"""The run table and the target (recommender.ml.run_table)."""

import numpy as np

from recommender.ml.run_table import RunTable, Target, dataset_era

from .helpers import PP, runs_frame


def test_it_reads_the_era_from_dataset_names():
    assert dataset_era("/Express/Cosmics23/DQM") == "Cosmics23"
    assert dataset_era("/StreamExpress/Run2018D-Express-v1/DQMIO") == "Run2018D"
    assert dataset_era("/PromptReco/Collisions2023HI-HIForward/DQM") == "Collisions2023HI"
    assert dataset_era("To Be Defined") == ""
    assert dataset_era("") == ""


def test_it_looks_runs_up_and_gives_unknown_runs_missing_values():
    table = RunTable(runs_frame({190: {"duration": 1000, "pv_mean": float("nan"), "pileup": 30.0}}))
    assert table.value(190, "duration") == 1000
    assert table.value(190, "log_duration") == np.log(1000)
    assert table.value(190, "pv_or_pileup") == 30.0  # DQM's vertices unknown: the pileup stands in
    assert np.isnan(table.value(999, "duration"))
    assert table.run_class(999) == ""
    assert table.rows([999, 190]).tolist() == [1, 0]


def test_the_target_names_its_group_and_era():
    target = Target(203, "prompt", "collisions_pp", PP)
    assert target.group == ("prompt", "collisions_pp")
    assert target.era == "Collisions2024"
