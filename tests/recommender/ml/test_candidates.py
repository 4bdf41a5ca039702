import numpy as np
import pytest

from recommender.ml.candidates import HARD_RULES, RuleContext, breaks_rule, candidate_pool, rule_violations
from recommender.ml.history import History
from recommender.ml.run_table import RunTable, Target

from .helpers import COSMICS, PP, labels, runs_frame

pytestmark = pytest.mark.django_db


def _setup(extra_runs=None):
    runs = {
        100: {"b_field": 3.8, "run_class": "collisions_pp"},
        101: {"b_field": 3.8, "run_class": "collisions_pp"},
        102: {"b_field": 0.0, "run_class": "collisions_pp"},  # solenoid off
        103: {"b_field": None, "run_class": "collisions_pp"},  # unknown field
        104: {"run_class": "cosmics", "apv_mode": "PEAK", "b_field": 3.8},
        105: {"run_class": "cosmics", "apv_mode": "DECO", "b_field": 3.8},
        110: {"b_field": 3.8, "run_class": "collisions_pp"},
        111: {"run_class": "cosmics", "apv_mode": "DECO", "b_field": 3.8},
        120: {"b_field": 3.8, "run_class": "collisions_pp"},
    }
    runs.update(extra_runs or {})
    table = RunTable(runs_frame(runs))
    history = History.from_labels(
        labels(
            [
                (100, "express", 99, PP),
                (101, "express", 100, PP),
                (102, "express", 100, PP),
                (103, "express", 100, PP),
                (104, "express", 98, COSMICS),
                (105, "express", 104, COSMICS),
            ]
        )
    )
    return history, table


def test_it_removes_a_later_run_unless_rereco():
    history, runs = _setup()
    ctx = RuleContext(history, runs)
    assert breaks_rule("not_later", Target(110, "express", "collisions_pp"), 120, ctx)
    assert not breaks_rule("not_later", Target(110, "rereco", "collisions_pp"), 120, ctx)
    assert not breaks_rule("not_later", Target(110, "express", "collisions_pp"), 101, ctx)


def test_it_removes_a_run_of_another_class_but_lets_commissioning_borrow():
    history, runs = _setup()
    ctx = RuleContext(history, runs)
    assert breaks_rule("same_run_class", Target(110, "express", "collisions_pp"), 105, ctx)
    assert not breaks_rule("same_run_class", Target(110, "express", "collisions_pp"), 101, ctx)
    assert not breaks_rule("same_run_class", Target(110, "express", "commissioning"), 105, ctx)


def test_it_removes_a_run_with_the_other_b_field_state_but_keeps_unknown_fields():
    history, runs = _setup()
    ctx = RuleContext(history, runs)
    target = Target(110, "express", "collisions_pp")
    assert breaks_rule("same_b_field_state", target, 102, ctx)
    assert not breaks_rule("same_b_field_state", target, 103, ctx)
    pool = candidate_pool(history, target, runs)
    assert 102 not in pool
    assert 103 in pool
    assert 101 in pool


def test_it_keeps_the_apv_mode_as_a_feature_not_a_filter():
    history, runs = _setup()
    ctx = RuleContext(history, runs)
    target = Target(111, "express", "cosmics")
    assert breaks_rule("same_apv_mode", target, 104, ctx)
    assert not breaks_rule("same_apv_mode", target, 105, ctx)
    assert "same_apv_mode" not in HARD_RULES
    assert 104 in candidate_pool(history, target, runs)


def test_it_never_offers_the_run_itself_and_puts_references_in_use_first():
    history, runs = _setup()
    target = Target(110, "express", "collisions_pp")
    pool = candidate_pool(history, target, runs)
    assert 110 not in pool
    assert pool[0] == 100  # the group's current reference


def test_it_counts_rule_violations_on_labels():
    _, runs = _setup()
    table = rule_violations(labels([(110, "express", 100, PP), (120, "express", 102, PP)]), runs)
    b_field = table.set_index("rule").loc["same_b_field_state"]
    assert b_field["applicable"] == 2
    assert b_field["violations"] == 1


HI = "/Express/HIPhysics2023/DQM"


def test_it_keeps_a_reference_borrowed_from_another_class_and_ranks_it_by_persistence():
    """A run class with no reference of its own (heavy ion, its first weeks) keeps using a pp
    run: that reference stays a candidate and, below the switch threshold, is rank 1."""
    from recommender.ml.model import Ranker

    runs = RunTable(
        runs_frame(
            {
                **{r: {"run_class": "collisions_pp", "b_field": 3.8} for r in (100, 101, 102)},
                **{r: {"run_class": "heavy_ion", "b_field": 3.8} for r in (200, 201, 202, 203)},
            }
        )
    )
    history = History.from_labels(
        labels(
            [
                (101, "express", 100, PP),
                (102, "express", 100, PP),
                (200, "express", 100, HI),  # heavy ion borrows the pp reference
                (201, "express", 100, HI),
                (202, "express", 100, HI),
            ]
        )
    )
    target = Target(203, "express", "heavy_ion", HI)
    pool = candidate_pool(history, target, runs)
    assert 100 in pool

    class Prefers201(Ranker):
        def __init__(self):
            super().__init__(pipeline=None, numeric=[], categorical=[], switch_log_odds=2.0)

        def scores(self, features):
            return np.where(np.asarray(pool) == 201, 0.6, 0.2)

    from recommender.ml.baselines import persistence_ranking
    from recommender.ml.pair_features import pair_features

    features = pair_features(history, target, pool, runs)
    ranked, _ = Prefers201().order(pool, features, persistence=persistence_ranking(history, target))
    assert ranked[0] == 100  # persistence's pick: 0.6 against 0.2 is 1.8 log-odds, short of the margin
    assert 201 in ranked[:5]


def test_it_filters_another_classs_unused_runs_once_the_class_has_its_own_reference():
    runs = RunTable(
        runs_frame(
            {
                **{r: {"run_class": "collisions_pp", "b_field": 3.8} for r in (100, 101, 102)},
                **{r: {"run_class": "heavy_ion", "b_field": 3.8} for r in (200, 201, 202, 203)},
            }
        )
    )
    history = History.from_labels(
        labels([(101, "express", 100, PP), (102, "express", 101, PP), (201, "express", 200, HI)])
    )
    pool = candidate_pool(history, Target(203, "express", "heavy_ion", HI), runs)
    assert 200 in pool
    # pp references in use: the class has its own and never borrowed from pp
    assert 100 not in pool
    assert 101 not in pool
    borrowing = History.from_labels(
        labels([(101, "express", 100, PP), (102, "express", 101, PP), (200, "express", 100, HI)])
    )
    pool = candidate_pool(borrowing, Target(203, "express", "heavy_ion", HI), runs)
    assert {100, 101} <= set(pool)  # no reference of its own: the lender's references in use stay


def test_it_offers_no_run_that_only_a_rejection_touched():
    # 377417 awaits its own decision: a shifter rejected what RefRun proposed for it and
    # named nothing instead. It is no certified run, so no candidate for a later run.
    runs = RunTable(runs_frame({n: {"run_class": "cosmics", "b_field": 3.8} for n in (377400, 377410, 377417, 380360)}))
    frame = labels([(377410, "express", 377400, COSMICS), (377417, "express", 377410, COSMICS)])
    frame.loc[frame["run_number"] == 377417, "is_positive"] = False
    history = History.from_labels(frame)
    pool = candidate_pool(history, Target(380360, "express", "cosmics"), runs)
    assert 377410 in pool and 377417 not in pool
