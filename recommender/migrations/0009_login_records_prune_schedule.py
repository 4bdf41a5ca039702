"""Beat entry for pruning login records (recommender.tasks.login_records_prune): hourly.
Created only if missing, so an admin's edits survive."""

from django.db import migrations

NAME = "Prune login-failure counters (hourly)"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    # crontab.guru: "37 * * * *" = minute 37 of every hour, away from the syncs and the sweep
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="37", hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.create(
        name=NAME,
        task="recommender.tasks.login_records_prune",
        crontab=crontab,
        args="[]",
        kwargs="{}",
        expire_seconds=50 * 60,
        description="Login-failure counters whose window is over and addresses unused for "
        "LOGIN_KNOWN_ADDRESS_DAYS are deleted.",
        enabled=True,
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0008_runreconstruction_reopened"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
