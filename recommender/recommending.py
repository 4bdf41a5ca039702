"""The read path: which reference a run reconstruction should be compared with, and why.

The active model, the run features, the label history and the declared references are
loaded once per process and reloaded only when the database says they changed (the
change counters, one small query: recommender.changes), so one recommendation is a
pool, a feature table and two predicts (the pool, then the probes of its reasons).
"""

from __future__ import annotations

import bisect
import math
import pickle
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.conf import settings

from . import reasons as reason_words
from .changes import change_counters
from .exceptions import UnknownRunReconstruction
from .ml.baselines import persistence_ranking
from .ml.candidates import candidate_pool
from .ml.certification import with_good_lumisections
from .ml.dataset import label_run_class, sort_labels
from .ml.declarations import Conditions, Declaration, conditions_differ, declared_for, stale_use
from .ml.features import FEATURE_DESCRIPTIONS, SIDE_BY_SIDE, History, RunTable, Target, pair_feature_arrays
from .ml.model import Ranker
from .ml.needs_reference import new_conditions, run_conditions
from .models import ModelVersion, ModelVersionStatus, RunReconstruction

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


# The key of a part not loaded yet: equal to no key the counters can give.
_UNLOADED = object()


class _ServingCache:
    """Per-process state, each part keyed by the change counters of the tables it is
    built from (recommender.changes); the counters are read once per recommendation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.model_key = _UNLOADED
        self.version: tuple[int, str] | None = None  # (id, sha256) of the active model
        self.ranker: Ranker | None = None
        self.runs_key = _UNLOADED
        self.runs: RunTable | None = None
        self.labels_key = _UNLOADED
        self.labels: pd.DataFrame | None = None
        self.labels_fingerprint: tuple[int, ...] = ()  # selectors.labels_fingerprint of `labels`
        self.labels_max_id = 0
        # the first run whose labels changed since the history was replayed (None: none did)
        self.changed_run: int | None = None
        self.history: History | None = None
        self.checkpoints: list[tuple[int, bytes]] = []
        self.before: OrderedDict[int, History] = OrderedDict()  # run -> history of the labels before it
        self.declarations_key = _UNLOADED
        self.declarations: list[Declaration] = []
        self.beams: dict[int, str] = {}  # run number -> OMS fill type at run time

    def revalidate(self) -> None:
        """Read the counters, before any part is loaded: a change that commits while a
        part loads then costs one more load, never a stale part."""
        self.counters = change_counters()

    def _key(self, *tables: str) -> tuple:
        return tuple(self.counters.get(table) for table in tables)

    def model(self) -> tuple[int | None, Ranker | None]:
        """The active model version's id and its ranker (None, None without one)."""
        from .training import artifact_load

        key = self._key("models")
        if key != self.model_key:
            version = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
            if version is None:
                self.version, self.ranker = None, None
            elif (version.pk, version.sha256) != self.version:
                self.ranker = artifact_load(version)
                self.version = (version.pk, version.sha256)
            self.model_key = key
        return (self.version[0] if self.version else None), self.ranker

    def run_table(self) -> RunTable:
        from .selectors import run_features_frame

        key = self._key("runs", "fills", "tracker_certifications")
        if key != self.runs_key:
            from ingestion.selectors import run_beams

            # certified-good lumisections from the certification masks where REFRUN_DATA has
            # them, else from the Run Registry (run_features_frame)
            self.runs = RunTable(with_good_lumisections(run_features_frame(), settings.REFRUN_DATA))
            # the beam is a declaration's condition, not a model feature
            self.beams = run_beams()
            self.runs_key = key
        return self.runs

    def conditions(self, run_number: int, reconstruction: str, run_class: str) -> Conditions:
        """A run's conditions as a declaration's scope names them (NaN or "" when unknown)."""
        return run_conditions(
            self.run_table(), run_number, reconstruction=reconstruction, run_class=run_class, beams=self.beams
        )

    def labels_current(self) -> pd.DataFrame:
        # a label's run class and dataset come from its run and run reconstruction
        key = self._key("labels", "run_reconstructions", "runs")
        if key != self.labels_key:
            from .selectors import labels_read

            labels = None
            if self.labels is not None and key[1:] == self.labels_key[1:]:
                labels = self._labels_added()
            if labels is None:
                labels, self.labels_fingerprint, self.labels_max_id = labels_read()
            changed_run = _first_changed_run(self.labels, labels)
            if changed_run is not None and (self.changed_run is None or changed_run < self.changed_run):
                self.changed_run = changed_run
            self.labels = labels
            self.labels_key = key
        return self.labels

    def _labels_added(self) -> pd.DataFrame | None:
        """The labels held and the rows added since, when the table's fingerprint says
        nothing else changed (the usual change, a shifter's first decision, adds one
        row); None when a label was removed or changed, for a full read. Every web
        worker rereads the labels after each change: all of them cost ~50 ms."""
        from .selectors import labels_fingerprint, labels_read

        added, fingerprint, max_id = labels_read(after_id=self.labels_max_id)
        expected = tuple(held + new for held, new in zip(self.labels_fingerprint, fingerprint, strict=True))
        if labels_fingerprint() != expected:
            return None
        self.labels_fingerprint, self.labels_max_id = expected, max_id
        if added.empty:
            return self.labels
        merged = pd.concat([self.labels, added], ignore_index=True)
        return sort_labels(merged.sort_values(["run_number", "label_id"], kind="stable"))

    def _labels_checked(self) -> pd.DataFrame:
        """The labels; after a change, the checkpoints past the first changed label and
        the full history are dropped, to be replayed when a page needs them: a
        decision on one of the newest runs, the usual change, then costs a few hundred
        labels' replay instead of every label's (~150 ms per web worker)."""
        labels = self.labels_current()
        if self.changed_run is not None:
            self.checkpoints = [
                (boundary, state) for boundary, state in self.checkpoints if boundary <= self.changed_run
            ]
            self.before = OrderedDict((run, kept) for run, kept in self.before.items() if run <= self.changed_run)
            self.history = None
            self.changed_run = None
        return labels

    def label_history(self) -> tuple[pd.DataFrame, History]:
        labels = self._labels_checked()
        if self.history is None:
            self.history = self._replayed(labels, before_run=None)
        return labels, self.history

    def declared(self) -> list[Declaration]:
        """Every declaration of the shift leaders, ended ones included."""
        key = self._key("declarations", "run_reconstructions")
        if key != self.declarations_key:
            from .selectors import declarations_read

            self.declarations = declarations_read()
            self.declarations_key = key
        return self.declarations

    def declared_in_use(self, run_class: str) -> frozenset[int]:
        """Run numbers of the declared references in use for a run class: candidates of its runs."""
        return frozenset(d.reference for d in self.declared() if d.in_use and d.run_class == run_class)

    def history_before(self, target_run: int) -> History:
        """The history of the labels of runs before `target_run`, for a run that
        already has later labels (a shifter opening an older run). The last few are
        kept: shifters open the same runs again and again, and a change of labels
        leaves those of the runs before it as they were."""
        labels = self._labels_checked()
        history = self.before.get(target_run)
        if history is None:
            history = self.before[target_run] = self._replayed(labels, before_run=target_run)
            if len(self.before) > HISTORIES_KEPT:
                self.before.popitem(last=False)
        else:
            self.before.move_to_end(target_run)
        return history

    def _replayed(self, labels: pd.DataFrame, *, before_run: int | None) -> History:
        """A new history of the labels of runs before `before_run` (of every label:
        None), copied from the nearest checkpoint (run number R, the pickled history
        of the labels of runs before R) and replayed from there: replaying every
        label per request cost ~100 ms. Replaying past the last checkpoint adds
        checkpoints every CHECKPOINT_LABELS labels, each at a run boundary, so that
        a checkpoint never holds half of a run's labels.
        """
        runs = labels["run_number"].to_numpy()
        stop = len(runs) if before_run is None else int(np.searchsorted(runs, before_run, side="left"))
        boundaries = [boundary for boundary, _ in self.checkpoints]
        index = len(boundaries) - 1 if before_run is None else bisect.bisect_right(boundaries, before_run) - 1
        if index >= 0:
            boundary, state = self.checkpoints[index]
            history = pickle.loads(state)
            start = int(np.searchsorted(runs, boundary, side="left"))
        else:
            history, start = History(), 0
        if index == len(boundaries) - 1:
            for position in range(start + CHECKPOINT_LABELS, stop, CHECKPOINT_LABELS):
                cut = int(np.searchsorted(runs, runs[position], side="left"))
                if cut <= start:
                    continue  # one run holds more than CHECKPOINT_LABELS labels
                history.add_many(labels.iloc[start:cut])
                self.checkpoints.append((int(runs[position]), pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL)))
                start = cut
        history.add_many(labels.iloc[start:stop])
        return history


