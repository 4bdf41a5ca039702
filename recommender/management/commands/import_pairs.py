"""Import Certhelper's (run, reference run) pairs as labels: `manage.py import_pairs FILE`.

FILE is the `allRunsRefRuns` JSON list or its CSV copy (optionally gzipped). The
parser is ingestion.parsers.parse_certhelper_pairs; the writes are
recommender.services.reference_pairs_import. This command only wires them up.
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.services import DEFAULT_BATCH_SIZE
from recommender.services import certhelper_pairs_file_import


class Command(BaseCommand):
    help = "Import Certhelper reference-run pairs (JSON or CSV export) as labels."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Certhelper export: JSON list or CSV, optionally .gz")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        with tqdm(unit=" rows", disable=not sys.stdout.isatty(), file=sys.stderr, desc="import_pairs") as bar:
            report = certhelper_pairs_file_import(
                path=options["file"], batch_size=options["batch_size"], progress=bar.update
            )
        for line in report.lines():
            self.stdout.write(line)
        if report.failed:
            raise CommandError("the file could not be read completely; see FAILED above")
