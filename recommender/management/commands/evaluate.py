"""Fit on one pairs file, score another prequentially (../shared/docs/evaluation.md)."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ingestion.parsers import parse_certhelper_pairs
from recommender.ml.certification import with_good_lumisections
from recommender.ml.dataset import labels_from_pair_rows, run_classes_of
from recommender.ml.evaluation import breakdowns_json, evaluation_report, format_report
from recommender.selectors import run_features_frame


def _labels(path: str, run_classes, stderr):
    parsed = parse_certhelper_pairs(path)
    if parsed.fatal:
        raise CommandError(f"{path}: {parsed.fatal}")
    for error in parsed.errors[:10]:
        stderr.write(f"skipped {error}")
    if len(parsed.errors) > 10:
        stderr.write(f"... {len(parsed.errors) - 10} more rows skipped in {path}")
    return labels_from_pair_rows(parsed.rows, run_classes)


class Command(BaseCommand):
    help = (
        "Fit the recommender on --train-pairs and score --test-pairs in run order (each pair sees only labels "
        "of earlier runs), against persistence and the predecessor's ranking. Run features come from the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--train-pairs", required=True, help="Certhelper pairs file (CSV or JSON, .gz ok)")
        parser.add_argument("--test-pairs", required=True, help="Certhelper pairs file scored prequentially")
        parser.add_argument(
            "--certification-dir",
            default=settings.REFRUN_DATA,
            help="directory with certification_json_*.json masks (default: REFRUN_DATA)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object of the headline figures")
        parser.add_argument(
            "--compare-without-oms",
            action="store_true",
            help="also fit the same model without OMS/DQM run features (adds model_without_oms)",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        runs = with_good_lumisections(run_features_frame(), options["certification_dir"])
        classes = run_classes_of(runs)
        train = _labels(options["train_pairs"], classes, self.stderr)
        test = _labels(options["test_pairs"], classes, self.stderr)
        if train.empty:
            raise CommandError("no training pairs")
        report = evaluation_report(train, test, runs, compare_without_oms=options["compare_without_oms"])
        report["seconds"] = round(time.perf_counter() - started, 2)
        if options["json"]:
            keys = ["model", "persistence", "predecessor"]
            if options["compare_without_oms"]:
                keys.append("model_without_oms")
            out = {k: report["summary"][k] for k in keys}
            out["seconds"] = report["seconds"]
            out["by"] = breakdowns_json(report["records"], keys)
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(format_report(report))
