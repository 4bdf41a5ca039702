"""The PeriodicTask rows django-celery-beat runs, kept in step with the beat table
(settings.REFRUN_BEAT, from refrun/beat.py). See refrun/beat.py for the rules:
rows created when missing, task and expiry from code, the environment's overrides
applied, the admin's schedule edits kept otherwise."""

from django.conf import settings
from django.db import transaction


@transaction.atomic
def beat_rows_sync(*, using: str = "default") -> int:
    """Make the rows agree with the table; returns how many rows were created."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    created = 0
    for scheduled in settings.REFRUN_BEAT:
        entry = scheduled.entry
        crontab, _ = CrontabSchedule.objects.using(using).get_or_create(timezone="UTC", **entry.crontab_fields())
        row = PeriodicTask.objects.using(using).filter(name=entry.name).first()
        if row is None:
            PeriodicTask.objects.using(using).create(
                name=entry.name,
                task=entry.task,
                crontab=crontab,
                args="[]",
                kwargs="{}",
                expire_seconds=entry.expires_s,
                description=entry.description,
                enabled=entry.enabled,
            )
            created += 1
            continue
        row.task, row.expire_seconds = entry.task, entry.expires_s
        if scheduled.overridden:
            row.crontab, row.interval, row.solar, row.clocked = crontab, None, None, None
            row.enabled = entry.enabled
        row.save()
    return created


def beat_rows_sync_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """post_migrate hook (jobs.apps), also run after a test database is flushed."""
    from django.db import connections
    from django_celery_beat.models import PeriodicTask

    if PeriodicTask._meta.db_table in connections[using].introspection.table_names():
        beat_rows_sync(using=using)
