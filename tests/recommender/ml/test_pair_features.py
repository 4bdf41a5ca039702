"""Pair features (recommender.ml.pair_features): what the other reconstruction types did,
eras from dataset names, condition changes against the group's current reference."""

import numpy as np
import pandas as pd
import pytest

from recommender.ml.catalogue import FEATURE_COLUMNS
from recommender.ml.history import History
from recommender.ml.pair_features import pair_features
from recommender.ml.run_table import RunTable, Target

from .helpers import PP, PP_PROMPT, labels, runs_frame

pytestmark = pytest.mark.django_db

PP23 = "/Express/Collisions2023/DQM"


def _features(rows, target, candidates, runs=None):
    history = History.from_labels(labels(rows), before_run=target.run_number)
    table = RunTable(runs if runs is not None else runs_frame({}))
    return pair_features(history, target, candidates, table).set_index(pd.Index(candidates))


def test_it_sees_a_switch_of_another_reconstruction_type_since_the_groups_last_label():
    rows = [
        (200, "express", 190, PP),
        (200, "prompt", 190, PP_PROMPT),
        (202, "express", 201, PP),  # express switched to 201 after prompt's last label (200)
    ]
    x = _features(rows, Target(203, "prompt", "collisions_pp", PP_PROMPT), [190, 201, 202])
    assert x.loc[201, "other_reco_switched_to"] == 1
    assert x.loc[190, "other_reco_switched_to"] == 0
    assert (x["other_reco_switched_any"] == 1).all()
    assert x.loc[201, "class_first_after_group"] == 1
    assert x.loc[190, "class_first_after_group"] == 0
    assert x.loc[201, "class_first_gap"] == 1
    assert np.isnan(x.loc[202, "class_first_gap"])  # never used
    assert x.loc[202, "never_used_rank"] == 0
    assert np.isnan(x.loc[201, "never_used_rank"])


def test_it_compares_eras_of_the_run_the_candidate_and_the_groups_last_label():
    rows = [
        (200, "express", 190, PP),
        (201, "express", 190, PP),
        (300, "express", 201, PP23),  # 300 was certified in 2023
    ]
    x = _features(rows, Target(301, "express", "collisions_pp", PP23), [190, 201, 300])
    assert x.loc[300, "ds_era_same"] == 1
    assert x.loc[201, "ds_era_same"] == 0
    assert np.isnan(x.loc[190, "ds_era_same"])  # never certified here: unknown
    assert x.loc[201, "client_era_same"] == 1  # last used for a 2023 run
    assert x.loc[190, "client_era_same"] == 0
    assert (x["cur_era_same"] == 1).all()
    unknown = _features(rows, Target(301, "express", "collisions_pp"), [190, 201, 300])
    assert unknown[["ds_era_same", "client_era_same", "cur_era_same"]].isna().all().all()


def test_it_flags_condition_changes_against_the_current_reference_and_keeps_unknowns_missing():
    runs = runs_frame(
        {
            190: {"b_field": 3.8, "duration": 1000, "bunches_colliding": 2400},
            195: {"b_field": 0.0, "duration": 100, "bunches_colliding": 10},
            205: {"b_field": 0.0, "duration": 110, "bunches_colliding": 12},
        }
    )
    rows = [(200, "express", 190, PP)]
    x = _features(rows, Target(205, "express", "collisions_pp", PP), [190, 195], runs)
    assert (x["cur_b_same"] == 0).all()
    assert x["cur_d_bunches"].iloc[0] == 2388
    assert x.loc[195, "cand_vs_cur_d_bunches"] < 0  # closer to the run than the current reference
    assert x.loc[190, "cand_vs_cur_d_bunches"] == 0
    assert x["cur_apv_same"].isna().all()
    assert list(x.columns) == FEATURE_COLUMNS
