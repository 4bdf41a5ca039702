"""The thin edges: Celery tasks and the sync_oms / sync_certhelper commands."""

import io

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from ingestion import tasks
from ingestion.clients import CerthelperTransientError, OmsTransientError
from ingestion.models import Lumisection, Run
from ingestion.services import ChunkBusy, runs_backfill_plan
from jobs.models import Job, JobStatus
from recommender import tasks as recommender_tasks
from tests.ingestion.clients.fakes import FIRST_RUN, oms_settings, running, synthetic_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_oms(settings):
    with running(synthetic_data(runs=12, lumisections=3)) as server:
        oms_settings(settings, server)
        settings.REFRUN_DATA = ""
        yield server


def test_it_retries_only_transient_errors_late_acked_with_limits_from_settings():
    assert tasks.runs_sync.autoretry_for == (OmsTransientError,)
    assert set(tasks.runs_chunk_sync.autoretry_for) == {OmsTransientError, ChunkBusy}
    assert recommender_tasks.certhelper_sync.autoretry_for == (CerthelperTransientError,)
    for task in (tasks.runs_sync, tasks.runs_chunk_sync, recommender_tasks.certhelper_sync):
        assert task.acks_late is True
        assert task.retry_jitter is not None and task.max_retries
        assert task.time_limit == django_settings.CELERY_TASK_TIME_LIMIT
        assert task.soft_time_limit == django_settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert recommender_tasks.certhelper_sync.retry_backoff >= 3600  # Certhelper: never twice within an hour


def test_it_syncs_oms_through_the_task(fake_oms):
    status = tasks.runs_sync.apply(kwargs={"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}).get()

    assert status.startswith("job ") and "succeeded" in status
    assert Run.objects.count() == 12 and Lumisection.objects.count() == 36


def test_it_runs_a_backfill_chunk_through_the_task(fake_oms):
    job, ranges = runs_backfill_plan(run_from=FIRST_RUN, run_to=FIRST_RUN + 11, chunk_runs=100)

    status = tasks.runs_chunk_sync.apply(args=[job.pk, *ranges[0]]).get()

    job.refresh_from_db()
    assert "12 runs" in status and job.status == JobStatus.SUCCEEDED


def test_it_counts_a_chunk_whose_retries_ran_out(db):
    job, _ = runs_backfill_plan(run_from=1, run_to=10, chunk_runs=100)

    tasks._chunk_gave_up(None, OmsTransientError("HTTP 503 after 5 attempts"), "id", [job.pk, 1, 10], {}, None)

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.progress_done == 1
    assert "503" in job.errors[0]["reason"]


def test_it_syncs_certhelper_through_the_task_into_labels(fake_oms):
    from recommender.models import ReferencePair

    status = recommender_tasks.certhelper_sync.apply().get()

    assert "succeeded" in status and ReferencePair.objects.count() == 1
    assert "skipped" in recommender_tasks.certhelper_sync.apply().get()
    assert fake_oms.counters["certhelper"] == 1


def test_it_backfills_from_the_command_with_a_progress_bar(fake_oms):
    out, err = io.StringIO(), io.StringIO()

    call_command("sync_oms", "--from", str(FIRST_RUN), "--to", str(FIRST_RUN + 11), stdout=out, stderr=err)

    assert "succeeded" in out.getvalue()
    assert Run.objects.count() == 12


def test_it_queues_backfill_chunks_only_once_committed(fake_oms, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr(tasks.runs_chunk_sync, "delay", lambda *args: queued.append(args))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command("sync_oms", "--from", "1", "--to", "250", "--async", "--chunk-runs", "100", stdout=io.StringIO())
    assert queued == []
    for callback in callbacks:
        callback()

    job = Job.objects.get()
    assert queued == [(job.pk, 1, 99), (job.pk, 100, 199), (job.pk, 200, 250)]
    assert job.progress_total == 3


def test_it_refuses_an_async_sync_without_a_range(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="--async needs --from and --to"):
        call_command("sync_oms", "--async", stdout=io.StringIO())
