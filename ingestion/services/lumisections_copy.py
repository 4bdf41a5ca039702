"""The PostgreSQL fast path of lumisections_upsert: COPY into a temporary table,
then one INSERT ... ON CONFLICT. Kept apart from the ORM path because it is
raw SQL tied to one database; both paths give the same rows and counts
(tests/ingestion/services/test_lumisections_upsert_postgres.py)."""

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from django.db import connection

from jobs.services import Counts

from ..models import Lumisection
from .precedence import LUMISECTION_FIELDS

_LS_BATCH_TABLE = "refrun_lumisection_batch"
_ls_statements: tuple[str, str, str, str] | None = None


def _lumisection_statements() -> tuple[str, str, str, str]:
    """CREATE, COPY, upsert and DROP statements of the PostgreSQL path (built once)."""
    global _ls_statements
    if _ls_statements is None:
        qn = connection.ops.quote_name
        table = qn(Lumisection._meta.db_table)
        batch = qn(_LS_BATCH_TABLE)
        fields = [Lumisection._meta.get_field(name) for name in ("run", "number", *LUMISECTION_FIELDS)]
        columns = [qn(f.column) for f in fields]
        values = columns[2:]
        key = ", ".join(columns[:2])
        create = (
            f"CREATE TEMPORARY TABLE {batch} ("
            + ", ".join(f"{column} {f.db_type(connection)}" for column, f in zip(columns, fields, strict=True))
            + ") ON COMMIT DROP"
        )
        copy = f"COPY {batch} ({', '.join(columns)}) FROM STDIN"
        # xmax is 0 only in a row version this statement inserted (an updated one
        # carries our transaction's lock); a conflicting row whose values are all
        # equal is neither written nor returned.
        upsert = (
            f"WITH written AS (INSERT INTO {table} AS ls ({', '.join(columns)}) "
            f"SELECT {', '.join(columns)} FROM {batch} "
            f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in values)} "
            f"WHERE ({', '.join(f'ls.{c}' for c in values)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{c}' for c in values)}) "
            "RETURNING ls.xmax = 0 AS created) "
            "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM written"
        )
        _ls_statements = (create, copy, upsert, f"DROP TABLE {batch}")
    return _ls_statements


def lumisections_upsert_postgresql(rows: Sequence[dict[str, Any]], run_ids: dict[int, int]) -> Counts | None:
    """The batch COPYed into a temporary table, then one INSERT ... ON CONFLICT DO
    UPDATE ... WHERE (old values) IS DISTINCT FROM (new values) into the mirror.

    Runs in the caller's transaction (inside lumisections_upsert's savepoint). The
    temporary table lives for this call only (dropped at its end, or with the
    savepoint if the call fails), so several batches can run in one transaction.
    None when the batch names a lumisection twice (ON CONFLICT cannot update a row
    twice in one statement): the caller then takes the ORM path, whose counts for
    repeats are defined row after row.

    Notes: the identity sequence advances for every row of the batch, created or
    not (PostgreSQL draws the default before it detects the conflict), so ids have
    gaps; ids of existing rows never change. An unchanged row is locked until the
    transaction ends (ON CONFLICT locks the row it checks) but not rewritten.
    """
    get_values = itemgetter(*LUMISECTION_FIELDS)
    records = []
    keys = set()
    for row in rows:
        key = (run_ids[row["run_number"]], row["number"])
        keys.add(key)
        try:
            values = get_values(row)
        except KeyError:  # a source without some field: NULL, as in the ORM path
            values = tuple(row.get(name) for name in LUMISECTION_FIELDS)
        records.append(key + values)
    if len(keys) != len(records):
        return None
    create, copy, upsert, drop = _lumisection_statements()
    with connection.cursor() as cursor:
        cursor.execute(create)
        with connection.wrap_database_errors, cursor.copy(copy) as stream:
            for record in records:
                stream.write_row(record)
        cursor.execute(upsert)
        created, updated = cursor.fetchone()
        cursor.execute(drop)
    return Counts(created=created, updated=updated, unchanged=len(records) - created - updated)
