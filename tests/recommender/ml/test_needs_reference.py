"""Which runs need a reference, and how well the flag foretells the shifters' switches."""

import math

import pytest

from recommender.ml.declarations import Conditions, Declaration, declared_for, stale_use
from recommender.ml.needs_reference import new_conditions, switch_detection
from recommender.ml.run_table import RunTable, Target

from .helpers import COSMICS, PP, labels, runs_frame

pytestmark = pytest.mark.django_db


def _cosmics_runs():
    # DECO until run 206, PEAK from 207 (a new APV readout mode); the field stays on
    runs = {n: {"run_class": "cosmics", "apv_mode": "DECO", "b_field": 3.8} for n in range(200, 207)}
    runs.update({n: {"run_class": "cosmics", "apv_mode": "PEAK", "b_field": 3.8} for n in range(207, 212)})
    return RunTable(runs_frame(runs))


def test_it_finds_a_new_apv_mode_and_a_new_b_field_state_against_the_reference_in_use():
    runs = RunTable(
        runs_frame(
            {
                300: {"run_class": "cosmics", "apv_mode": "DECO", "b_field": 3.8},
                301: {"run_class": "cosmics", "apv_mode": "PEAK", "b_field": 3.8},
                302: {"run_class": "cosmics", "apv_mode": "DECO", "b_field": 0.02},
                303: {"run_class": "cosmics", "apv_mode": "", "b_field": None},
            }
        )
    )
    assert new_conditions(runs, Target(301, "express", "cosmics"), 300) == ["APV mode"]
    assert new_conditions(runs, Target(302, "express", "cosmics"), 300) == ["B field"]
    assert new_conditions(runs, Target(303, "express", "cosmics"), 300) == []  # unknown never differs


def test_it_counts_a_switch_the_flag_foretold_and_a_flag_no_switch_followed():
    runs = _cosmics_runs()
    rows = [(n, "express", 200, COSMICS) for n in range(201, 209)]  # 207, 208: flagged, no switch yet
    rows += [(n, "express", 207, COSMICS) for n in range(209, 212)]  # switch to the PEAK run at 209
    (cosmics,) = switch_detection(labels(rows), runs, [("all", 0, 10**6)])
    assert cosmics["run_class"] == "cosmics" and cosmics["runs"] == 10  # 201: nothing in use yet
    assert cosmics["switches"] == 1 and cosmics["detected"] == 1 and cosmics["detected_share"] == 1.0
    # 207, 208 and the switching 209 flagged (PEAK against the DECO 200); the switch followed
    assert cosmics["flags"] == 3 and cosmics["false_flags"] == 0


def test_it_counts_a_switch_no_flag_foretold_and_a_false_flag():
    runs = RunTable(runs_frame({n: {"run_class": "collisions_pp", "b_field": 3.8} for n in range(100, 130)}))
    frame = runs.frame.copy()
    frame.loc[105, "b_field"] = 0.0  # one run with the solenoid off, no switch for it
    runs = RunTable(frame)
    rows = [(n, "express", 100, PP) for n in range(101, 110)]
    rows += [(n, "express", 109, PP) for n in range(110, 113)]  # a switch at 110, with nothing new
    (pp,) = switch_detection(labels(rows), runs, [("all", 0, 10**6)], follow=3)
    assert pp["switches"] == 1 and pp["detected"] == 0 and pp["detected_share"] == 0.0
    assert pp["flags"] == 1 and pp["false_flags"] == 1  # 105: no switch within its 3 group runs
    assert math.isclose(pp["false_flags_per_100_runs"], 100 / 11)  # 101 had no reference in use


def test_a_declaration_covers_only_runs_whose_named_conditions_match():
    deco = Declaration(
        pk=1,
        reference=200,
        reference_reconstruction="express",
        run_class="cosmics",
        reconstruction="express",
        apv_mode="DECO",
        b_field_on=True,
        from_run=201,
    )
    run = Conditions("cosmics", "express", b_field=3.8, apv_mode="DECO")
    assert declared_for([deco], 205, run) == deco
    assert declared_for([deco], 205, Conditions("cosmics", "express", b_field=3.8, apv_mode="PEAK")) is None
    assert declared_for([deco], 205, Conditions("cosmics", "express", b_field=math.nan, apv_mode="DECO")) is None
    assert declared_for([deco], 200, run) is None  # never its own reference
    newer = Declaration(pk=2, reference=204, reference_reconstruction="express", run_class="cosmics", from_run=204)
    assert declared_for([deco, newer], 206, run) == newer  # the newest first run wins


def test_it_calls_a_declaration_stale_only_after_n_decisions_in_a_row_for_another():
    deco = Declaration(pk=1, reference=200, reference_reconstruction="express", run_class="cosmics", from_run=201)
    assert stale_use(deco, [(201, 200), (202, 150), (203, 150)], in_a_row=2) == (150, 2)
    assert stale_use(deco, [(201, 150), (202, 200), (203, 150)], in_a_row=2) is None
