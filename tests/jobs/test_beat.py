"""The beat table: defined once in refrun/beat.py, overridable from the
environment, and kept in step with the rows django-celery-beat runs."""

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from jobs.beat import beat_rows_sync
from refrun.beat import BEAT_TABLE, BeatConfigError, beat_table, parse_cron


def _entry(table, key):
    return next(s for s in table if s.entry.key == key)


def test_it_takes_the_code_table_without_overrides():
    table = beat_table({})

    assert [s.entry for s in table] == list(BEAT_TABLE)
    assert not any(s.overridden for s in table)


def test_it_overrides_a_schedule_from_the_environment():
    table = beat_table({"REFRUN_BEAT_SYNC_OMS": "*/5  * * * *"})

    oms = _entry(table, "SYNC_OMS")
    assert oms.overridden and oms.entry.cron == "*/5 * * * *" and oms.entry.enabled
    assert not _entry(table, "RETRAIN").overridden


def test_disable_turns_an_entry_off():
    retrain = _entry(beat_table({"REFRUN_BEAT_RETRAIN": "disable"}), "RETRAIN")

    assert retrain.overridden and not retrain.entry.enabled


@pytest.mark.parametrize("value", ["every 15 minutes", "*/15 * * *", "61 * * * *", "* 24 * * *", "0 0 0 * *", "MON"])
def test_a_bad_value_fails_loudly(value):
    with pytest.raises(BeatConfigError, match="REFRUN_BEAT_SYNC_OMS"):
        beat_table({"REFRUN_BEAT_SYNC_OMS": value})


def test_an_unknown_entry_fails_loudly():
    with pytest.raises(BeatConfigError, match="REFRUN_BEAT_SYNC_OSM"):
        beat_table({"REFRUN_BEAT_SYNC_OSM": "* * * * *"})


def test_it_accepts_lists_ranges_and_steps():
    assert parse_cron("5-59/15 0,12 1-31/2 */3 0-6", name="X") == "5-59/15 0,12 1-31/2 */3 0-6"


def test_every_entry_expires_before_its_next_run_and_names_a_registered_task():
    from refrun.celery import app

    app.loader.import_default_modules()
    for entry in BEAT_TABLE:
        assert entry.task in app.tasks, entry.task
        assert entry.expires_s > 0 and entry.cron == parse_cron(entry.cron, name=entry.key)
    assert {e.key: e.expires_s for e in BEAT_TABLE}["SYNC_OMS"] < 15 * 60


@pytest.mark.django_db
def test_the_rows_follow_the_table_after_migrate():
    rows = {row.name: row for row in PeriodicTask.objects.exclude(name__startswith="celery.")}

    assert set(rows) == {entry.name for entry in BEAT_TABLE}
    for entry in BEAT_TABLE:
        row = rows[entry.name]
        assert row.task == entry.task and row.enabled and row.expire_seconds == entry.expires_s
        crontab = row.crontab
        assert (
            f"{crontab.minute} {crontab.hour} {crontab.day_of_month} {crontab.month_of_year} {crontab.day_of_week}"
            == entry.cron
        )


@pytest.mark.django_db
def test_it_creates_missing_rows_keeps_admin_edits_and_fixes_task_names(settings):
    PeriodicTask.objects.filter(name=BEAT_TABLE[0].name).delete()
    certhelper = PeriodicTask.objects.get(task="recommender.tasks.certhelper_sync")
    certhelper.task = "ingestion.tasks.sync_certhelper"  # the name before the sync moved
    certhelper.crontab = CrontabSchedule.objects.create(minute="0", hour="5", timezone="UTC")  # an admin's edit
    certhelper.enabled = False
    certhelper.save()

    assert beat_rows_sync() == 1

    certhelper.refresh_from_db()
    assert certhelper.task == "recommender.tasks.certhelper_sync"
    assert (certhelper.crontab.minute, certhelper.crontab.hour, certhelper.enabled) == ("0", "5", False)
    assert PeriodicTask.objects.filter(name=BEAT_TABLE[0].name, enabled=True).exists()


@pytest.mark.django_db
def test_an_environment_override_wins_over_the_admin(settings):
    settings.REFRUN_BEAT = beat_table({"REFRUN_BEAT_SYNC_OMS": "*/5 * * * *", "REFRUN_BEAT_RETRAIN": "disable"})
    PeriodicTask.objects.filter(task="recommender.tasks.model_version_train").update(enabled=True)

    beat_rows_sync()

    oms = PeriodicTask.objects.get(task="ingestion.tasks.runs_sync")
    assert oms.crontab.minute == "*/5" and oms.enabled
    assert not PeriodicTask.objects.get(task="recommender.tasks.model_version_train").enabled
