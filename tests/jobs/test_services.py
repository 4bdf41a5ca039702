"""The job record's services: what every sync, import and training relies on."""

import pytest

from jobs.models import Job, JobKind, JobStatus
from jobs.services import (
    MAX_JOB_ERRORS,
    Counts,
    JobAlreadyRunning,
    JobNotFound,
    job_finish,
    job_progress,
    job_start,
)

pytestmark = pytest.mark.django_db


def test_it_adds_counts_and_leaves_skipped_rows_out_of_the_total():
    counts = Counts(created=1, updated=2)
    counts += Counts(unchanged=3, skipped=4)

    assert (counts.created, counts.updated, counts.unchanged, counts.skipped) == (1, 2, 3, 4)
    assert counts.total == 6


def test_it_starts_one_running_job_per_kind():
    first = job_start(kind=JobKind.OMS_SYNC, parameters={"mode": "incremental"})

    with pytest.raises(JobAlreadyRunning, match=f"job #{first.pk}"):
        job_start(kind=JobKind.OMS_SYNC, parameters={})
    assert job_start(kind=JobKind.TRAINING, parameters={}).status == JobStatus.RUNNING


def test_it_adopts_a_queued_job_and_refuses_an_unknown_one():
    queued = Job.objects.create(kind=JobKind.CERTHELPER_SYNC, status=JobStatus.PENDING)

    assert job_start(kind=JobKind.CERTHELPER_SYNC, parameters={}, job_id=queued.pk).status == JobStatus.RUNNING
    with pytest.raises(JobNotFound):
        job_start(kind=JobKind.CERTHELPER_SYNC, parameters={}, job_id=queued.pk + 1000)


def test_progress_adds_up_and_keeps_a_bounded_error_list():
    job = job_start(kind=JobKind.OMS_DUMP_IMPORT, parameters={"paths": []})
    errors = [{"file": "x", "line": n, "reason": "bad"} for n in range(MAX_JOB_ERRORS + 10)]

    job_progress(job_id=job.pk, counts=Counts(created=2, skipped=1), errors=errors[:5], done=3, total=10)
    job = job_progress(
        job_id=job.pk, counts=Counts(updated=1), errors=errors[5:], done=1, parameters={"window": [1, 2]}
    )

    assert (job.rows_created, job.rows_updated, job.rows_skipped) == (2, 1, 1)
    assert (job.progress_done, job.progress_total) == (4, 10)
    assert len(job.errors) == MAX_JOB_ERRORS and job.parameters == {"paths": [], "window": [1, 2]}


def test_a_job_finishes_once_with_its_totals():
    job = job_start(kind=JobKind.PAIRS_IMPORT, parameters={})

    assert job_finish(
        job_id=job.pk, status=JobStatus.SUCCEEDED, message="done", counts=Counts(created=3, skipped=1), errors=[]
    )
    assert not job_finish(job_id=job.pk, status=JobStatus.FAILED, message="a second finisher")

    job.refresh_from_db()
    assert (job.status, job.message, job.rows_created, job.rows_skipped) == (JobStatus.SUCCEEDED, "done", 3, 1)
    assert job.progress_done == job.progress_total == 4 and job.finished_at is not None
