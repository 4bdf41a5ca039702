"""Sync runs, fills and lumisections from OMS.

manage.py sync_oms                          incremental, as beat does every 15 minutes
manage.py sync_oms --from 314000 --to 316000            a backfill here, with a progress bar
manage.py sync_oms --from 314000 --to 316000 --async    the same, in chunks queued to workers
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from ingestion.clients import OmsError
from ingestion.management.run_range import add_run_range_arguments
from ingestion.services import SyncRefused, runs_backfill_plan, runs_sync
from jobs.services import JobAlreadyRunning


class Command(BaseCommand):
    help = "Sync OMS runs (with their fills and lumisections) into RefRun."

    def add_arguments(self, parser):
        add_run_range_arguments(
            parser, from_help="first run number of a backfill", to_help="last run number (default: the newest in OMS)"
        )
        parser.add_argument("--async", dest="use_workers", action="store_true", help="queue chunks to Celery workers")
        parser.add_argument("--chunk-runs", type=int, default=None, help="run numbers per chunk (OMS_SYNC_CHUNK_RUNS)")

    def handle(self, *args, run_from, run_to, use_workers, chunk_runs, verbosity, **options):
        if run_to is not None and run_from is None:
            raise CommandError("--to needs --from")
        if use_workers:
            if run_from is None or run_to is None:
                raise CommandError("--async needs --from and --to")
            self._enqueue(run_from, run_to, chunk_runs)
            return
        bar = tqdm(unit="run", desc="OMS sync", disable=verbosity == 0)
        try:
            job = runs_sync(run_from=run_from, run_to=run_to, chunk_runs=chunk_runs, on_run=lambda n: bar.update(1))
        except (OmsError, SyncRefused, JobAlreadyRunning) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(f"Ingestion job #{job.pk} {job.status}: {job.message}")
        for error in job.errors[:20]:
            self.stdout.write(f"  {error['reason']}")

    def _enqueue(self, run_from: int, run_to: int, chunk_runs: int | None) -> None:
        from ingestion.tasks import runs_chunk_sync

        try:
            with transaction.atomic():
                job, ranges = runs_backfill_plan(run_from=run_from, run_to=run_to, chunk_runs=chunk_runs)

                def enqueue():
                    for first, last in ranges:
                        runs_chunk_sync.delay(job.pk, first, last)

                transaction.on_commit(enqueue)
        except (SyncRefused, JobAlreadyRunning) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Ingestion job #{job.pk}: {len(ranges)} chunks queued for runs {run_from}-{run_to}")
