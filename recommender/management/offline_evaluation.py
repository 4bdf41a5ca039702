"""What the offline evaluation commands (evaluate, cross_validate) share: the
certification masks and output flag they take, the run features with good
lumisections, and Certhelper pairs files read into labels."""

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from ingestion.parsers import parse_certhelper_pairs
from recommender.ml.certification import with_good_lumisections
from recommender.ml.dataset import labels_from_pair_rows
from recommender.selectors import run_features_frame

# Enough skipped rows to show what is wrong with a file without burying the report.
_SKIPPED_SHOWN = 10


def arguments_add(parser: CommandParser, *, json_help: str) -> None:
    parser.add_argument(
        "--certification-dir",
        default=settings.REFRUN_DATA,
        help="directory with certification_json_*.json masks (default: REFRUN_DATA)",
    )
    parser.add_argument("--json", action="store_true", help=json_help)


def runs_frame(options: dict):
    """Run features from the database, with the good lumisections of the masks."""
    return with_good_lumisections(run_features_frame(), options["certification_dir"])


def labels_load(path: str, run_classes, stderr):
    parsed = parse_certhelper_pairs(path)
    if parsed.fatal:
        raise CommandError(f"{path}: {parsed.fatal}")
    for error in parsed.errors[:_SKIPPED_SHOWN]:
        stderr.write(f"skipped {error}")
    if len(parsed.errors) > _SKIPPED_SHOWN:
        stderr.write(f"... {len(parsed.errors) - _SKIPPED_SHOWN} more rows skipped in {path}")
    return labels_from_pair_rows(parsed.rows, run_classes)
