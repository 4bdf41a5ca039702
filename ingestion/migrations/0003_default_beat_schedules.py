"""The default beat table, the project's one list of schedules: OMS sync every 15
minutes, stored recommendations refreshed after each sync, Certhelper daily,
retraining nightly. Rows in django-celery-beat, so shift leaders can change or disable them
in the admin; this migration only creates the ones that are missing.

Each entry expires before its next run, so runs never pile up behind a stuck worker.
"""

from django.db import migrations

HOUR = 3600

DEFAULT_SCHEDULES = [
    {
        "name": "OMS sync (every 15 minutes)",
        "task": "ingestion.tasks.sync_oms",
        # crontab.guru: "*/15 * * * *" = at every 15th minute
        "crontab": {"minute": "*/15", "hour": "*"},
        "expire_seconds": 14 * 60,
        "description": "Fetch the runs OMS has after the newest run fully ingested, plus a look-back window.",
    },
    {
        "name": "Refresh stored recommendations (every 15 minutes, after the OMS sync)",
        "task": "recommender.tasks.refresh_recommendations",
        # crontab.guru: "5-59/15 * * * *" = every 15th minute from 5 through 59, 5 minutes after each sync
        "crontab": {"minute": "5-59/15", "hour": "*"},
        "expire_seconds": 14 * 60,
        "description": "Store the first choices for the newest runs awaiting a decision, so the runs page shows them.",
    },
    {
        "name": "Certhelper pairs (daily)",
        "task": "ingestion.tasks.sync_certhelper",
        # crontab.guru: "17 6 * * *" = at 06:17 UTC; off the hour so it misses other cron jobs
        "crontab": {"minute": "17", "hour": "6"},
        "expire_seconds": 23 * HOUR,
        "description": "Import Certhelper's (run, reference) pairs. The client refuses to call more than once a day "
        "(CERTHELPER_MIN_INTERVAL_S), and never more than once an hour.",
    },
    {
        "name": "Retrain the recommender (nightly)",
        "task": "recommender.tasks.retrain",
        # crontab.guru: "30 3 * * *" = at 03:30 UTC, after the night's syncs
        "crontab": {"minute": "30", "hour": "3"},
        "expire_seconds": 20 * HOUR,
        "description": "Refit the model when the labels changed; keep the new version only if it is not worse.",
    },
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for entry in DEFAULT_SCHEDULES:
        if PeriodicTask.objects.filter(name=entry["name"]).exists():
            continue
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=entry["crontab"]["minute"],
            hour=entry["crontab"]["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.create(
            name=entry["name"],
            task=entry["task"],
            crontab=crontab,
            args="[]",
            kwargs="{}",
            expire_seconds=entry["expire_seconds"],
            description=entry["description"],
            enabled=True,
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[entry["name"] for entry in DEFAULT_SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0002_sync_chunk_and_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
