"""APV mode and primary vertices from their live services, for a range of runs.

manage.py sync_conditions                          the newest CONDITIONS_LOOKBACK_RUNS run numbers, as beat does
manage.py sync_conditions --from 315000 --to 315500    a backfill of the runs the mirror has in that range
"""

from django.core.management.base import BaseCommand, CommandError

from ingestion.management.run_range import add_run_range_arguments
from ingestion.services import conditions_sync
from jobs.models import JobStatus
from jobs.services import JobAlreadyRunning


class Command(BaseCommand):
    help = "Sync APV modes and PV means (APV_MODE_URL, DIALS_API_URL) into the runs RefRun has."

    def add_arguments(self, parser):
        add_run_range_arguments(parser)

    def handle(self, *args, run_from, run_to, **options):
        if (run_from is None) != (run_to is None):
            raise CommandError("--from and --to go together")
        if run_from is not None and run_to < run_from:
            raise CommandError("--to is below --from")
        try:
            job = conditions_sync(run_min=run_from, run_max=run_to)
        except JobAlreadyRunning as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Conditions job #{job.pk} {job.status}: {job.message}")
        for error in job.errors[:20]:
            self.stdout.write(f"  {error['reason']}")
        if job.status == JobStatus.FAILED:
            raise CommandError(f"conditions sync failed (job #{job.pk}): {job.message}")
