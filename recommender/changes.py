"""Change counters: one row per table the serving cache (and the pages' cached counts)
is built from, rewritten by a database trigger whenever that table changes.

The serving cache of `recommender.recommending` must notice a new or changed run, label,
declared reference or model at once, in every process (gunicorn workers, Celery). An
aggregate per table (COUNT and MAX(updated_at)) did that at a cost growing with the
tables; reading these few rows costs the same at any size (BENCHMARKS.md, "change
counters"). Triggers, not calls in the writers, so that no writer can
forget: bulk upserts, raw SQL, the admin, deletes and (PostgreSQL) TRUNCATE all count.

Each change writes a value never written before (a sequence on PostgreSQL, a 64-bit
random number on SQLite) rather than adding one: a rolled-back write restores the old
value, and a later committed write must not land on a value a cache already holds.
The row is written in the writer's transaction, so a reader sees the new value exactly
when it sees the data (an updated_at written by a transaction that commits after a
later one was invisible to MAX(updated_at)). The price: writers of the same table
wait for each other's commit on its counter row, e.g. a shifter's decision waits for
the Certhelper import's current batch of labels.
"""

from __future__ import annotations

from django.db import connection

# table -> the name of its counter. One counter per table, so that a trigger makes
# writers wait only for writers of the same table; a cached part that is built from
# several tables is keyed by all of their counters (recommender.recommending).
COUNTED: dict[str, str] = {
    "ingestion_fill": "fills",
    "ingestion_run": "runs",
    # the run table's certified-good lumisections beyond the masks (Run Registry)
    "ingestion_trackercertification": "tracker_certifications",
    "recommender_runreconstruction": "run_reconstructions",
    "recommender_referencepair": "labels",
    "recommender_declaredreference": "declarations",
    "recommender_modelversion": "models",
    # not read by the serving cache: the runs page's awaiting counts (recommender.selectors)
    "recommender_feedback": "feedback",
}
COUNTER_TABLE = "recommender_changecounter"


def _sqlite_statements() -> dict[str, list[str]]:
    """Per counted table, its triggers (SQLite triggers fire per row)."""
    return {
        table: [
            # trigger names are per database in SQLite, per table in PostgreSQL
            f"CREATE TRIGGER IF NOT EXISTS refrun_change_{table}_{event.lower()} AFTER {event} ON {table} BEGIN "
            f"INSERT INTO {COUNTER_TABLE} (name, value) VALUES ('{name}', random()) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value; END"
            for event in ("INSERT", "UPDATE", "DELETE")
        ]
        for table, name in COUNTED.items()
    }


_POSTGRESQL_FUNCTION = [
    "CREATE SEQUENCE IF NOT EXISTS refrun_change_seq",
    "CREATE OR REPLACE FUNCTION refrun_change_bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"INSERT INTO {COUNTER_TABLE} (name, value) VALUES (TG_ARGV[0], nextval('refrun_change_seq')) "
    "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value; RETURN NULL; END $$",
]


def _postgresql_statements() -> dict[str, list[str]]:
    # Per statement, not per row: a bulk upsert of 10,000 runs rewrites the counter once.
    return {
        table: [
            f"CREATE OR REPLACE TRIGGER refrun_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION refrun_change_bump('{name}')"
        ]
        for table, name in COUNTED.items()
    }


def change_triggers_install(*, using_connection=None) -> None:
    """Create the triggers if missing (idempotent).

    Run by the migration that creates the counter table and again after every
    `migrate` (recommender.apps): SQLite rebuilds a table to alter it, and its
    triggers go with the old table.
    """
    conn = using_connection or connection
    if conn.vendor == "sqlite":
        functions, triggers = [], _sqlite_statements()
    elif conn.vendor == "postgresql":
        functions, triggers = _POSTGRESQL_FUNCTION, _postgresql_statements()
    else:
        raise NotImplementedError(f"change triggers for {conn.vendor}")
    existing = set(conn.introspection.table_names())
    if COUNTER_TABLE not in existing:
        return  # before the migration that creates it
    with conn.cursor() as cursor:
        for statement in functions:
            cursor.execute(statement)
        for table, statements in triggers.items():
            if table not in existing:
                continue  # a table a later migration creates; installed after it
            for statement in statements:
                cursor.execute(statement)


def change_counters() -> dict[str, int]:
    """Counter name -> its value; a table not changed since the counters were made has none."""
    from .models import ChangeCounter

    return dict(ChangeCounter.objects.values_list("name", "value"))


def changes_key(*names: str) -> str:
    """A cache key that changes whenever one of these change counters does: the pages'
    cached counts and overviews are keyed by the counters of the tables they read."""
    counters = change_counters()
    return "|".join(str(counters.get(name)) for name in names)
