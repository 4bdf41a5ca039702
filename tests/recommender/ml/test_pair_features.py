"""Pair features: what the other reconstruction types did, eras from dataset names,
condition changes against the group's current reference."""

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from recommender.ml.features import FEATURE_COLUMNS, History, RunTable, Target, dataset_era, pair_features
from recommender.ml.model import Ranker

from .helpers import PP, PP_PROMPT, labels, runs_frame

pytestmark = pytest.mark.django_db

PP23 = "/Express/Collisions2023/DQM"


def _features(rows, target, candidates, runs=None):
    history = History.from_labels(labels(rows), before_run=target.run_number)
    table = RunTable(runs if runs is not None else runs_frame({}))
    return pair_features(history, target, candidates, table).set_index(pd.Index(candidates))


def test_it_reads_the_era_from_dataset_names():
    assert dataset_era("/Express/Cosmics23/DQM") == "Cosmics23"
    assert dataset_era("/StreamExpress/Run2018D-Express-v1/DQMIO") == "Run2018D"
    assert dataset_era("/PromptReco/Collisions2023HI-HIForward/DQM") == "Collisions2023HI"
    assert dataset_era("To Be Defined") == ""
    assert dataset_era("") == ""


def test_it_sees_a_switch_of_another_reconstruction_type_since_the_groups_last_label():
    rows = [
        (200, "express", 190, PP),
        (200, "prompt", 190, PP_PROMPT),
        (202, "express", 201, PP),  # express switched to 201 after prompt's last label (200)
    ]
    x = _features(rows, Target(203, "prompt", "collisions_pp", PP_PROMPT), [190, 201, 202])
    assert x.loc[201, "sib_switched_to"] == 1
    assert x.loc[190, "sib_switched_to"] == 0
    assert (x["sib_switched_any"] == 1).all()
    assert x.loc[201, "k_first_after_group"] == 1
    assert x.loc[190, "k_first_after_group"] == 0
    assert x.loc[201, "k_first_gap"] == 1
    assert np.isnan(x.loc[202, "k_first_gap"])  # never used
    assert x.loc[202, "nu_rank"] == 0
    assert np.isnan(x.loc[201, "nu_rank"])


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


class _FixedScores(Ranker):
    def __init__(self, scores):
        super().__init__(pipeline=Pipeline([("none", "passthrough")]), numeric=[], categorical=[])
        self._fixed = np.asarray(scores, dtype=float)

    def scores(self, features):
        return self._fixed


def test_it_gives_two_of_the_five_places_to_the_newest_never_used_runs():
    candidates = [100, 101, 102, 103, 104, 105, 106, 107]
    features = pd.DataFrame(
        {
            "ever_used": [1, 1, 1, 1, 1, 0, 0, 0],
            "run_gap": [10, 9, 8, 7, 6, 5, 4, 3],
        }
    )
    ranker = _FixedScores([0.9, 0.8, 0.7, 0.6, 0.5, 0.01, 0.02, 0.03])
    ranker.reserved_new_slots = 2
    ranked, scores = ranker.order(candidates, features)
    assert ranked[:5] == [100, 101, 102, 107, 106]  # the two newest never-used runs, in score order
    assert sorted(ranked) == candidates
    assert len(scores) == len(candidates)
    # a never-used run the model already ranks high keeps its place
    ranker = _FixedScores([0.9, 0.8, 0.7, 0.6, 0.5, 0.85, 0.02, 0.03])
    ranker.reserved_new_slots = 2
    ranked, _ = ranker.order(candidates, features)
    assert ranked[:5] == [100, 105, 101, 107, 106]


def test_it_keeps_persistences_pick_at_rank_one_below_the_switch_margin_in_log_odds():
    from recommender.ml.model import decide

    candidates = [100, 101, 102, 103, 104, 105, 106]
    common = {
        "never_used": np.array([False] * 6 + [True]),
        "run_gap": np.array([10, 9, 8, 7, 6, 5, 4]),
        "persistence": [102, 100],
        "reserved_new_slots": 1,
        "keep_persistence": 2,
        "new_slot_window": 1,
    }
    scores = np.array([0.1, 0.7, 0.3, 0.05, 0.04, 0.02, 0.01])  # 101 beats 102 by 1.69 log-odds
    below = decide(candidates, scores, switch_log_odds=2.0, **common)
    assert candidates[below[0]] == 102
    top5 = [candidates[i] for i in below[:5]]
    assert set(top5) >= {101, 100, 106}  # the model's favourite, persistence's second, the newest unused run
    above = decide(candidates, scores, switch_log_odds=1.5, **common)
    assert candidates[above[0]] == 101  # confident enough: the switch takes rank 1
    assert candidates[above[1]] == 102
    # without any persistence answer (a new group) the model's order stands
    alone = decide(candidates, scores, **{**common, "persistence": []})
    assert candidates[alone[0]] == 101
