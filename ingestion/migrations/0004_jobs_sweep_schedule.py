"""Beat entry for the stale-job sweep (ingestion.tasks.jobs_sweep): every 10 minutes,
jobs of any kind whose worker was killed are failed. Created only if missing."""

from django.db import migrations

NAME = "Fail jobs whose worker was killed (every 10 minutes)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    # crontab.guru: "3-59/10 * * * *" = every 10th minute from 3, off the syncs' quarter hours
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="3-59/10", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME,
        task="ingestion.tasks.jobs_sweep",
        crontab=crontab,
        args="[]",
        kwargs="{}",
        expire_seconds=9 * 60,
        description="Running jobs not updated for JOB_STALE_S lost their worker: mark them failed, "
        "so the jobs page stops waiting and the next trigger starts.",
        enabled=True,
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0003_default_beat_schedules")]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
