"""Import Certhelper's (run, reference) pairs.

Certhelper's owners ask for rare calls: at most one a day (CERTHELPER_MIN_INTERVAL_S)
and never two within an hour. `--force` lifts the daily rule for an admin who
knows why; nothing lifts the hourly one.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ingestion.clients import CerthelperError
from jobs.services import JobAlreadyRunning


class Command(BaseCommand):
    help = "Import Certhelper's reference-run pairs (at most daily; never twice within an hour)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="ignore the daily interval (not the hourly floor)")
        parser.add_argument("--async", dest="use_workers", action="store_true", help="queue it to a Celery worker")

    def handle(self, *args, force, use_workers, **options):
        if use_workers:
            from recommender.tasks import certhelper_sync

            transaction.on_commit(lambda: certhelper_sync.delay(force=force))
            self.stdout.write("Certhelper sync queued")
            return
        from recommender.certhelper_sync import certhelper_sync

        try:
            job = certhelper_sync(force=force)
        except (CerthelperError, JobAlreadyRunning) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Ingestion job #{job.pk} {job.status}: {job.message}")
