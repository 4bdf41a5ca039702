"""The read path: which reference a run reconstruction should be compared with, and why.

The active model, the run features, the label history and the declared references are
loaded once per process and reloaded only when the database says they changed (the
change counters, one small query: recommender.changes), so one recommendation is a
pool, a feature table and two predicts (the pool, then the probes of its reasons).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import rule_reasons, serving
from .exceptions import UnknownRunReconstruction
from .ml import catalogue
from .ml.baselines import persistence_ranking
from .ml.candidates import candidate_pool
from .ml.catalogue import SIDE_BY_SIDE
from .ml.dataset import label_run_class
from .ml.declarations import Conditions, Declaration, conditions_differ, declared_for, stale_use
from .ml.model import Ranker
from .ml.needs_reference import new_conditions
from .ml.pair_features import pair_feature_arrays
from .ml.run_table import RunTable, Target
from .models import RunReconstruction
from .results import Reason, RecommendationResult, SideBySide
from .serving import labels_in_use, serving_cache_clear  # noqa: F401 (importable from here, as before)

REASONS_PER_RECOMMENDATION = 3


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
    """Each column's median, NaNs left out (NaN for a column of NaNs only)."""
    return pd.DataFrame(values).median().to_numpy(dtype=float)


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
    # the most frequent category, the first in sort order among ties
    typical.update({c: pd.Series(features[c]).mode().iat[0] for c in ranker.categorical})
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
                Reason(columns[j], catalogue.description(columns[j]), round(float(effects[j]), 4))
                for j in best
                if abs(effects[j]) > 1e-6
            ]
        )
    return out


def recommendations_for(*, run_number: int, reconstruction: str, limit: int = 5) -> list[RecommendationResult]:
    """The best `limit` references for a run reconstruction, best first, with reasons.

    Without an active model, the references in use (persistence), newest first.
    """
    with serving.cache.lock:
        serving.cache.revalidate()
        version_id, ranker = serving.cache.model()
        # The run table holds every run of the mirror and follows its counters: the
        # run's presence and class come from it, not from one more query.
        runs = serving.cache.run_table()
        if int(run_number) not in runs.index:
            raise UnknownRunReconstruction(f"run {run_number} is not in the database")
        history = serving.history_for(run_number)
    dataset = (
        RunReconstruction.objects.filter(run__run_number=run_number, reconstruction=reconstruction)
        .values_list("dataset", flat=True)
        .first()
    )
    run_class = runs.run_class(run_number)
    target = Target(run_number, reconstruction, label_run_class(dataset or "", run_class), dataset or "")
    with serving.cache.lock:
        curated = serving.cache.declared_in_use(target.run_class)
        declared = declared_for(
            serving.cache.declared(), run_number, serving.cache.conditions(run_number, reconstruction, target.run_class)
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
                    Reason("group_recency_rank", "most recently used for this group (no model active)", 0.0),
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
        scope = rule_reasons.declaration_scope_words(declared)
        text = rule_reasons.declared_reason_text(scope=scope, from_run=declared.from_run, note=declared.note)
        return [Reason(rule_reasons.RULE_DECLARED, text, 0.0)]
    if persistence and reference == persistence[0]:
        return [Reason(rule_reasons.RULE_PERSISTENCE, rule_reasons.persistence_reason_text(), 0.0)]
    return []


def declaration_covering(*, run_number: int, reconstruction: str, run_class: str) -> Declaration | None:
    """The declaration that is the run reconstruction's rank 1, if one covers it."""
    with serving.cache.lock:
        serving.cache.revalidate()
        return declared_for(
            serving.cache.declared(), run_number, serving.cache.conditions(run_number, reconstruction, run_class)
        )


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
    with serving.cache.lock:
        serving.cache.revalidate()
        runs = serving.cache.run_table()
        _, history = serving.cache.label_history()
        declarations = serving.cache.declared()
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
            conditions = serving.cache.conditions(target.run_number, reconstruction, target.run_class)
            if declared_for(declarations, target.run_number, conditions) is not None:
                continue
            new = new_conditions(runs, target, picks[0], beams=serving.cache.beams)
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
    with serving.cache.lock:
        fitting = [
            r.reference_run_number
            for r in ranked
            if r.reference_run_number != need.reference_in_use
            and not conditions_differ(
                need.conditions, serving.cache.conditions(r.reference_run_number, need.reconstruction, need.run_class)
            )
        ]
    return fitting[:limit]


def declarations_stale(*, in_a_row: int) -> dict[int, tuple[int, int]]:
    """Declarations in use that the shifters keep deciding against: declaration id ->
    (the reference they use instead, decisions in a row), from the labels of the runs
    each declaration covers."""
    with serving.cache.lock:
        serving.cache.revalidate()
        declarations = [d for d in serving.cache.declared() if d.in_use]
        if not declarations:
            return {}
        labels = serving.cache.labels_current()
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
                if declaration.covers(int(run), serving.cache.conditions(int(run), str(reco), declaration.run_class))
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
