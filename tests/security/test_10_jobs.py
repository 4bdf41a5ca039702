"""Finding 10: jobs killed by the OS stayed "running" forever (the jobs page reloaded
every 5 s forever), and two triggers of the same sync or retrain ran twice."""

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ingestion import tasks as ingestion_tasks
from jobs import tasks as jobs_tasks
from jobs.models import Job, JobKind, JobStatus
from jobs.services import JobAlreadyRunning, job_start
from recommender import tasks as recommender_tasks
from recommender.training import model_version_train

pytestmark = pytest.mark.django_db


def _running(kind: str, *, idle: dt.timedelta = dt.timedelta(0)) -> Job:
    job = Job.objects.create(kind=kind, status=JobStatus.RUNNING, started_at=timezone.now() - idle)
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - idle)
    return job


@pytest.mark.parametrize("kind", JobKind.values)
def test_the_beat_sweep_fails_a_job_of_any_kind_whose_worker_was_killed(kind, settings):
    dead = _running(kind, idle=dt.timedelta(seconds=settings.JOB_STALE_S + 60))
    alive = _running(JobKind.PAIRS_IMPORT if kind != JobKind.PAIRS_IMPORT else JobKind.TRAINING)

    jobs_tasks.jobs_sweep()

    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == JobStatus.FAILED and dead.finished_at is not None
    assert "no progress" in dead.message
    assert alive.status == JobStatus.RUNNING


def test_the_sweep_is_in_the_beat_schedule():
    entry = PeriodicTask.objects.get(task="jobs.tasks.jobs_sweep")
    assert entry.enabled and entry.crontab is not None


def test_the_jobs_page_stops_reloading_once_a_dead_job_is_swept(client, leader_lea, settings):
    _running(JobKind.TRAINING, idle=dt.timedelta(seconds=settings.JOB_STALE_S + 60))
    jobs_tasks.jobs_sweep()
    client.force_login(leader_lea)

    body = client.get(reverse("recommender:job_list")).content.decode()

    assert 'data-refresh=""' in body


@pytest.mark.parametrize(
    ("trigger", "kind"), [("oms", "oms_sync"), ("certhelper", "certhelper_sync"), ("retrain", "training")]
)
def test_a_second_trigger_says_already_running_and_queues_nothing(
    client, leader_lea, trigger, kind, monkeypatch, django_capture_on_commit_callbacks
):
    job = _running(kind)
    queued = []
    task = {
        "oms": ingestion_tasks.runs_sync,
        "certhelper": recommender_tasks.certhelper_sync,
        "retrain": recommender_tasks.model_version_train,
    }[trigger]
    monkeypatch.setattr(task, "delay", lambda *a, **k: queued.append(trigger))
    client.force_login(leader_lea)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("recommender:job_trigger", args=[trigger]))

    assert response.status_code == 302 and queued == []
    messages = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert f"already running (job #{job.pk})" in messages


def test_a_second_retrain_queued_anyway_does_not_train(monkeypatch):
    running = _running(JobKind.TRAINING)
    import recommender.training as training

    monkeypatch.setattr(training, "labels_frame", lambda **kwargs: pytest.fail("trained twice at once"))

    outcome = recommender_tasks.model_version_train()

    assert f"already running (job #{running.pk})" in outcome
    assert Job.objects.filter(kind=JobKind.TRAINING).count() == 1
    with pytest.raises(JobAlreadyRunning):
        model_version_train()


def test_a_dead_job_does_not_block_the_next_one(settings):
    _running(JobKind.PAIRS_IMPORT, idle=dt.timedelta(seconds=settings.JOB_STALE_S + 60))

    job = job_start(kind=JobKind.PAIRS_IMPORT, parameters={})

    assert job.status == JobStatus.RUNNING
    assert Job.objects.filter(kind=JobKind.PAIRS_IMPORT, status=JobStatus.RUNNING).count() == 1
