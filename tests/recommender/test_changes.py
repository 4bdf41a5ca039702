"""The change counters (recommender.changes) and the serving cache that reads them: every
change that matters is noticed at once, in this process and in another one."""

import os
import subprocess
import sys
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from ingestion.models import Run
from recommender.changes import COUNTED, change_counters, change_triggers_install
from recommender.models import DeclaredReference, ModelVersion, ModelVersionStatus
from recommender.recommending import labels_in_use, recommendations_for, serving_cache_clear
from tests.conftest import IN_CI, REPO_ROOT
from tests.factories import (
    DeclaredReferenceFactory,
    ModelVersionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
    UserFactory,
)

from .ml.synthetic import DATASETS

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    serving_cache_clear()
    yield
    serving_cache_clear()


def _one_row_of_every_counted_table():
    from ingestion.models import TrackerCertification
    from recommender.models import Feedback

    pair = ReferencePairFactory()  # a fill, runs, run reconstructions and the label
    TrackerCertification.objects.create(run=pair.reference.run, dataset="/Express/Cosmics2024/DQM")
    DeclaredReferenceFactory(run_reconstruction=pair.reference)
    ModelVersionFactory()
    Feedback.objects.create(
        run_reconstruction=pair.run_reconstruction,
        user=UserFactory(),
        decision="accepted",
        recommended_reference=pair.reference.run,
    )


def test_it_rewrites_the_counter_of_each_table_on_insert_update_and_delete():
    _one_row_of_every_counted_table()
    for table, name in COUNTED.items():
        before = change_counters().get(name)
        with connection.cursor() as cursor:
            # raw SQL: no writer's code runs, only the trigger
            cursor.execute(f"UPDATE {table} SET id = id")
        updated = change_counters().get(name)
        assert updated is not None and updated != before, table

    run = RunFactory(run_number=400_001)
    before = change_counters()["runs"]
    Run.objects.bulk_create([Run(run_number=400_002)])
    after_insert = change_counters()["runs"]
    Run.objects.filter(pk=run.pk).delete()
    after_delete = change_counters()["runs"]
    assert len({before, after_insert, after_delete}) == 3


def test_it_puts_back_a_trigger_a_table_rebuild_dropped():
    RunFactory(run_number=400_010)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER refrun_change_ingestion_run_update")
        else:
            cursor.execute("DROP TRIGGER refrun_change ON ingestion_run")
    before = change_counters()["runs"]
    Run.objects.update(duration=7)
    assert change_counters()["runs"] == before  # the gap a rebuilt SQLite table leaves
    change_triggers_install()
    change_triggers_install()  # idempotent: post_migrate runs it after every migrate
    Run.objects.update(duration=8)
    assert change_counters()["runs"] != before


def _duration_shown(results) -> object:
    return {row.name: row for row in results[0].side_by_side}["duration"].run_value


def test_it_notices_each_change_that_matters_at_once(trained):
    numbers, run_number = trained
    first = recommendations_for(run_number=run_number, reconstruction="express")

    # nothing changed: nothing reloaded (no read of the runs, the labels or the models)
    with CaptureQueriesContext(connection) as queries:
        assert recommendations_for(run_number=run_number, reconstruction="express") == first
    read = " ".join(q["sql"] for q in queries.captured_queries)
    for table in ('ingestion_run"', "recommender_referencepair", "recommender_modelversion"):
        assert f'FROM "{table}' not in read, table

    # a changed run
    Run.objects.filter(run_number=run_number).update(duration=1234)
    assert _duration_shown(recommendations_for(run_number=run_number, reconstruction="express")) == 1234

    # a new run
    newer = RunFactory(run_number=run_number + 1, run_class="collisions_pp", duration=2000)
    RunReconstructionFactory(run=newer, reconstruction="express", dataset=DATASETS["express"])
    assert _duration_shown(recommendations_for(run_number=newer.run_number, reconstruction="express")) == 2000

    # a new label
    labels_before = len(labels_in_use())
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run=newer, reconstruction="prompt", dataset=DATASETS["prompt"]),
        reference=RunReconstructionFactory(run__run_number=numbers[0], reconstruction="prompt"),
    )
    assert len(labels_in_use()) == labels_before + 1

    # a new declared reference, then the same one ended
    reference = RunReconstructionFactory(run__run_number=numbers[3], reconstruction="express")
    declared = DeclaredReferenceFactory(run_reconstruction=reference, run_class="collisions_pp")
    first = recommendations_for(run_number=run_number, reconstruction="express")[0]
    assert (first.reference_run_number, first.reasons[0].feature) == (numbers[3], "rule_declared")
    DeclaredReference.objects.filter(pk=declared.pk).update(until_run=run_number - 1)
    first = recommendations_for(run_number=run_number, reconstruction="express")[0]
    assert first.reasons[0].feature != "rule_declared"

    # no active model any more, then one again
    active = ModelVersion.objects.get(status=ModelVersionStatus.ACTIVE)
    ModelVersion.objects.filter(pk=active.pk).update(status=ModelVersionStatus.RETIRED)
    assert recommendations_for(run_number=run_number, reconstruction="express")[0].model_version_id is None
    ModelVersion.objects.filter(pk=active.pk).update(status=ModelVersionStatus.ACTIVE)
    assert recommendations_for(run_number=run_number, reconstruction="express")[0].model_version_id == active.pk


@pytest.mark.django_db(transaction=True)
def test_it_notices_a_change_committed_on_another_connection(trained):
    """As a gunicorn worker sees what a Celery worker wrote: the counter is committed with the data."""
    _, run_number = trained
    recommendations_for(run_number=run_number, reconstruction="express")

    def other_worker():
        try:
            Run.objects.filter(run_number=run_number).update(duration=4321)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other_worker)
    thread.start()
    thread.join()
    assert _duration_shown(recommendations_for(run_number=run_number, reconstruction="express")) == 4321


def _database_url() -> str:
    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return (
        f"postgres://{settings['USER']}{password}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/"
        f"{settings['NAME']}"
    )


@pytest.mark.services  # needs PostgreSQL: CI's SQLite pass leaves it out
@pytest.mark.django_db(transaction=True)
def test_it_notices_a_change_made_by_another_process(trained):
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("CI runs on PostgreSQL")
        pytest.skip("the in-memory SQLite test database is not shared with other processes")
    _, run_number = trained
    recommendations_for(run_number=run_number, reconstruction="express")
    code = f"from ingestion.models import Run; Run.objects.filter(run_number={run_number}).update(duration=5678)"
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": _database_url()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert _duration_shown(recommendations_for(run_number=run_number, reconstruction="express")) == 5678