def _first_changed_run(old: pd.DataFrame | None, new: pd.DataFrame) -> int | None:
    """The run of the first label (in run order) that `new` adds, removes or changes
    against `old`, None when both hold the same labels. Labels of earlier runs are the
    same in both: a history of them is still valid."""
    if old is new:
        return None  # nothing read was added: the frame held is kept as it is
    if old is None or list(old.columns) != list(new.columns):
        return -1
    common = min(len(old), len(new))
    first = common
    for column in new.columns:
        differs = np.flatnonzero(old[column].to_numpy()[:common] != new[column].to_numpy()[:common])
        if len(differs):
            first = min(first, int(differs[0]))
    if first == len(old) == len(new):
        return None
    return min(int(frame["run_number"].iloc[first]) for frame in (old, new) if first < len(frame))


# Labels between two history checkpoints: the most a request for an older run replays.
CHECKPOINT_LABELS = 500
# Histories of older runs kept per process (~1.3 MB each with 9,000 labels).
HISTORIES_KEPT = 32


_cache = _ServingCache()


def serving_cache_clear() -> None:
    global _cache
    _cache = _ServingCache()


def _history_for(target_run: int) -> History:
    labels = _cache._labels_checked()
    if labels.empty or int(labels["run_number"].iloc[-1]) < target_run:
        return _cache.label_history()[1]  # the usual case: a new run, later than every label
    return _cache.history_before(target_run)


