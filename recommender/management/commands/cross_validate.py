"""Forward-chaining validation over many origins (recommender.ml.crossval.FOLDS)."""

import hashlib
import inspect
import json
import pickle
import time
from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from recommender.management.offline_evaluation import PAIRS_HELP, OfflineEvaluationCommand
from recommender.ml import crossval, crossval_summary
from recommender.ml.dataset import run_classes_of
from recommender.ml.pipeline import build_pipeline
from recommender.ml.run_table import RunTable


def _cache_key(labels, runs) -> str:
    """Labels, run features and the code that turns them into pools and features."""
    digest = hashlib.sha256()
    digest.update(pickle.dumps((labels, runs), protocol=5))
    ml = Path(crossval.__file__).parent
    for name in (
        "candidates.py",
        "catalogue.py",
        "run_table.py",
        "history.py",
        "pair_features.py",
        "baselines.py",
        "model.py",
        "crossval.py",
    ):
        digest.update((ml / name).read_bytes())
    return digest.hexdigest()[:16]


def _model_params(pairs: list[str]) -> dict:
    """NAME=VALUE options as the pipeline's keyword arguments (numbers where they parse)."""
    known = set(inspect.signature(build_pipeline).parameters) - {"numeric", "categorical"}
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in known:
            raise CommandError(f"--model-param {pair!r}: expected NAME=VALUE with NAME one of {sorted(known)}")
        try:
            out[name] = int(value)
        except ValueError:
            try:
                out[name] = float(value)
            except ValueError as error:
                raise CommandError(f"--model-param {pair!r}: {value!r} is not a number") from error
    return out


class Command(OfflineEvaluationCommand):
    help = (
        "Train on everything before each origin and score the next period prequentially, for origins over every "
        "year of the pairs; every fold, the mean and the worst fold, per run class. Run features from the database."
    )

    pairs_options = {"--pairs": PAIRS_HELP}
    json_help = "print one JSON object"

    def options_add(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--cache-dir", help="keep the pool/feature table here between runs (keyed by data and code)"
        )
        parser.add_argument(
            "--model-param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a pipeline parameter for every fold's fit, e.g. l2_regularization=30 (repeatable)",
        )
        parser.add_argument(
            "--switch-log-odds",
            type=float,
            help="let the model take rank 1 from persistence's pick when it beats it by this many log-odds",
        )
        parser.add_argument("--fold", action="append", help="only the folds with these names (repeatable)")
        parser.add_argument(
            "--origin",
            action="append",
            type=int,
            help="custom origins instead of the standard folds: each window runs to the next origin (repeatable)",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        runs = self.runs_frame(options)
        labels = self.labels_load(options["pairs"], run_classes_of(runs))
        if labels.empty:
            raise CommandError("no pairs")
        folds = crossval.FOLDS
        if options["origin"]:
            origins = sorted(set(options["origin"]))
            ends = [*origins[1:], int(labels["run_number"].max()) + 1]
            folds = tuple(crossval.Fold(f"from {o}", "custom", o, e) for o, e in zip(origins, ends, strict=True))
        if options["fold"]:
            folds = tuple(f for f in folds if f.name in set(options["fold"]))
            if not folds:
                raise CommandError(f"no fold named {options['fold']}; folds: {[f.name for f in crossval.FOLDS]}")
        full_from = min(f.origin for f in folds)
        table = None
        cache = None
        if options["cache_dir"]:
            cache = Path(options["cache_dir"]) / f"pools-{_cache_key(labels, runs)}-{full_from}.pickle"
            if cache.exists():
                with cache.open("rb") as handle:
                    table = pickle.load(handle)
        if table is None:
            table = crossval.pool_table(labels, RunTable(runs), full_from=full_from, predecessor=True)
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                temp = cache.with_suffix(".part")
                with temp.open("wb") as handle:
                    pickle.dump(table, handle, protocol=5)
                temp.replace(cache)
        self.stderr.write(f"pools and features of {len(table.records)} labels: {time.perf_counter() - started:.0f} s")
        report = crossval.cross_validation_report(
            table,
            folds,
            log=self.stderr.write,
            model_params=_model_params(options["model_param"]),
            switch_log_odds=options["switch_log_odds"],
        )
        report["seconds"] = round(time.perf_counter() - started, 1)
        if options["json"]:
            self.stdout.write(json.dumps(report, default=float))
        else:
            self.stdout.write(crossval_summary.format_cross_validation(report))
            self.stdout.write(f"\n{report['seconds']} s")
