"""How well "needs a reference" foretells the shifters' switches, on the forward-chaining folds."""

import json
import math

from django.core.management.base import CommandError

from recommender.management.offline_evaluation import PAIRS_HELP, OfflineEvaluationCommand
from recommender.ml.crossval import FOLDS
from recommender.ml.dataset import run_classes_of
from recommender.ml.needs_reference import FOLLOW_WINDOW, switch_detection
from recommender.ml.run_table import RunTable


class Command(OfflineEvaluationCommand):
    help = (
        "Per fold window and run class: the share of the shifters' switches whose run (or one of the group's "
        f"{FOLLOW_WINDOW} runs before it) was flagged as needing a reference, and the flags per 100 runs that no "
        f"switch followed within {FOLLOW_WINDOW} runs. Run features from the database."
    )
    pairs_options = {"--pairs": PAIRS_HELP}
    json_help = "print one JSON list"

    def handle(self, *args, **options):
        runs = self.runs_frame(options)
        labels = self.labels_load(options["pairs"], run_classes_of(runs))
        if labels.empty:
            raise CommandError("no pairs")
        windows = [(fold.name, fold.origin, fold.end) for fold in FOLDS]
        rows = switch_detection(labels, RunTable(runs), windows)
        if options["json"]:
            self.stdout.write(json.dumps([{k: (None if v != v else v) for k, v in r.items()} for r in rows], indent=1))
            return
        self.stdout.write(
            f"{'window':<26} {'class':<14} {'runs':>5} {'switches':>8} {'detected':>9} {'flags/100 false':>15}"
        )
        for r in rows:
            share = "-" if math.isnan(r["detected_share"]) else f"{r['detected_share']:.0%}"
            self.stdout.write(
                f"{r['window']:<26} {r['run_class']:<14} {r['runs']:>5} {r['switches']:>8} "
                f"{share:>9} {r['false_flags_per_100_runs']:>15.1f}"
            )
