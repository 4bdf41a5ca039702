"""Training rows, fitting and ranking: the model as the rest of the code sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .candidates import HARD_RULES, candidate_pool
from .features import FEATURE_COLUMNS, HISTORY_COLUMNS, OMS_COLUMNS, History, RunTable, Target, pair_features
from .pipeline import RANDOM_STATE, build_pipeline

# Never-used candidates far down the certified list are easy negatives; keep a sample
# of them (reweighted) so a fit over ~10,000 labels stays within seconds.
EASY_NEGATIVE_KEEP = 0.1
# One of the five slots goes to the best never-used candidate (evaluation.md: it lifts
# the "new" slice without hurting the rest).
RESERVED_NEW_SLOT = 4


@dataclass(frozen=True)
class LabelRow:
    target: Target
    reference: int


def walk(labels: pd.DataFrame, history: History | None = None) -> Iterator[tuple[History, list[LabelRow]]]:
    """Yield (history of earlier runs, labels of one run) in run order, then add that run's labels.

    This is the only place evaluation and training touch labels, and it hands each run
    a history that holds no label of that run or any later one.
    """
    history = history or History()
    if labels.empty:
        return
    for _, batch in labels.groupby("run_number", sort=True):
        rows = [
            LabelRow(Target(int(r.run_number), str(r.reconstruction), str(r.run_class)), int(r.reference_run_number))
            for r in batch.itertuples(index=False)
            if r.is_positive
        ]
        yield history, rows
        history.add_many(batch)


def training_rows(
    labels: pd.DataFrame,
    runs: RunTable,
    *,
    curated_for: Callable[[Target], frozenset[int]] | None = None,
    history: History | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features X, outcome y and sample weight w for every label whose reference is a candidate."""
    rng = np.random.default_rng(RANDOM_STATE)
    frames, ys, ws = [], [], []
    for hist, rows in walk(labels, history):
        for row in rows:
            curated = curated_for(row.target) if curated_for else frozenset()
            pool = candidate_pool(hist, row.target, runs, curated=curated)
            if row.reference not in pool:
                continue
            x = pair_features(hist, row.target, pool, runs, curated=curated)
            y = np.fromiter((c == row.reference for c in pool), dtype=bool, count=len(pool))
            easy = (x["ever_used"].to_numpy() == 0) & ~(x["cert_rank"].to_numpy() < 10) & ~y
            keep = ~easy | (rng.random(len(pool)) < EASY_NEGATIVE_KEEP)
            frames.append(x[keep])
            ys.append(y[keep])
            ws.append(np.where(easy, 1.0 / EASY_NEGATIVE_KEEP, 1.0)[keep])
    if not frames:
        return pd.DataFrame(columns=FEATURE_COLUMNS), np.zeros(0, dtype=bool), np.zeros(0)
    return pd.concat(frames, ignore_index=True), np.concatenate(ys), np.concatenate(ws)


@dataclass
class Ranker:
    """A fitted pipeline and the feature columns it was given."""

    pipeline: Pipeline
    numeric: list[str]
    categorical: list[str]
    reserved_new_slot: int | None = RESERVED_NEW_SLOT
    new_slot_by: str = "recency"
    hard_rules: frozenset[str] = HARD_RULES
    meta: dict = field(default_factory=dict)

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.zeros(0)
        return self.pipeline.predict_proba(features[self.numeric + self.categorical])[:, 1]

    def order(
        self, candidates: list[int], features: pd.DataFrame, *, scores: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Candidates best first, and their scores in that order."""
        scores = self.scores(features) if scores is None else scores
        # ties: newest candidate first
        order = np.lexsort((-np.asarray(candidates, dtype=float), -scores))
        ranked = [candidates[i] for i in order]
        ranked_scores = scores[order]
        slot = self.reserved_new_slot
        if slot is None or len(ranked) <= slot:
            return ranked, ranked_scores
        never = features["ever_used"].to_numpy()[order] == 0
        if not never.any():
            return ranked, ranked_scores
        top = slot + 1
        positions = [i for i in range(top) if never[i]] or [slot]
        if self.new_slot_by == "recency":
            # The never-used slots go to the most recently certified never-used runs: a
            # new reference is most often a run certified just before (EVALUATION.md).
            run_gap = features["run_gap"].to_numpy()[order]
            picks = [int(i) for i in np.argsort(np.where(never, run_gap, np.inf), kind="stable")[: len(positions)]]
        else:
            picks = [int(i) for i in np.flatnonzero(never)[: len(positions)]]
        chosen = dict(zip(positions, picks, strict=False))
        rest = [i for i in range(len(ranked)) if i not in set(picks)]
        new_order: list[int] = []
        for pos in range(len(ranked)):
            new_order.append(chosen[pos] if pos in chosen else rest.pop(0))
        ranked = [ranked[i] for i in new_order]
        ranked_scores = ranked_scores[new_order]
        return ranked, ranked_scores


def fit_ranker(
    labels: pd.DataFrame,
    runs: RunTable,
    *,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    curated_for: Callable[[Target], frozenset[int]] | None = None,
    **params,
) -> Ranker:
    x, y, w = training_rows(labels, runs, curated_for=curated_for)
    numeric = list(HISTORY_COLUMNS + OMS_COLUMNS if numeric is None else numeric)
    # A feature with fewer than two distinct values in training (energy before the
    # importer fills it, say) cannot split; HistGradientBoosting refuses such columns.
    numeric = [c for c in numeric if x[c].nunique(dropna=True) >= 2] if len(x) else numeric
    pipeline = build_pipeline(numeric=numeric, categorical=categorical, **params)
    numeric_cols = list(pipeline.named_steps["columns"].transformers[0][2])
    categorical_cols = list(pipeline.named_steps["columns"].transformers[1][2])
    if y.sum() == 0 or y.all():
        raise ValueError("too few labels to fit: need both chosen and not-chosen candidates")
    pipeline.fit(x[numeric_cols + categorical_cols], y, model__sample_weight=w)
    return Ranker(
        pipeline=pipeline,
        numeric=numeric_cols,
        categorical=categorical_cols,
        meta={"training_rows": len(y), "training_labels": int(y.sum())},
    )


def rank_candidates(
    ranker: Ranker,
    history: History,
    target: Target,
    runs: RunTable,
    *,
    curated: frozenset[int] = frozenset(),
) -> tuple[list[int], np.ndarray, pd.DataFrame]:
    pool = candidate_pool(history, target, runs, curated=curated, hard_rules=ranker.hard_rules)
    if not pool:
        return [], np.zeros(0), pd.DataFrame(columns=FEATURE_COLUMNS)
    features = pair_features(history, target, pool, runs, curated=curated)
    ranked, scores = ranker.order(pool, features)
    return ranked, scores, features
