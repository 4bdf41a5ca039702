"""The read path: which reference a run reconstruction should be compared with, and why.

The active model, the run features and the label history are loaded once per
process and reloaded only when the database says they changed (a cheap aggregate
query each), so one recommendation is a pool, a feature table and one predict.
"""

from __future__ import annotations

import bisect
import math
import pickle
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Count, Max

from ingestion import selectors as ingestion_selectors

from .exceptions import UnknownRunReconstruction
from .ml.baselines import persistence_ranking
from .ml.candidates import candidate_pool
from .ml.certification import with_good_lumisections
from .ml.dataset import label_run_class
from .ml.features import FEATURE_DESCRIPTIONS, SIDE_BY_SIDE, History, RunTable, Target, pair_features
from .ml.model import Ranker
from .models import CuratedReference, ModelVersion, ModelVersionStatus, ReferencePair, RunReconstruction

REASONS_PER_RECOMMENDATION = 3


@dataclass(frozen=True)
class Reason:
    feature: str
    description: str
    effect: float  # change of the score against the candidate pool's median value


@dataclass(frozen=True)
class SideBySide:
    name: str
    label: str
    run_value: object
    reference_value: object


@dataclass(frozen=True)
class RecommendationResult:
    reference_run_number: int
    rank: int
    score: float
    reasons: list[Reason] = field(default_factory=list)
    side_by_side: list[SideBySide] = field(default_factory=list)
    model_version_id: int | None = None


