from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _change_triggers_install(sender, using, **kwargs) -> None:
    from django.db import connections

    from .changes import change_triggers_install

    change_triggers_install(using_connection=connections[using])


class RecommenderConfig(AppConfig):
    name = "recommender"
    verbose_name = "Reference-run recommender"

    def ready(self) -> None:
        # Register the tasks in every process, the web's too: training queues the
        # refresh by its name (recommender.training.REFRESH_TASK).
        from . import tasks  # noqa: F401

        # After every migrate (and test database setup or flush), not only in the migration
        # that made them: SQLite alters a table by rebuilding it, which drops its triggers.
        post_migrate.connect(_change_triggers_install, sender=self, dispatch_uid="recommender_change_triggers")
