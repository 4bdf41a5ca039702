"""The model (recommender.ml.model): the decision layer (`decide`: rank 1 is persistence's pick),
and rankers pickled before features were renamed."""

import io

import joblib
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

from recommender.artifacts import artifact_serialize
from recommender.ml.catalogue import CATEGORICAL_COLUMNS, FEATURE_COLUMNS, HISTORY_COLUMNS, OMS_COLUMNS, feature
from recommender.ml.model import Ranker, decide, log_odds, ranker_fit


def _decide(candidates, scores, persistence, **options):
    n = len(candidates)
    return decide(
        candidates,
        np.asarray(scores, dtype=float),
        never_used=np.zeros(n, dtype=bool),
        run_gap=np.arange(n, 0, -1),
        persistence=persistence,
        **options,
    )


def test_a_saturated_score_does_not_take_rank_one_from_persistences_pick():
    # What the kept-back periods showed: 1.0 for one candidate, 1e-52 for persistence's pick;
    # 1.0 - 1e-52 == 1.0 in floating point, so a raw margin of 1 was met and the model switched.
    candidates = [316985, 317100, 317200, 317300, 317400, 317500]
    scores = [1e-52, 1.0, 0.2, 0.1, 1e-78, 0.05]
    order = _decide(candidates, scores, persistence=[316985, 317200])
    assert candidates[order[0]] == 316985
    assert candidates[order[1]] == 317100  # the model's favourite comes next
    # the rule, when one is set, is in log-odds, where saturation cannot make every margin
    assert np.isfinite(log_odds(np.array([0.0, 1e-52, 1.0]))).all()
    assert candidates[_decide(candidates, scores, persistence=[316985], switch_log_odds=200.0)[0]] == 316985


scores_and_pick = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n),
        st.integers(min_value=0, max_value=n - 1),
        st.integers(min_value=0, max_value=4),
    )
)


@settings(max_examples=300, deadline=None)
@given(scores_and_pick)
def test_rank_one_is_persistences_pick_whatever_the_scores(case):
    scores, pick, reserved = case
    candidates = [380000 + 7 * i for i in range(len(scores))]
    order = _decide(candidates, scores, persistence=[candidates[pick]], reserved_new_slots=reserved)
    assert candidates[order[0]] == candidates[pick]
    assert sorted(order.tolist()) == list(range(len(candidates)))  # every candidate, once


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


def _pair_rows(n: int = 400) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = pd.DataFrame({c: rng.normal(size=n) for c in HISTORY_COLUMNS + OMS_COLUMNS})
    x["reconstruction"] = rng.choice(["express", "prompt"], size=n).astype(object)
    x["run_class"] = rng.choice(["collisions_pp", "cosmics"], size=n).astype(object)
    y = (x["group_is_last"] + 0.5 * x["never_used_rank"] + rng.normal(scale=0.5, size=n)) > 0.8
    return x[FEATURE_COLUMNS], y.to_numpy(), np.ones(n)


def test_a_ranker_pickled_before_the_rename_loads_and_scores_as_it_did():
    x, y, w = _pair_rows()
    former = {name: feature(name).formerly or name for name in FEATURE_COLUMNS}
    x_before = x.rename(columns=former)
    numeric_before = [former[c] for c in HISTORY_COLUMNS + OMS_COLUMNS]
    before = ranker_fit(x_before, y, w, numeric=numeric_before, categorical=list(CATEGORICAL_COLUMNS))
    expected = before.scores(x_before)
    assert "g_is_last" in before.numeric
    # what a ranker pickled before the rename holds: its columns under their former names, no fitted_columns
    del before.__dict__["fitted_columns"]
    data, _ = artifact_serialize(before)

    loaded = joblib.load(io.BytesIO(data))
    assert "group_is_last" in loaded.numeric and "g_is_last" not in loaded.numeric
    assert loaded.scores(x).tolist() == expected.tolist()
    numeric = x[loaded.numeric].to_numpy(dtype=float)
    categorical = [x[c].to_numpy(dtype=object) for c in loaded.categorical]
    assert loaded.serving_scores(numeric, categorical).tolist() == expected.tolist()
    # pickled again, it keeps the names its pipeline knows
    again = joblib.load(io.BytesIO(artifact_serialize(loaded)[0]))
    assert again.scores(x).tolist() == expected.tolist()


def test_a_ranker_of_todays_names_is_given_its_columns_as_they_are():
    x, y, w = _pair_rows()
    ranker = ranker_fit(x, y, w)
    loaded = joblib.load(io.BytesIO(artifact_serialize(ranker)[0]))
    assert loaded.fitted_columns is None
    assert loaded.numeric == ranker.numeric
    assert loaded.scores(x).tolist() == ranker.scores(x).tolist()
