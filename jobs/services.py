"""Writes to the job record: start, progress, finish, and the sweep of dead jobs.

Every background job (OMS sync, dump import, Certhelper sync, pairs import,
training) goes through these, so the jobs page reads one table and the rules are
the same for all: one running job per kind, a job finishes once, and a job whose
worker was killed is failed by the sweep instead of "running" for ever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from .models import ACTIVE_STATUSES, Job, JobStatus
from .selectors import job_running, stale_before

logger = logging.getLogger(__name__)

# A job's error list is shown on the jobs page and kept in one JSON column: a sync
# of a broken OMS could otherwise grow it without bound.
MAX_JOB_ERRORS = 500
MAX_MESSAGE_CHARS = 5000


@dataclass
class Counts:
    """Rows created, updated, unchanged (written or compared) and skipped (rejected)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.skipped += other.skipped
        return self

    @property
    def total(self) -> int:
        """Rows accepted (skipped ones are not)."""
        return self.created + self.updated + self.unchanged


class JobAlreadyRunning(Exception):
    """A job of this kind is running: a second one would do the same work twice."""

    def __init__(self, job: Job) -> None:
        self.job = job
        super().__init__(f"{job.get_kind_display()} is already running (job #{job.pk})")


class JobNotFound(LookupError):
    """A worker was handed the id of a job that does not exist (deleted, or another database)."""


def _kind_lock(kind: str) -> None:
    # PostgreSQL: one transaction at a time per kind until commit. SQLite's
    # IMMEDIATE transactions (settings) already serialise every writer.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # The key text predates this app; kept so old and new code share the lock during a rollout.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"ingestion-job:{kind}".encode())])


def job_start(*, kind: str, parameters: dict[str, Any], job_id: int | None = None) -> Job:
    """A running job of `kind`.

    With `job_id`, the job a command queued for a worker (pending -> running).
    Without, a new one, unless one of its kind is running (JobAlreadyRunning): one
    sync, import or training of a kind at a time. A stale one is failed first.
    """
    if job_id is not None:
        job = Job.objects.filter(pk=job_id).first()
        if job is None:
            raise JobNotFound(f"no job #{job_id}")
        if job.status in ACTIVE_STATUSES:
            Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, started_at=job.started_at or timezone.now())
            job.refresh_from_db()
        return job
    with transaction.atomic():
        _kind_lock(kind)
        jobs_stale_fail(kind=kind)
        running = job_running(kind=kind)
        if running is not None:
            raise JobAlreadyRunning(running)
        return Job.objects.create(kind=kind, status=JobStatus.RUNNING, parameters=parameters, started_at=timezone.now())


def job_progress(
    *,
    job_id: int,
    counts: Counts | None = None,
    errors: Iterable[dict[str, Any]] = (),
    done: int = 0,
    total: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> Job:
    """Add to a job's counters, errors and progress, under a row lock (the chunks of
    one job finish in parallel). Also the job's heartbeat: the sweep fails only jobs
    whose progress stopped."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if counts is not None:
            job.rows_created += counts.created
            job.rows_updated += counts.updated
            job.rows_unchanged += counts.unchanged
            job.rows_skipped += counts.skipped
        new_errors = list(errors)
        if new_errors:
            room = MAX_JOB_ERRORS - len(job.errors)
            job.errors = [*job.errors, *new_errors[: max(room, 0)]]
        job.progress_done += done
        if total is not None:
            job.progress_total = total
        if parameters:
            job.parameters = {**job.parameters, **parameters}
        job.save()
        return job


def job_finish(
    *,
    job_id: int,
    status: str,
    message: str,
    counts: Counts | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> bool:
    """Finish a running job, once: a conditional update, so two last chunks cannot
    both finish it and a job the sweep already failed stays failed. `counts` and
    `errors`, when given, are the job's totals (they replace what progress added).
    False when the job was no longer running."""
    now = timezone.now()
    values: dict[str, Any] = {"status": status, "message": message[:MAX_MESSAGE_CHARS], "finished_at": now}
    if counts is not None:
        values |= {
            "rows_created": counts.created,
            "rows_updated": counts.updated,
            "rows_unchanged": counts.unchanged,
            "rows_skipped": counts.skipped,
            "progress_done": counts.total + counts.skipped,
            "progress_total": counts.total + counts.skipped,
        }
    if errors is not None:
        values["errors"] = errors
    return Job.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(updated_at=now, **values) == 1


def job_failure_text(error: BaseException) -> str:
    """The reason a job failed, for the jobs page: the exception's type and message."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextlib.contextmanager
def job_fails_on_error(job_id: int) -> Iterator[None]:
    """Run a job's work; whatever escapes it fails the job with the reason and goes on.

    BaseException too: after Ctrl-C, SystemExit or a RecursionError nothing runs the
    job any more, and a job left "running" refuses every job of its kind until the
    sweep. The finish is conditional, so a job its own code already finished keeps
    its outcome.
    """
    try:
        yield
    except BaseException as error:
        try:
            job_finish(job_id=job_id, status=JobStatus.FAILED, message=job_failure_text(error))
        except Exception:
            # The database may be what broke: the sweep fails the job later; the
            # original error is the one to report.
            logger.exception("could not record the failure of job #%s", job_id)
        raise


def jobs_stale_fail(*, kind: str | None = None, older_than: dt.timedelta | None = None) -> int:
    """Fail jobs of any kind (or of `kind`) that stopped without finishing: running or
    pending, and not updated for `older_than` (JOB_STALE_S by default: beyond Celery's
    hard time limit, so their worker was killed or lost). Returns how many."""
    cutoff = timezone.now() - older_than if older_than is not None else stale_before()
    stale = Job.objects.filter(status__in=ACTIVE_STATUSES, updated_at__lt=cutoff)
    if kind is not None:
        stale = stale.filter(kind=kind)
    minutes = int((timezone.now() - cutoff).total_seconds()) // 60
    return stale.update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
        message=f"stopped without finishing: no progress for {minutes} minutes (worker killed or lost); start it again",
    )
