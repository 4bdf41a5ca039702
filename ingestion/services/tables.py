"""Database housekeeping after bulk writes to the mirror."""

from collections.abc import Iterable

from django.db import connection


def tables_analyze(*, models: Iterable[type]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load.

    Autovacuum may be off or late (it is off on the CI machine): without this a
    query just after an import of 100,000 rows can plan a sequential scan (seen on
    the runs page).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')
