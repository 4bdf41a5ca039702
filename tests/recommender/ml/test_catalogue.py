"""The feature catalogue against what pair_features computes, and what every entry must say."""

import pytest

from recommender.ml import catalogue
from recommender.ml.catalogue import FEATURE_COLUMNS, FEATURES, SIDE_BY_SIDE
from recommender.ml.history import History
from recommender.ml.pair_features import pair_feature_arrays, pair_features
from recommender.ml.run_table import RunTable, Target

from .helpers import PP, PP_PROMPT, labels, runs_frame


def _case():
    """A small case: two reconstruction types, a switch, runs with OMS values."""
    rows = [(200, "express", 190, PP), (200, "prompt", 190, PP_PROMPT), (202, "express", 201, PP)]
    runs = runs_frame(
        {
            190: {"b_field": 3.8, "duration": 1000, "bunches_colliding": 2400, "apv_mode": "PEAK"},
            201: {"b_field": 3.8, "duration": 900, "bunches_colliding": 2300, "apv_mode": "PEAK"},
            203: {"b_field": 0.0, "duration": 110, "bunches_colliding": 12, "apv_mode": "DECO"},
        }
    )
    history = History.from_labels(labels(rows), before_run=203)
    return history, Target(203, "prompt", "collisions_pp", PP_PROMPT), [190, 201], RunTable(runs)


def test_every_computed_feature_is_catalogued_and_every_catalogued_one_computed():
    computed = list(pair_feature_arrays(*_case()))
    assert [c for c in computed if c not in FEATURE_COLUMNS] == [], "computed, not in the catalogue"
    assert [c for c in FEATURE_COLUMNS if c not in computed] == [], "catalogued, never computed"


def test_the_frame_the_model_is_given_is_the_computed_values_in_catalogue_order():
    arrays = pair_feature_arrays(*_case())
    frame = pair_features(*_case())
    assert list(frame.columns) == FEATURE_COLUMNS
    for name in FEATURE_COLUMNS:
        assert frame[name].tolist() == pytest.approx(arrays[name].tolist(), nan_ok=True), name


@pytest.mark.parametrize("entry", FEATURES, ids=lambda f: f.name)
def test_every_entry_says_what_it_is_and_how_it_reads(entry):
    assert entry.description.strip(), "no description"
    assert entry.reason in catalogue.REASON_KINDS, f"reason kind {entry.reason!r} unknown"
    assert entry.block in catalogue.BLOCKS
    assert all(name and label for name, label in entry.side_by_side)


def test_names_and_former_names_are_unique_and_distinct():
    names = [f.name for f in FEATURES]
    former = [f.formerly for f in FEATURES if f.formerly]
    assert len(set(names)) == len(names)
    assert len(set(former)) == len(former)
    assert not set(names) & set(former)


def test_the_column_lists_are_the_catalogue_in_block_order():
    blocks = [catalogue.feature(name).block for name in FEATURE_COLUMNS]
    assert blocks == sorted(blocks, key=catalogue.BLOCKS.index)
    assert catalogue.HISTORY_COLUMNS + catalogue.OMS_COLUMNS + catalogue.CATEGORICAL_COLUMNS == FEATURE_COLUMNS


def test_the_side_by_side_values_are_run_table_columns_shown_once():
    table = RunTable(runs_frame({190: {}}))
    assert [name for name, _ in SIDE_BY_SIDE if name not in table.columns] == []
    assert len({name for name, _ in SIDE_BY_SIDE}) == len(SIDE_BY_SIDE)


def test_it_finds_a_feature_by_its_former_name_and_refuses_an_unknown_one():
    assert catalogue.feature("nu_rank") is catalogue.feature("never_used_rank")
    assert catalogue.description("g_count") == catalogue.description("group_count")
    assert catalogue.current_names(["sib_switched_to", "run_gap"]) == ["other_reco_switched_to", "run_gap"]
    with pytest.raises(catalogue.UnknownFeature):
        catalogue.reason_kind("z_not_a_feature")
