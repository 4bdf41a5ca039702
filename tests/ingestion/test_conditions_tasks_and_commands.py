"""The conditions sync's edges: the task, its queueing after each OMS sync, the command,
the beat entry and the admin's correction."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from demo.fake_conditions import ConditionsData
from ingestion import tasks
from ingestion.admin import RunAdmin
from ingestion.models import Run, RunClass
from jobs.models import Job, JobKind, JobStatus
from refrun.beat import BEAT_TABLE
from tests.factories import RunFactory
from tests.ingestion.clients.fakes import FIRST_RUN, conditions_settings, oms_settings, running, synthetic_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(settings):
    data = synthetic_data(runs=12, lumisections=3)
    data.conditions = ConditionsData(pv_means={FIRST_RUN + 1: {"/ZeroBias/Run2018D-PromptReco-v1/DQMIO": 44.0}})
    with running(data) as server:
        oms_settings(settings, server)
        settings.REFRUN_DATA = ""
        yield server


def test_an_oms_sync_queues_the_conditions_of_its_range(
    fake, settings, monkeypatch, django_capture_on_commit_callbacks
):
    conditions_settings(settings, fake)
    queued = []
    monkeypatch.setattr(tasks.conditions_sync, "delay", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.runs_sync.apply(kwargs={"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}).get()

    assert queued == [{"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}]


def test_nothing_is_queued_without_a_conditions_service(
    fake, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.APV_MODE_URL = ""
    settings.DIALS_CLIENT_ID = ""
    queued = []
    monkeypatch.setattr(tasks.conditions_sync, "delay", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.runs_sync.apply(kwargs={"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}).get()

    assert queued == []


def test_the_task_and_the_command_sync_the_range(fake, settings):
    conditions_settings(settings, fake)
    tasks.runs_sync.apply(kwargs={"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}).get()

    status = tasks.conditions_sync.apply(kwargs={"run_from": FIRST_RUN, "run_to": FIRST_RUN + 11}).get()
    out = io.StringIO()
    call_command("sync_conditions", "--from", FIRST_RUN, "--to", FIRST_RUN + 11, stdout=out)

    assert "succeeded" in status and Run.objects.get(run_number=FIRST_RUN + 1).pv_mean == pytest.approx(44.0)
    assert "pv_mean: 1 runs known of 12 runs asked, 0 changed" in out.getvalue()
    assert Job.objects.filter(kind=JobKind.CONDITIONS_SYNC, status=JobStatus.SUCCEEDED).count() == 2


def test_the_command_says_why_a_sync_failed(fake, settings):
    conditions_settings(settings, fake)
    settings.DIALS_CLIENT_SECRET = ""
    settings.APV_MODE_URL = ""
    RunFactory(run_number=FIRST_RUN)

    with pytest.raises(CommandError, match="DIALS credentials are not configured"):
        call_command("sync_conditions", "--from", FIRST_RUN, "--to", FIRST_RUN, stdout=io.StringIO())


def test_the_command_wants_both_ends():
    with pytest.raises(CommandError, match="go together"):
        call_command("sync_conditions", "--from", 1, stdout=io.StringIO())


def test_the_beat_runs_it_hourly_with_no_range():
    entry = next(e for e in BEAT_TABLE if e.key == "SYNC_CONDITIONS")
    assert entry.task == "ingestion.tasks.conditions_sync" and entry.cron == "41 * * * *"


def test_an_admins_correction_is_kept_over_every_source(rf, admin_ada):
    from django.contrib.admin.sites import site

    run = RunFactory(run_number=330001, run_class=RunClass.COSMICS, apv_mode="DECO", sources={"apv_mode": "dials"})
    admin = RunAdmin(Run, site)
    run.apv_mode = "PEAK"
    form = type("Form", (), {"changed_data": ["apv_mode"]})()
    admin.save_model(rf.post("/"), run, form, change=True)

    from ingestion.services import runs_upsert

    runs_upsert(rows=[{"run_number": 330001, "apv_mode": "DECO"}], source="oms_api")
    run.refresh_from_db()
    assert (run.apv_mode, run.sources["apv_mode"]) == ("PEAK", "admin")


def test_a_conditions_sync_waits_for_the_one_running(db, settings, monkeypatch):
    from jobs.services import job_start

    job_start(kind=JobKind.CONDITIONS_SYNC, parameters={})

    retries = []
    original = tasks.conditions_sync.retry

    def counted(*args, **kwargs):
        retries.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.conditions_sync, "retry", counted)
    # Eager: each retry runs at once; a worker would wait a minute between them.
    status = tasks.conditions_sync.apply(kwargs={"run_from": 1, "run_to": 2}).get()

    assert status.startswith("skipped: Conditions sync is already running")
    assert retries == [tasks.CONDITIONS_BUSY_RETRY_S] * tasks.CONDITIONS_BUSY_RETRIES


def test_a_backfill_chunk_queues_the_conditions_of_its_runs(
    fake, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from ingestion.services import runs_backfill_plan

    conditions_settings(settings, fake)
    queued = []
    monkeypatch.setattr(tasks.conditions_sync, "delay", lambda **kwargs: queued.append(kwargs))
    job, ranges = runs_backfill_plan(run_from=FIRST_RUN, run_to=FIRST_RUN + 11, chunk_runs=100)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.runs_chunk_sync.apply(args=[job.pk, *ranges[0]]).get()

    assert queued == [{"run_from": ranges[0][0], "run_to": ranges[0][1]}]
