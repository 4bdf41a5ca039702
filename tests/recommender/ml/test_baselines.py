import pytest

from recommender.ml.baselines import PredecessorRanker, persistence_ranking
from recommender.ml.history import History
from recommender.ml.run_table import RunTable, Target

from .helpers import COSMICS, PP, PP_PROMPT, labels, runs_frame

pytestmark = pytest.mark.django_db

HISTORY = [
    (300, "express", 290, PP),
    (301, "express", 290, PP),
    (302, "express", 295, PP),
    (302, "prompt", 290, PP_PROMPT),
    (303, "express", 310, PP),  # a reference later than run 305: never proposed for it
    (304, "express", 280, COSMICS),
]


def test_it_proposes_the_groups_references_newest_first():
    history = History.from_labels(labels(HISTORY))
    assert persistence_ranking(history, Target(305, "express", "collisions_pp")) == [295, 290]
    assert persistence_ranking(history, Target(305, "prompt", "collisions_pp")) == [290]
    assert persistence_ranking(history, Target(305, "express", "cosmics")) == [280]
    assert persistence_ranking(history, Target(305, "rereco", "collisions_pp")) == []


def test_it_keeps_later_references_out_only_when_they_are_later():
    history = History.from_labels(labels(HISTORY))
    assert persistence_ranking(history, Target(311, "express", "collisions_pp")) == [310, 295, 290]


def test_it_ranks_the_predecessors_nearest_runs_first():
    runs = RunTable(
        runs_frame(
            {
                100: {"energy": 6800, "b_field": 3.8, "fill_number": 10},
                101: {"energy": 6800, "b_field": 3.8, "fill_number": 11},
                150: {"energy": 450, "b_field": 0.0, "fill_number": 40},
                160: {"energy": 6800, "b_field": 3.8, "fill_number": 50},
            }
        )
    )
    ranked = PredecessorRanker(runs).rank(Target(160, "express", "collisions_pp"), [100, 101, 150])
    assert ranked[-1] == 150
    assert ranked[0] == 101
