"""The simulation's records, without the database: determinism and plausibility."""

import dataclasses
from collections import Counter

import numpy as np
import pytest

from demo.simulation.checks import persistence_evaluate
from demo.simulation.generator import (
    COSMICS,
    EXPRESS,
    PROMPT,
    lumisections_build,
    simulation_generate,
)


@pytest.fixture(scope="module")
def two_years():
    return simulation_generate(seed=11, years=[2023, 2024], lumisections_for_last=40)


def _rows(data):
    plain = [
        dataclasses.astuple(r) for part in (data.fills, data.runs, data.reconstructions, data.labels) for r in part
    ]
    blocks = [(b.run_number, b.delivered_lumi.tolist(), b.hv_ready.tolist()) for b in data.lumisections]
    return plain, blocks


def test_it_gives_identical_records_for_the_same_seed():
    first = simulation_generate(seed=5, years=[2024], runs=1500, lumisections_for_last=20)
    second = simulation_generate(seed=5, years=[2024], runs=1500, lumisections_for_last=20)
    other = simulation_generate(seed=6, years=[2024], runs=1500, lumisections_for_last=20)
    assert _rows(first) == _rows(second)
    assert _rows(first) != _rows(other)


def test_it_gives_persistence_like_the_real_pairs(two_years):
    report = persistence_evaluate(labels=two_years.labels)
    assert 0.85 <= report.top1 <= 0.99, report.as_text()
    assert report.switches > 20
    assert report.new_references > 5


def test_it_switches_to_a_reference_of_the_new_conditions(two_years):
    runs = {r.run_number: r for r in two_years.runs}
    switches = [label for label in two_years.labels if label.reason == "condition"]
    assert switches
    matching = [s for s in switches if runs[s.reference_run_number].condition == runs[s.run_number].condition]
    assert len(matching) / len(switches) > 0.9


def test_it_switches_express_before_prompt_in_time(two_years):
    first_use: dict[int, dict[str, object]] = {}
    for label in sorted(two_years.labels, key=lambda label: label.recorded_at):
        first_use.setdefault(label.reference_run_number, {}).setdefault(label.reconstruction, label.recorded_at)
    both = [uses for uses in first_use.values() if len(uses) == 2]
    assert both
    assert sum(uses[EXPRESS] <= uses[PROMPT] for uses in both) / len(both) > 0.6


def test_it_only_uses_earlier_runs_as_references(two_years):
    assert all(label.reference_run_number < label.run_number for label in two_years.labels)


def test_it_has_every_run_class_and_cosmics_have_an_apv_mode(two_years):
    classes = {run.run_class for run in two_years.runs}
    assert classes == {"collisions_pp", "heavy_ion", "cosmics", "commissioning", "special"}
    cosmics = [run for run in two_years.runs if run.run_class == COSMICS]
    assert all(run.apv_mode in {"DECO", "PEAK"} for run in cosmics)
    assert sum(run.apv_mode == "DECO" for run in cosmics) / len(cosmics) > 0.95
    assert any(run.b_field < 1 for run in cosmics)


def test_it_gives_run_3_attributes_to_collision_runs(two_years):
    pp = [run for run in two_years.runs if run.run_class == "collisions_pp"]
    assert all(run.energy == 6800.0 and "TRACKER" in run.components and "PIXEL" in run.components for run in pp)
    assert all(run.end_lumi <= run.init_lumi and run.pileup_mean > 0 and run.pv_mean > 0 for run in pp)
    assert {run.l1_hlt_mode for run in pp} == {"collisions2023", "collisions2024"}
    datasets = {reco.dataset for reco in two_years.reconstructions}
    assert {"/Express/Collisions2024/DQM", "/PromptReco/Cosmics2024/DQM", "/Express/Collisions2023HI/DQM"} <= datasets


def test_it_makes_lumisections_cumulative_with_the_hv_ramp_first(two_years):
    assert len(two_years.lumisections) == 40
    for block in two_years.lumisections:
        assert np.all(np.diff(block.delivered_lumi) >= 0)
        assert np.all(np.diff(block.recorded_lumi) >= 0)
        assert np.all(block.recorded_lumi <= block.delivered_lumi + 1e-12)
        assert not block.hv_ready[0]

    collisions = next(run for run in reversed(two_years.runs) if run.run_class == "collisions_pp")
    block = lumisections_build(rng=np.random.default_rng(0), run=collisions)
    assert len(block.init_lumi) == collisions.last_lumisection_number
    assert np.all(np.diff(block.init_lumi) < 0) and np.all(np.diff(block.delivered_lumi) > 0)
    assert block.init_lumi[0] == pytest.approx(collisions.init_lumi)
    assert block.pileup.mean() == pytest.approx(collisions.pileup_mean, rel=0.05)


def test_it_generates_about_the_number_of_runs_asked_for():
    data = simulation_generate(seed=2, years=[2022, 2023, 2024], runs=20000, lumisections_for_last=0)
    assert 17000 <= len(data.runs) <= 23000
    assert data.lumisections == []
    small = simulation_generate(seed=2, years=[2024], runs=500, lumisections_for_last=None)
    assert 400 <= len(small.runs) <= 600
    assert len(small.lumisections) == len(small.runs)


def test_it_gives_cosmics_runs_no_beam_fill_and_no_heavy_ion_era(two_years):
    cosmics = [run for run in two_years.runs if run.run_class == COSMICS]
    assert cosmics
    assert all(run.fill_number is None and run.fill_type_runtime == "COSMICS" for run in cosmics)
    assert not [run.era for run in cosmics if run.era.startswith("HI")]
    # The heavy-ion period still has its cosmics runs, in the last pp era.
    heavy_ion_years = {run.start_time.year for run in two_years.runs if run.run_class == "heavy_ion"}
    assert heavy_ion_years


def test_it_certifies_run_classes_in_the_calibrated_shares(two_years):
    from demo.simulation import calibration

    classes = {run.run_number: run.run_class for run in two_years.runs}
    certified = {record.run_number for record in two_years.reconstructions}
    counts = Counter(classes[number] for number in certified)
    for run_class, share in calibration.CERTIFIED_CLASS_FRACTION.items():
        assert abs(counts[run_class] / len(certified) - share) < 0.05, (run_class, counts)
