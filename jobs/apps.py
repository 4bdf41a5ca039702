from django.apps import AppConfig
from django.db.models.signals import post_migrate


class JobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from .beat import beat_rows_sync_after_migrate

        # sender=self: once per migrate, not once per installed app.
        post_migrate.connect(beat_rows_sync_after_migrate, sender=self, dispatch_uid="jobs.beat_rows_sync")
