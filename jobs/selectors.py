"""Reads of the job record."""

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .models import Job, JobStatus


def stale_before() -> dt.datetime:
    """A running job not updated since then has lost its worker."""
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_S)


def job_running(*, kind: str) -> Job | None:
    """The live running job of this kind, if any (a stale one does not count)."""
    return (
        Job.objects.filter(kind=kind, status=JobStatus.RUNNING, updated_at__gte=stale_before())
        .order_by("-created_at")
        .first()
    )


def jobs_newest(*, limit: int) -> QuerySet[Job]:
    """The jobs page: the newest jobs of every kind."""
    return Job.objects.order_by("-created_at")[:limit]
