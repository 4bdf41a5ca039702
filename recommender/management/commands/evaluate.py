"""Fit on one pairs file, score another prequentially (../shared/docs/evaluation.md)."""

import json
import time

from django.core.management.base import CommandError, CommandParser

from recommender.management.offline_evaluation import PAIRS_HELP, OfflineEvaluationCommand
from recommender.ml.dataset import run_classes_of
from recommender.ml.evaluation import breakdowns_json, evaluation_report, format_report


class Command(OfflineEvaluationCommand):
    help = (
        "Fit the recommender on --train-pairs and score --test-pairs in run order (each pair sees only labels "
        "of earlier runs), against persistence and the predecessor's ranking. Run features come from the database."
    )

    pairs_options = {"--train-pairs": PAIRS_HELP, "--test-pairs": "Certhelper pairs file scored prequentially"}
    json_help = "print one JSON object of the headline figures"

    def options_add(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--compare-without-oms",
            action="store_true",
            help="also fit the same model without OMS/DQM run features (adds model_without_oms)",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        runs = self.runs_frame(options)
        classes = run_classes_of(runs)
        train = self.labels_load(options["train_pairs"], classes)
        test = self.labels_load(options["test_pairs"], classes)
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
            out["rank1_not_persistence"] = report["rank1_not_persistence"]
            out["by"] = breakdowns_json(report["records"], keys)
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(format_report(report))
