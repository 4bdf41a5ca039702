"""What the offline evaluation commands (evaluate, cross_validate) share: the
Certhelper pairs files, certification masks and output flag they take, the run
features with good lumisections, and pairs files read into labels."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.parsers import parse_certhelper_pairs
from recommender.ml.certification import with_good_lumisections
from recommender.ml.dataset import labels_from_pair_rows
from recommender.selectors import run_features_frame

PAIRS_HELP = "Certhelper pairs file (CSV or JSON, .gz ok)"
# Enough skipped rows to show what is wrong with a file without burying the report.
_SKIPPED_SHOWN = 10


class OfflineEvaluationCommand(BaseCommand):
    """Scores the recommender on Certhelper pairs files, against the run features
    in the database."""

    #: The pairs files the command reads: option -> help. Each is required.
    pairs_options: dict[str, str]
    json_help: str

    def add_arguments(self, parser: CommandParser) -> None:
        for option, help_text in self.pairs_options.items():
            parser.add_argument(option, required=True, help=help_text)
        parser.add_argument(
            "--certification-dir",
            default=settings.REFRUN_DATA,
            help="directory with certification_json_*.json masks (default: REFRUN_DATA)",
        )
        parser.add_argument("--json", action="store_true", help=self.json_help)
        self.options_add(parser)

    def options_add(self, parser: CommandParser) -> None:
        """The command's own options, after the shared ones."""

    def runs_frame(self, options: dict):
        """Run features from the database, with the good lumisections of the masks."""
        return with_good_lumisections(run_features_frame(), options["certification_dir"])

    def labels_load(self, path: str, run_classes):
        parsed = parse_certhelper_pairs(path)
        if parsed.fatal:
            raise CommandError(f"{path}: {parsed.fatal}")
        for error in parsed.errors[:_SKIPPED_SHOWN]:
            self.stderr.write(f"skipped {error}")
        if len(parsed.errors) > _SKIPPED_SHOWN:
            self.stderr.write(f"... {len(parsed.errors) - _SKIPPED_SHOWN} more rows skipped in {path}")
        return labels_from_pair_rows(parsed.rows, run_classes)
