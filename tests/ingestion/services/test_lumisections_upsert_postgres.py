"""The PostgreSQL path of lumisections_upsert (COPY into a temporary table, then one
INSERT ... ON CONFLICT DO UPDATE ... WHERE IS DISTINCT FROM). Runs when
DATABASE_URL is PostgreSQL, as in CI; the contract itself is in
test_lumisections_upsert.py, which runs on both databases."""

import random

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from ingestion.models import Lumisection
from ingestion.services import LUMISECTION_FIELDS, lumisections_copy, lumisections_upsert, upserts

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's"),
]

RUN = 315150


def _row(number, run_number=RUN, **values):
    return {"run_number": run_number, "number": number, "init_lumi": 0.5, "pileup": 40.0, "cms_active": True, **values}


def _counts(counts):
    return counts.created, counts.updated, counts.unchanged


def _versions(run_number=RUN):
    """(id, xmin) of each lumisection of the run by number: xmin changes when a row is rewritten."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ls.number, ls.id, ls.xmin::text FROM ingestion_lumisection ls "
            "JOIN ingestion_run r ON r.id = ls.run_id WHERE r.run_number = %s",
            [run_number],
        )
        return {number: (pk, xmin) for number, pk, xmin in cursor.fetchall()}


def _state(run_number):
    return {
        row.pop("number"): row
        for row in Lumisection.objects.filter(run__run_number=run_number).values("number", *LUMISECTION_FIELDS)
    }


def _upsert_sql(queries):
    return [q["sql"] for q in queries if q["sql"].startswith('WITH written AS (INSERT INTO "ingestion_lumisection"')]


def test_postgresql_takes_the_copy_path():
    with CaptureQueriesContext(connection) as queries:
        lumisections_upsert(rows=[_row(1), _row(2)])
    (sql,) = _upsert_sql(queries.captured_queries)
    assert "IS DISTINCT FROM" in sql
    assert not any('"ingestion_lumisection"."run_id" = ' in q["sql"] for q in queries.captured_queries)  # no ORM read


def test_a_batch_naming_a_lumisection_twice_takes_the_orm_path():
    with CaptureQueriesContext(connection) as queries:
        counts = lumisections_upsert(rows=[_row(1), _row(1, pileup=41.0)])
    assert _counts(counts) == (1, 1, 0)
    assert not _upsert_sql(queries.captured_queries)


def test_unchanged_rows_are_not_rewritten_and_ids_stay():
    lumisections_upsert(rows=[_row(n) for n in range(1, 5)])
    before = _versions()
    counts = lumisections_upsert(rows=[_row(1), _row(2, pileup=41.0), _row(3, cms_active=None), _row(4), _row(5)])
    assert _counts(counts) == (1, 2, 2)
    after = _versions()
    assert after[1] == before[1] and after[4] == before[4]  # same row version: not written
    for number in (2, 3):
        assert after[number][0] == before[number][0]  # same row, same id
        assert after[number][1] != before[number][1]  # a new row version
    assert _counts(lumisections_upsert(rows=[_row(1), _row(2, pileup=41.0)])) == (0, 0, 2)
    assert _versions() == after


def test_ids_come_from_the_sequence_and_may_skip_for_existing_rows():
    lumisections_upsert(rows=[_row(1)])
    lumisections_upsert(rows=[_row(1), _row(2)])
    versions = _versions()
    assert versions[2][0] > versions[1][0]
    created = Lumisection(run_id=Lumisection.objects.get(number=1).run_id, number=3)
    created.save()  # the ORM draws from the same identity sequence
    assert created.pk > versions[2][0]


def test_two_batches_in_one_outer_transaction_and_the_temporary_table_goes_with_each_call():
    with transaction.atomic():
        assert _counts(lumisections_upsert(rows=[_row(n) for n in range(1, 4)])) == (3, 0, 0)
        assert _counts(lumisections_upsert(rows=[_row(n, pileup=40.0 + (n == 3)) for n in range(2, 6)])) == (2, 1, 1)
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [f"pg_temp.{lumisections_copy._LS_BATCH_TABLE}"])
            assert cursor.fetchone() == (None,)
    assert len(_versions()) == 5


def test_a_failed_copy_batch_leaves_the_transaction_usable():
    with transaction.atomic():
        lumisections_upsert(rows=[_row(1)])
        with pytest.raises(Exception):  # noqa: B017 - the database's own error (check violation)
            lumisections_upsert(rows=[_row(2), _row(-1)])
        # The temporary table went with the failed call's savepoint: this call creates it again.
        assert _counts(lumisections_upsert(rows=[_row(1), _row(2)])) == (1, 0, 1)
    assert sorted(_versions()) == [1, 2]


def _random_batches(rng, count):
    """Batches of overlapping numbers; a row seen before comes back as it was half the time."""
    last: dict[int, dict] = {}
    batches = []
    for _ in range(count):
        rows = []
        for number in rng.sample(range(1, 40), 25):
            if number in last and rng.random() < 0.5:
                rows.append(dict(last[number]))
                continue
            row = {"number": number}
            for name in LUMISECTION_FIELDS:
                if rng.random() < 0.15:
                    continue  # missing: NULL
                if name.endswith(("_lumi", "pileup")):
                    row[name] = rng.choice([None, 0.0, 1.5, rng.random(), float(rng.randint(0, 3))])
                else:
                    row[name] = rng.choice([None, True, False])
            last[number] = row
            rows.append(row)
        batches.append(rows)
    return batches


def test_the_copy_path_and_the_orm_path_agree(monkeypatch):
    """Same batches into two runs, one through each path: same counts, same rows."""
    batches = _random_batches(random.Random(7), 6)
    copy_counts, orm_counts = [], []
    for rows in batches:
        copy_counts.append(_counts(lumisections_upsert(rows=[{**r, "run_number": 400001} for r in rows])))
    with monkeypatch.context() as patch:
        patch.setattr(upserts, "lumisections_upsert_postgresql", lambda rows, run_ids: None)
        for rows in batches:
            orm_counts.append(_counts(lumisections_upsert(rows=[{**r, "run_number": 400002} for r in rows])))
    assert copy_counts == orm_counts
    assert any(c[1] for c in copy_counts) and any(c[2] for c in copy_counts)  # both kinds occurred
    assert _state(400001) == _state(400002)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_committed_inside_the_callers_transaction():
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        autocommit=True,
    )

    def seen_elsewhere():
        return other.execute("SELECT count(*) FROM ingestion_lumisection").fetchone()[0]

    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            lumisections_upsert(rows=[_row(1), _row(2)])
            lumisections_upsert(rows=[_row(2, pileup=41.0), _row(3)])
            assert Lumisection.objects.count() == 3
            assert seen_elsewhere() == 0
            raise RuntimeError("the caller fails after both batches")
        assert Lumisection.objects.count() == 0
        with transaction.atomic():
            lumisections_upsert(rows=[_row(1)])
        assert seen_elsewhere() == 1
        # Called outside any transaction, it is its own.
        assert _counts(lumisections_upsert(rows=[_row(1, pileup=41.0), _row(2)])) == (1, 1, 0)
        assert _counts(lumisections_upsert(rows=[_row(1, pileup=41.0), _row(2)])) == (0, 0, 2)
        assert seen_elsewhere() == 2
    finally:
        other.close()
