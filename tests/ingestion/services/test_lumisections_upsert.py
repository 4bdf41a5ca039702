"""lumisections_upsert's contract, on whichever database DATABASE_URL names (SQLite
locally, PostgreSQL in CI, where the COPY path runs; its own checks are in
test_lumisections_upsert_postgres.py)."""

import pytest
from django.db import IntegrityError, transaction

from ingestion.models import Lumisection, Run
from ingestion.services import LUMISECTION_FIELDS, lumisections_upsert, runs_pileup_mean_refresh

pytestmark = pytest.mark.django_db


def _row(number, pileup=40.0, **values):
    return {
        "run_number": 315150,
        "number": number,
        "init_lumi": 0.5,
        "recorded_lumi": 0.1 * number,
        "pileup": pileup,
        "cms_active": True,
        **values,
    }


def _counts(counts):
    return counts.created, counts.updated, counts.unchanged


def _stored(number, run_number=315150):
    return Lumisection.objects.values(*LUMISECTION_FIELDS).get(run__run_number=run_number, number=number)


def test_it_creates_the_run_and_upserts_lumisections():
    counts = lumisections_upsert(rows=[_row(1), _row(2)])
    assert counts.created == 2
    assert Run.objects.get(run_number=315150).lumisections.count() == 2
    counts = lumisections_upsert(rows=[_row(1), _row(2, pileup=41.0), _row(3)])
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 1)
    assert Lumisection.objects.get(number=2).pileup == 41.0


def test_it_sets_the_run_pileup_mean_from_lumisections():
    lumisections_upsert(rows=[_row(1, pileup=40.0), _row(2, pileup=50.0), _row(3, pileup=None)])
    assert runs_pileup_mean_refresh(run_numbers=[315150]).updated == 1
    run = Run.objects.get(run_number=315150)
    assert run.pileup_mean == 45.0
    assert run.sources["pileup_mean"] == "oms_lumisections"
    assert runs_pileup_mean_refresh(run_numbers=[315150]).unchanged == 1


def test_an_empty_batch_does_nothing():
    assert _counts(lumisections_upsert(rows=[])) == (0, 0, 0)
    assert not Run.objects.exists()


def test_nulls_compare_equal_and_a_change_to_or_from_null_is_an_update():
    lumisections_upsert(rows=[_row(1, pileup=None, physics_flag=None), _row(2), _row(3, beam1_stable=False)])
    again = [_row(1, pileup=None, physics_flag=None), _row(2), _row(3, beam1_stable=False)]
    assert _counts(lumisections_upsert(rows=again)) == (0, 0, 3)

    changed = [_row(1, pileup=42.0), _row(2, pileup=None), _row(3, beam1_stable=None)]
    assert _counts(lumisections_upsert(rows=changed)) == (0, 3, 0)
    assert _stored(1)["pileup"] == 42.0
    assert _stored(2)["pileup"] is None
    assert _stored(3)["beam1_stable"] is None  # NULL and false are different values


def test_booleans_are_stored_as_given():
    flags = {"physics_flag": True, "cms_active": False, "beam1_present": None, "tecm_ready": True}
    lumisections_upsert(rows=[_row(1, **flags)])
    stored = _stored(1)
    assert {name: stored[name] for name in flags} == flags
    assert _counts(lumisections_upsert(rows=[_row(1, **{**flags, "cms_active": True})])) == (0, 1, 0)
    assert _stored(1)["cms_active"] is True


def test_a_field_missing_from_the_row_is_null_and_the_latest_import_wins():
    lumisections_upsert(rows=[_row(1, end_lumi=0.4, tob_ready=True)])
    sparse = {"run_number": 315150, "number": 1, "init_lumi": 0.5}
    assert _counts(lumisections_upsert(rows=[sparse])) == (0, 1, 0)
    stored = _stored(1)
    assert stored["init_lumi"] == 0.5
    assert [name for name, value in stored.items() if value is not None] == ["init_lumi"]
    assert _counts(lumisections_upsert(rows=[sparse])) == (0, 0, 1)


def test_an_integer_equal_to_the_stored_float_is_unchanged():
    lumisections_upsert(rows=[_row(1, init_lumi=2.0)])
    assert _counts(lumisections_upsert(rows=[_row(1, init_lumi=2)])) == (0, 0, 1)


def test_floats_round_trip_exactly():
    values = {"init_lumi": 0.1 + 0.2, "delivered_lumi": 1.7e-308, "recorded_lumi": 123456789.12345679, "pileup": -0.0}
    lumisections_upsert(rows=[_row(1, **values)])
    stored = _stored(1)
    assert {name: stored[name] for name in values} == values
    assert _counts(lumisections_upsert(rows=[_row(1, **values)])) == (0, 0, 1)


def test_a_lumisection_twice_in_one_batch_counts_row_after_row_and_the_last_wins():
    counts = lumisections_upsert(rows=[_row(1), _row(1, pileup=41.0), _row(1, pileup=41.0), _row(2)])
    assert _counts(counts) == (2, 1, 1)
    assert _stored(1)["pileup"] == 41.0
    counts = lumisections_upsert(rows=[_row(1, pileup=41.0), _row(1, pileup=43.0), _row(2)])
    assert _counts(counts) == (0, 1, 2)
    assert _stored(1)["pileup"] == 43.0


def test_batches_of_several_runs_and_batches_in_one_outer_transaction():
    first = [_row(n) for n in range(1, 6)] + [_row(n, run_number=315151) for n in range(1, 4)]
    second = [_row(n, pileup=50.0 if n == 5 else 40.0) for n in range(3, 8)]
    second += [_row(n, run_number=315151) for n in range(1, 4)]
    with transaction.atomic():
        assert _counts(lumisections_upsert(rows=first)) == (8, 0, 0)
        assert _counts(lumisections_upsert(rows=second)) == (2, 1, 5)
    assert Lumisection.objects.filter(run__run_number=315150).count() == 7
    assert Lumisection.objects.filter(run__run_number=315151).count() == 3
    assert _stored(5)["pileup"] == 50.0


def test_a_failed_batch_rolls_back_alone_inside_the_callers_transaction():
    with transaction.atomic():
        lumisections_upsert(rows=[_row(1)])
        with pytest.raises(IntegrityError):
            lumisections_upsert(rows=[_row(2), _row(-1)])  # a negative number breaks the column's check
        assert _counts(lumisections_upsert(rows=[_row(1), _row(2)])) == (1, 0, 1)
    assert sorted(Lumisection.objects.values_list("number", flat=True)) == [1, 2]
