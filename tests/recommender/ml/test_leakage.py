"""No label at or after the target run may reach its features or its candidates."""

import pandas as pd
import pytest

from recommender.ml.candidates import candidate_pool
from recommender.ml.history import History
from recommender.ml.model import walk
from recommender.ml.pair_features import pair_features
from recommender.ml.run_table import RunTable, Target

from .helpers import PP, PP_PROMPT, labels, runs_frame

pytestmark = pytest.mark.django_db

EARLIER = [
    (200, "express", 190, PP),
    (201, "express", 190, PP),
    (201, "prompt", 190, PP_PROMPT),
    (203, "express", 201, PP),
    (204, "prompt", 190, PP_PROMPT),
]
AT_AND_AFTER = [
    (205, "express", 204, PP),  # the target's own label
    (205, "prompt", 203, PP_PROMPT),
    (206, "express", 205, PP),  # a later run used as reference
    (207, "prompt", 199, PP_PROMPT),  # a brand-new reference, later
]
RUNS = runs_frame({r: {"b_field": 3.8, "duration": 1000 + r} for r in [190, 199, *range(200, 208)]})


def _features(label_rows, target):
    history = History.from_labels(labels(label_rows), before_run=target.run_number)
    runs = RunTable(RUNS)
    pool = candidate_pool(history, target, runs)
    return pool, pair_features(history, target, pool, runs)


def test_it_ignores_labels_at_or_after_the_target_run():
    target = Target(205, "express", "collisions_pp", PP)
    pool_before, features_before = _features(EARLIER, target)
    pool_after, features_after = _features(EARLIER + AT_AND_AFTER, target)
    assert pool_before == pool_after
    pd.testing.assert_frame_equal(features_before, features_after)
    assert 199 not in pool_after  # first used after the target


def test_it_hands_each_run_a_history_without_its_own_labels():
    for history, rows in walk(labels(EARLIER + AT_AND_AFTER)):
        run = rows[0].target.run_number if rows else None
        if run is None:
            continue
        assert history.max_run is None or history.max_run < run


def test_it_refuses_labels_out_of_run_order():
    history = History.from_labels(labels(EARLIER))
    with pytest.raises(ValueError, match="run order"):
        history.add(150, "express", "collisions_pp", 140)
