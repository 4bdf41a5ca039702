"""Sync the tracker certification and dataset states from the Run Registry.

manage.py sync_runregistry                       the runs RefRun mirrors
manage.py sync_runregistry --from 315000 --to 315500
"""

from django.core.management.base import BaseCommand, CommandError

from ingestion.management.run_range import add_run_range_arguments
from ingestion.models import Run
from ingestion.services.runregistry_sync import TrackerCertificationSyncError, tracker_certification_sync


class Command(BaseCommand):
    help = "Store the Run Registry's tracker flags, run class and dataset states for a range of runs."

    def add_arguments(self, parser):
        add_run_range_arguments(
            parser,
            from_help="first run number (default: the oldest mirrored)",
            to_help="last run number (default: the newest mirrored)",
        )

    def handle(self, *args, run_from, run_to, **options):
        run_from = (
            run_from
            if run_from is not None
            else Run.objects.order_by("run_number").values_list("run_number", flat=True).first()
        )
        run_to = (
            run_to
            if run_to is not None
            else Run.objects.order_by("-run_number").values_list("run_number", flat=True).first()
        )
        if run_from is None or run_to is None:
            raise CommandError("no runs mirrored yet: run sync_oms first, or give --from and --to")
        try:
            counts = tracker_certification_sync(run_min=run_from, run_max=run_to)
        except TrackerCertificationSyncError as exc:
            raise CommandError(f"{exc} (stored before it failed: {exc.counts.as_dict()})") from exc
        summary = ", ".join(f"{k} {v}" for k, v in counts.as_dict().items())
        self.stdout.write(f"Run Registry {run_from}-{run_to}: {summary}")
