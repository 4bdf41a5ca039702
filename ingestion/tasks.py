"""Celery tasks for ingestion: thin. Primitives in, one service call, a short status out;
each is named after its service.

Retries only for transient failures (OMS unreachable, 429/5xx, a chunk another
worker holds), with exponential backoff and jitter; everything else fails loudly
and is recorded on the job. acks_late (settings) means a worker killed mid-task
leaves its message to be delivered again; the chunk claims make the second
delivery safe.

Callers enqueue in transaction.on_commit, so a worker never looks for a job row
that is not committed yet.
"""

from celery import shared_task
from django.conf import settings
from django.db import transaction

from jobs.renamed_tasks import task_renamed
from jobs.services import JobAlreadyRunning

from .clients import OmsTransientError
from .services import ChunkBusy

# What every OMS task shares: redelivery after a killed worker, jittered backoff
# up to ten minutes, and the settings' time limits.
_OMS_TASK = {
    "acks_late": True,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
}


@shared_task(autoretry_for=(OmsTransientError,), max_retries=5, retry_backoff=30, **_OMS_TASK)
def runs_sync(run_from: int | None = None, run_to: int | None = None, job_id: int | None = None) -> str:
    """Incremental OMS sync (beat, every 15 minutes), or a range in one worker."""
    from .services import runs_sync

    try:
        job = runs_sync(run_from=run_from, run_to=run_to, job_id=job_id)
    except JobAlreadyRunning as exc:
        return f"skipped: {exc}"
    # A new run gets its conditions (APV mode, PV mean) right after its OMS values,
    # before the refresh five minutes later ranks its references.
    window = job.parameters.get("window")
    if window:
        _conditions_after(*window)
    return f"job {job.pk} {job.status}: {job.message}"


def _chunk_gave_up(task, exc, task_id, args, kwargs, einfo) -> None:
    """Retries exhausted on a transient error: count the chunk as failed on its job."""
    from .services import job_chunk_failed

    job_id = kwargs.get("job_id", args[0] if args else None)
    first_run = kwargs.get("first_run", args[1] if len(args) > 1 else 0)
    last_run = kwargs.get("last_run", args[2] if len(args) > 2 else 0)
    if job_id is not None and isinstance(exc, OmsTransientError):
        job_chunk_failed(job_id=job_id, first_run=first_run, last_run=last_run, error=str(exc))


@shared_task(
    autoretry_for=(OmsTransientError, ChunkBusy),
    max_retries=8,
    retry_backoff=10,
    on_failure=_chunk_gave_up,
    **_OMS_TASK,
)
def runs_chunk_sync(job_id: int, first_run: int, last_run: int) -> str:
    """One chunk of a backfill queued by `manage.py sync_oms --async`."""
    from .services import runs_chunk_sync_for_job

    status = runs_chunk_sync_for_job(job_id=job_id, first_run=first_run, last_run=last_run)
    _conditions_after(first_run, last_run)
    return status


# A conditions sync waits for the one running (the APV service answers one run a
# second, so the hourly one may last minutes): the runs an OMS sync just wrote are
# not dropped because another range is being read.
CONDITIONS_BUSY_RETRY_S = 60
CONDITIONS_BUSY_RETRIES = 30


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=CONDITIONS_BUSY_RETRIES,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def conditions_sync(self, run_from: int | None = None, run_to: int | None = None, job_id: int | None = None) -> str:
    """APV mode and PV mean from their services for a run range (queued after each
    OMS sync), or the newest CONDITIONS_LOOKBACK_RUNS run numbers (beat, hourly).
    A service down is not retried here: it fails the job with its reason, and the
    next sync asks again (values once read are kept). Only a conditions sync
    already running makes this one wait and try again."""
    from .services import conditions_sync

    try:
        job = conditions_sync(run_min=run_from, run_max=run_to, job_id=job_id)
    except JobAlreadyRunning as exc:
        if self.request.retries >= CONDITIONS_BUSY_RETRIES:
            return f"skipped: {exc}"
        raise self.retry(countdown=CONDITIONS_BUSY_RETRY_S) from exc
    return f"job {job.pk} {job.status}: {job.message}"


def _conditions_after(run_from: int, run_to: int) -> None:
    """Queue the conditions of runs an OMS sync just wrote (when a service is configured)."""
    from .services import conditions_configured

    if conditions_configured():
        transaction.on_commit(lambda: conditions_sync.delay(run_from=run_from, run_to=run_to))


# The old names, for messages still queued when a worker is upgraded; they go in the
# release after this one (jobs.renamed_tasks).
task_renamed("ingestion.tasks.sync_oms", runs_sync)
task_renamed("ingestion.tasks.sync_oms_chunk", runs_chunk_sync)
task_renamed("ingestion.tasks.sync_conditions", conditions_sync)
