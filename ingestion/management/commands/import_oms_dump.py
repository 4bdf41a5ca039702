"""Import OMS dump files into the mirror: `manage.py import_oms_dump PATH...`.

PATH is a file or a directory (every file in it that is recognised; the others are
listed as skipped with the reason). The work is done by
ingestion.services.oms_dump_import; this command only parses arguments, shows a
progress bar and prints the summary.
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ingestion.services import DEFAULT_BATCH_SIZE, oms_dump_import


class Command(BaseCommand):
    help = "Import OMS fills, runs and lumisections (and related per-run dumps) from files or directories."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="dump files or directories of dumps")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per transaction")

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        # The bar goes to stderr and only on a terminal: logs and pipes stay clean.
        with tqdm(unit=" rows", disable=not sys.stdout.isatty(), file=sys.stderr, desc="import_oms_dump") as bar:
            report = oms_dump_import(paths=options["paths"], batch_size=options["batch_size"], progress=bar.update)
        for line in report.lines():
            self.stdout.write(line)
        if report.failed:
            raise CommandError("some files could not be imported; see FAILED above")
        if report.all_rejected:
            # A file none of whose rows could be read is a failed import to a script,
            # though each row's reason is already above and nothing else was lost.
            raise CommandError(
                f"no row of {', '.join(report.all_rejected)} could be imported; see the row errors above"
            )