class _ServingCache:
    """Per-process state, each part keyed by what invalidates it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.model_key = None
        self.ranker: Ranker | None = None
        self.runs_key = None
        self.runs: RunTable | None = None
        self.labels_key = None
        self.labels: pd.DataFrame | None = None
        self.history: History | None = None
        self.checkpoints: list[tuple[int, bytes]] | None = None

    def model(self) -> tuple[ModelVersion | None, Ranker | None]:
        from .training import artifact_load

        version = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
        if version is None:
            return None, None
        key = (version.pk, version.sha256)
        if key != self.model_key:
            self.ranker = artifact_load(version)
            self.model_key = key
        return version, self.ranker

    def run_table(self) -> RunTable:
        from .selectors import run_features_frame

        key = ingestion_selectors.runs_version()
        if key != self.runs_key or self.runs is None:
            # certified-good lumisections from the certification masks, where REFRUN_DATA has them
            self.runs = RunTable(with_good_lumisections(run_features_frame(), settings.REFRUN_DATA))
            self.runs_key = key
        return self.runs

    def label_history(self) -> tuple[pd.DataFrame, History]:
        key = tuple(ReferencePair.objects.aggregate(n=Count("id"), t=Max("updated_at")).values())
        if key != self.labels_key or self.labels is None:
            from .selectors import labels_frame

            labels = labels_frame()
            appended = _appended_labels(self.labels, self.history, labels)
            if appended is None:
                self.history = History.from_labels(labels)
                self.checkpoints = None
            else:
                # The usual change, a decision on the newest run, only adds labels
                # after every cached one: extend a copy of the history (callers may
                # still hold the old one) and keep the checkpoints, which it cannot affect.
                history = pickle.loads(pickle.dumps(self.history, protocol=pickle.HIGHEST_PROTOCOL))
                history.add_many(appended)
                self.history = history
            self.labels = labels
            self.labels_key = key
        return self.labels, self.history

    def history_before(self, target_run: int) -> History:
        """The history of the labels of runs before `target_run`, for a run that
        already has later labels (a shifter opening an older run).

        Replaying every label per request cost ~100 ms; instead the nearest
        checkpoint (a pickled History every CHECKPOINT_LABELS labels, built on
        first need) is copied and only the labels after it are replayed.
        """
        labels, _ = self.label_history()
        if self.checkpoints is None:
            self.checkpoints = _checkpoints(labels)
        boundaries = [boundary for boundary, _ in self.checkpoints]
        index = bisect.bisect_right(boundaries, target_run) - 1
        if index < 0:
            return History.from_labels(labels, before_run=target_run)
        boundary, state = self.checkpoints[index]
        history = pickle.loads(state)
        runs = labels["run_number"].to_numpy()
        start, stop = np.searchsorted(runs, [boundary, target_run], side="left")
        history.add_many(labels.iloc[start:stop])
        return history


def _appended_labels(old: pd.DataFrame | None, history: History | None, new: pd.DataFrame) -> pd.DataFrame | None:
    """The labels `new` adds after all of `old`, or None if it changed or removed any
    (then the history must be rebuilt): `new` must start with `old` unchanged and
    continue with labels of runs not before the newest one `history` holds."""
    if old is None or history is None or len(new) < len(old):
        return None
    if not new.iloc[: len(old)].reset_index(drop=True).equals(old.reset_index(drop=True)):
        return None
    added = new.iloc[len(old) :]
    if len(added) and history.max_run is not None and int(added["run_number"].iloc[0]) < history.max_run:
        return None
    return added


# Labels between two history checkpoints: the most a request for an older run replays.
CHECKPOINT_LABELS = 500


def _checkpoints(labels: pd.DataFrame) -> list[tuple[int, bytes]]:
    """(run number R, pickled History of the labels of runs before R), R rising.

    Each R is a run boundary, so a checkpoint never holds half of a run's labels.
    """
    runs = labels["run_number"].to_numpy()
    checkpoints: list[tuple[int, bytes]] = []
    history = History()
    start = 0
    for position in range(CHECKPOINT_LABELS, len(runs), CHECKPOINT_LABELS):
        stop = int(np.searchsorted(runs, runs[position], side="left"))
        if stop <= start:
            continue  # one run holds more than CHECKPOINT_LABELS labels
        history.add_many(labels.iloc[start:stop])
        checkpoints.append((int(runs[position]), pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL)))
        start = stop
    return checkpoints


_cache = _ServingCache()


def serving_cache_clear() -> None:
    global _cache
    _cache = _ServingCache()


def _history_for(target_run: int) -> History:
    _, full = _cache.label_history()
    if full.max_run is None or full.max_run < target_run:
        return full  # the usual case: a new run, later than every label
    return _cache.history_before(target_run)


def _curated_for(run_class: str) -> frozenset[int]:
    rows = CuratedReference.objects.filter(active_until__isnull=True)
    if run_class:
        rows = rows.filter(run_class=run_class)
    return frozenset(rows.values_list("run_reconstruction__run__run_number", flat=True))


def _display(value):
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    return value or None


def _side_by_side(runs: RunTable, run_number: int, reference: int) -> list[SideBySide]:
    return [
        SideBySide(name, label, _display(runs.value(run_number, name)), _display(runs.value(reference, name)))
        for name, label in SIDE_BY_SIDE
    ]


def _reasons(ranker: Ranker, features: pd.DataFrame, rows: list[int], scores: np.ndarray) -> list[list[Reason]]:
    """Per chosen row, the features whose value moved its score most.

    Each feature in turn is set to the candidate pool's median (its mode for
    categories) and the row rescored; the score change is the feature's effect.
    One predict call for all rows and features.
    """
    columns = ranker.numeric + ranker.categorical
    # one nanmedian over the block: a pandas median per column cost ~10 ms per recommendation
    values = features[ranker.numeric].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column's median is NaN, as pandas gives
        medians = np.nanmedian(values, axis=0) if len(values) else np.full(len(ranker.numeric), np.nan)
    typical = dict(zip(ranker.numeric, medians.tolist(), strict=True))
    typical.update({c: features[c].mode().iat[0] for c in ranker.categorical})
    if not rows:
        return []
    n_cols = len(columns)
    n_num = len(ranker.numeric)
    # row i * n_cols + j is chosen row i with feature j set to its typical value
    step = np.arange(len(rows)) * n_cols
    numeric = np.repeat(features[ranker.numeric].to_numpy(dtype=float)[rows], n_cols, axis=0)
    for j, column in enumerate(ranker.numeric):
        numeric[step + j, j] = typical[column]
    probes = pd.DataFrame(numeric, columns=ranker.numeric)
    for k, column in enumerate(ranker.categorical):
        values = np.repeat(features[column].to_numpy(dtype=object)[rows], n_cols)
        values[step + n_num + k] = typical[column]
        probes[column] = values
    probe_scores = ranker.scores(probes).reshape(len(rows), n_cols)
    out = []
    for i, _row in enumerate(rows):
        effects = scores[i] - probe_scores[i]
        best = np.argsort(-np.abs(effects))[:REASONS_PER_RECOMMENDATION]
        out.append(
            [
                Reason(columns[j], FEATURE_DESCRIPTIONS.get(columns[j], columns[j]), round(float(effects[j]), 4))
                for j in best
                if abs(effects[j]) > 1e-6
            ]
        )
    return out


def recommendations_for(*, run_number: int, reconstruction: str, limit: int = 5) -> list[RecommendationResult]:
    """The best `limit` references for a run reconstruction, best first, with reasons.

    Without an active model, the references in use (persistence), newest first.
    """
    run_class = ingestion_selectors.run_class_of(run_number=run_number)
    if run_class is None:
        raise UnknownRunReconstruction(f"run {run_number} is not in the database")
    dataset = (
        RunReconstruction.objects.filter(run__run_number=run_number, reconstruction=reconstruction)
        .values_list("dataset", flat=True)
        .first()
    )
    target = Target(run_number, reconstruction, label_run_class(dataset or "", run_class), dataset or "")
    with _cache.lock:
        version, ranker = _cache.model()
        runs = _cache.run_table()
        history = _history_for(run_number)
    curated = _curated_for(target.run_class)

    if ranker is None:
        ranked = persistence_ranking(history, target)[:limit]
        return [
            RecommendationResult(
                reference_run_number=ref,
                rank=i + 1,
                score=float("nan"),
                reasons=[Reason("g_recency_rank", "most recently used for this group (no model active)", 0.0)],
                side_by_side=_side_by_side(runs, run_number, ref),
            )
            for i, ref in enumerate(ranked)
        ]

    pool = candidate_pool(history, target, runs, curated=curated, hard_rules=ranker.hard_rules)
    if not pool:
        return []
    features = pair_features(history, target, pool, runs, curated=curated)
    # The decision layer, as evaluated: rank 1 stays persistence's pick unless the model is
    # confident of a switch (recommender.ml.model.decide).
    ranked, scores = ranker.order(pool, features, persistence=persistence_ranking(history, target))
    chosen = ranked[:limit]
    position = {c: i for i, c in enumerate(pool)}
    rows = [position[c] for c in chosen]
    reasons = _reasons(ranker, features, rows, scores[: len(chosen)])
    return [
        RecommendationResult(
            reference_run_number=ref,
            rank=i + 1,
            score=round(float(probability), 6),
            reasons=reasons[i],
            side_by_side=_side_by_side(runs, run_number, ref),
            model_version_id=version.pk if version else None,
        )
        for i, (ref, probability) in enumerate(
            zip(chosen, displayed_scores(ranker, scores[: len(chosen)]), strict=True)
        )
    ]


def displayed_scores(ranker: Ranker, raw: np.ndarray) -> np.ndarray:
    """Rank 1: the calibrated probability that it is the reference the shifter will use
    (isotonic map fitted out of period at training). Lower ranks: the same map, capped at
    what rank 1 leaves (only one reference is used). Without a map: the raw model scores."""
    probabilities = np.array(ranker.confidence(np.asarray(raw, dtype=float)), dtype=float)
    if len(probabilities) > 1:
        probabilities[1:] = np.minimum(probabilities[1:], 1.0 - probabilities[0])
    return probabilities