def labels_in_use() -> pd.DataFrame:
    """Every label, as the serving cache holds it (shared: do not modify)."""
    with _cache.lock:
        _cache.revalidate()
        return _cache.labels_current()


def _display(value):
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    return value or None


def _side_by_side(runs: RunTable, run_number: int, reference: int) -> list[SideBySide]:
    return [
        SideBySide(name, label, _display(runs.value(run_number, name)), _display(runs.value(reference, name)))
        for name, label in SIDE_BY_SIDE
    ]


def _column_medians(values: np.ndarray) -> np.ndarray:
    """np.nanmedian(values, axis=0), equal to it, from one sort of the block: nanmedian
    falls back to a Python loop over the columns as soon as one holds a NaN (1.3 ms a
    recommendation). The sort puts NaNs last, so each column's middle is at its count
    of known values; an all-NaN column's median is NaN, as pandas gives."""
    if not len(values):
        return np.full(values.shape[1], np.nan)
    ordered = np.sort(values, axis=0)
    known = (~np.isnan(values)).sum(axis=0)
    columns = np.arange(values.shape[1])
    low = ordered[np.maximum(known - 1, 0) // 2, columns]
    high = ordered[known // 2, columns]
    return np.where(known > 0, (low + high) / 2.0, np.nan)


def _mode(values: np.ndarray):
    """The most frequent value, the smallest among ties: pandas' Series.mode().iat[0]."""
    counts = Counter(values.tolist())
    most = max(counts.values())
    return min(value for value, n in counts.items() if n == most)


def _reasons(
    ranker: Ranker, features: dict[str, np.ndarray], rows: list[int], scores: np.ndarray, *, numeric: np.ndarray
) -> list[list[Reason]]:
    """Per chosen row, the features whose value moved its score most.

    Each feature in turn is set to the candidate pool's median (its mode for
    categories) and the row rescored; the score change is the feature's effect.
    One predict call for all rows and features. `features`: the pool's
    `pair_feature_arrays`; `numeric`: its numeric columns as one block.
    """
    columns = ranker.numeric + ranker.categorical
    medians = _column_medians(numeric)
    typical = dict(zip(ranker.numeric, medians.tolist(), strict=True))
    typical.update({c: _mode(features[c]) for c in ranker.categorical})
    if not rows:
        return []
    n_cols = len(columns)
    values = numeric
    chosen = values[rows]
    # A feature already at its typical value cannot move the score (the probe would be the
    # row itself: effect exactly 0); about half the probes, so only the others are scored.
    typical_numeric = medians[np.newaxis, :]
    moves = ~((chosen == typical_numeric) | (np.isnan(chosen) & np.isnan(typical_numeric)))
    category_values = [np.asarray(features[c], dtype=object)[rows] for c in ranker.categorical]
    category_moves = [values_k != typical[c] for c, values_k in zip(ranker.categorical, category_values, strict=True)]
    moves = np.column_stack([moves, *category_moves]) if category_moves else moves
    probe_row, probe_column = np.nonzero(moves)
    # probe p is chosen row probe_row[p] with feature probe_column[p] set to its typical value,
    # scored from arrays, without building a probe DataFrame
    numeric = chosen[probe_row]
    is_numeric = probe_column < len(ranker.numeric)
    numeric[np.flatnonzero(is_numeric), probe_column[is_numeric]] = medians[probe_column[is_numeric]]
    categorical = []
    for k, column in enumerate(ranker.categorical):
        probe_values = category_values[k][probe_row]
        probe_values[probe_column == len(ranker.numeric) + k] = typical[column]
        categorical.append(probe_values)
    probe_scores = np.repeat(np.asarray(scores, dtype=float)[: len(rows), np.newaxis], n_cols, axis=1)
    if len(probe_row):
        probe_scores[probe_row, probe_column] = ranker.serving_scores(numeric, categorical)
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
    with _cache.lock:
        _cache.revalidate()
        version_id, ranker = _cache.model()
        # The run table holds every run of the mirror and follows its counters: the
        # run's presence and class come from it, not from one more query.
        runs = _cache.run_table()
        if int(run_number) not in runs.index:
            raise UnknownRunReconstruction(f"run {run_number} is not in the database")
        history = _history_for(run_number)
    dataset = (
        RunReconstruction.objects.filter(run__run_number=run_number, reconstruction=reconstruction)
        .values_list("dataset", flat=True)
        .first()
    )
    run_class = runs.run_class(run_number)
    target = Target(run_number, reconstruction, label_run_class(dataset or "", run_class), dataset or "")
    with _cache.lock:
        curated = _cache.declared_in_use(target.run_class)
        declared = declared_for(
            _cache.declared(), run_number, _cache.conditions(run_number, reconstruction, target.run_class)
        )
    persistence = persistence_ranking(history, target)

    if ranker is None:
        ranked = persistence[:limit]
        if declared is not None:
            ranked = [declared.reference, *[r for r in ranked if r != declared.reference]][:limit]
        return [
            RecommendationResult(
                reference_run_number=ref,
                rank=i + 1,
                score=float("nan"),
                reasons=[
                    *_rule_reasons(i, ref, declared, persistence, target),
                    Reason("g_recency_rank", "most recently used for this group (no model active)", 0.0),
                ],
                side_by_side=_side_by_side(runs, run_number, ref),
            )
            for i, ref in enumerate(ranked)
        ]

    pool = candidate_pool(history, target, runs, curated=curated, hard_rules=ranker.hard_rules)
    if declared is not None and declared.reference not in pool and declared.reference in runs.index:
        # The leaders' word stands even where a rule would have filtered the run out.
        pool.append(declared.reference)
    if not pool:
        return []
    features = pair_feature_arrays(history, target, pool, runs, curated=curated)
    # The decision layer, as evaluated: rank 1 stays persistence's pick unless the model is
    # confident of a switch (recommender.ml.model.decide).
    # the numeric block once, for the pool's scores and for the reasons' probes
    numeric = np.column_stack([features[c] for c in ranker.numeric]).astype(float, copy=False)
    pool_scores = ranker.serving_scores(numeric, [features[c] for c in ranker.categorical])
    ranked, scores = ranker.order(pool, features, scores=pool_scores, persistence=persistence)
    if declared is not None:
        # A declaration covering the run is rank 1; the model orders the rest.
        first = ranked.index(declared.reference)
        order = [first, *(i for i in range(len(ranked)) if i != first)]
        ranked, scores = [ranked[i] for i in order], scores[order]
    chosen = ranked[:limit]
    position = {c: i for i, c in enumerate(pool)}
    rows = [position[c] for c in chosen]
    reasons = _reasons(ranker, features, rows, scores[: len(chosen)], numeric=numeric)
    return [
        RecommendationResult(
            reference_run_number=ref,
            rank=i + 1,
            score=round(float(probability), 6),
            reasons=[*_rule_reasons(i, ref, declared, persistence, target), *reasons[i]],
            side_by_side=_side_by_side(runs, run_number, ref),
            model_version_id=version_id,
        )
        for i, (ref, probability) in enumerate(
            zip(chosen, displayed_scores(ranker, scores[: len(chosen)]), strict=True)
        )
    ]


def _rule_reasons(
    position: int, reference: int, declared: Declaration | None, persistence: list[int], target: Target
) -> list[Reason]:
    """The rule that put a reference at rank 1, said first on its row: a shift leaders'
    declaration, else persistence (the reference in use, kept until a leader declares another)."""
    if position != 0:
        return []
    if declared is not None and reference == declared.reference:
        scope = reason_words.declaration_scope_words(declared)
        text = reason_words.declared_reason_text(scope=scope, from_run=declared.from_run, note=declared.note)
        return [Reason("rule_declared", text, 0.0)]
    if persistence and reference == persistence[0]:
        return [Reason("rule_persistence", reason_words.persistence_reason_text(), 0.0)]
    return []


def declaration_covering(*, run_number: int, reconstruction: str, run_class: str) -> Declaration | None:
    """The declaration that is the run reconstruction's rank 1, if one covers it."""
    with _cache.lock:
        _cache.revalidate()
        return declared_for(_cache.declared(), run_number, _cache.conditions(run_number, reconstruction, run_class))


@dataclass(frozen=True)
class NeedsReference:
    """A run reconstruction no declaration covers, whose conditions differ from those of
    the reference in use for its group."""

    run_number: int
    reconstruction: str
    run_class: str
    reference_in_use: int
    new: tuple[str, ...]  # "B field", "APV mode", "beam", "beam energy", "era"
    conditions: Conditions


def runs_needing_reference(*, targets: list[tuple[int, str, str]]) -> list[NeedsReference]:
    """Of `targets` (run number, reconstruction, dataset), those that need a reference:
    judged against the newest labels, as their recommendations are."""
    with _cache.lock:
        _cache.revalidate()
        runs = _cache.run_table()
        _, history = _cache.label_history()
        declarations = _cache.declared()
        out = []
        for run_number, reconstruction, dataset in targets:
            if int(run_number) not in runs.index:
                continue
            target = Target(
                int(run_number), reconstruction, label_run_class(dataset or "", runs.run_class(run_number)), dataset
            )
            picks = persistence_ranking(history, target)
            if not picks or not target.run_class:
                continue
            conditions = _cache.conditions(target.run_number, reconstruction, target.run_class)
            if declared_for(declarations, target.run_number, conditions) is not None:
                continue
            new = new_conditions(runs, target, picks[0], beams=_cache.beams)
            if new:
                out.append(
                    NeedsReference(
                        target.run_number, reconstruction, target.run_class, picks[0], tuple(new), conditions
                    )
                )
        return out


def reference_proposals(*, need: NeedsReference, limit: int = 3) -> list[int]:
    """The model's best candidates for a run that needs a reference, among those taken
    under its own conditions and not the reference in use: what a leader may declare."""
    ranked = recommendations_for(run_number=need.run_number, reconstruction=need.reconstruction, limit=10)
    with _cache.lock:
        fitting = [
            r.reference_run_number
            for r in ranked
            if r.reference_run_number != need.reference_in_use
            and not conditions_differ(
                need.conditions, _cache.conditions(r.reference_run_number, need.reconstruction, need.run_class)
            )
        ]
    return fitting[:limit]


def declarations_stale(*, in_a_row: int) -> dict[int, tuple[int, int]]:
    """Declarations in use that the shifters keep deciding against: declaration id ->
    (the reference they use instead, decisions in a row), from the labels of the runs
    each declaration covers."""
    with _cache.lock:
        _cache.revalidate()
        declarations = [d for d in _cache.declared() if d.in_use]
        if not declarations:
            return {}
        labels = _cache.labels_current()
        positive = labels[labels["is_positive"].to_numpy(dtype=bool)]
        out: dict[int, tuple[int, int]] = {}
        for declaration in declarations:
            rows = positive[
                (positive["run_number"].to_numpy() >= declaration.from_run)
                & (positive["run_class"].to_numpy() == declaration.run_class)
            ]
            decisions = [
                (int(run), int(reference))
                for run, reco, reference in zip(
                    rows["run_number"], rows["reconstruction"], rows["reference_run_number"], strict=True
                )
                if declaration.covers(int(run), _cache.conditions(int(run), str(reco), declaration.run_class))
            ]
            stale = stale_use(declaration, decisions, in_a_row=in_a_row)
            if stale is not None:
                out[declaration.pk] = stale
        return out


def displayed_scores(ranker: Ranker, raw: np.ndarray) -> np.ndarray:
    """Rank 1: the calibrated probability that it is the reference the shifter will use
    (isotonic map fitted out of period at training; the raw score without one). Lower ranks
    share what rank 1 leaves in proportion to their model scores: the shifter's reference is
    among the five in about 99% of pairs (EVALUATION.md), and the isotonic map's plateaus gave
    ranks 2-5 equal values (0.15 each) that told a shifter nothing."""
    raw = np.asarray(raw, dtype=float)
    probabilities = np.array(ranker.confidence(raw), dtype=float)
    rest = raw[1:]
    if len(rest) and rest.sum() > 0:
        probabilities[1:] = (1.0 - probabilities[0]) * rest / rest.sum()
    elif len(rest):
        probabilities[1:] = 0.0
    return probabilities
