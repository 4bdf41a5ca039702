"""Training rows, fitting and ranking: the model as the rest of the code sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController

from .candidates import HARD_RULES, candidate_pool
from .features import FEATURE_COLUMNS, HISTORY_COLUMNS, OMS_COLUMNS, History, RunTable, Target, pair_features
from .pipeline import RANDOM_STATE, build_pipeline

# Never-used candidates far down the certified list are easy negatives; keep a sample
# of them (reweighted) so a fit over ~10,000 labels stays within seconds.
EASY_NEGATIVE_KEEP = 0.1
# The five recommendations shown; two of them go to the most recently certified never-used
# runs (tuned on the inner validation split, EVALUATION.md: one slot lifted the "new" slice
# without hurting the rest, a second lifted it further, a third cost switches).
TOP = 5
RESERVED_NEW_SLOTS = 2


# Below this many rows, predict in one thread (serving); the evaluation's one big batch uses all cores.
PARALLEL_PREDICT_ROWS = 20_000
_thread_controller: ThreadpoolController | None = None


def _single_thread():
    global _thread_controller
    if _thread_controller is None:
        _thread_controller = ThreadpoolController()
    return _thread_controller.limit(limits=1, user_api="openmp")


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
            LabelRow(
                Target(
                    int(r.run_number), str(r.reconstruction), str(r.run_class), str(getattr(r, "dataset", "") or "")
                ),
                int(r.reference_run_number),
            )
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
    reserved_new_slots: int = RESERVED_NEW_SLOTS
    hard_rules: frozenset[str] = HARD_RULES
    meta: dict = field(default_factory=dict)

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.zeros(0)
        x = features[self.numeric + self.categorical]
        if len(x) >= PARALLEL_PREDICT_ROWS:
            return self.pipeline.predict_proba(x)[:, 1]
        # One recommendation scores a few hundred rows: OpenMP threads cost more than they
        # save there, and on a busy machine their spin-waits cost ten times the predict.
        with _single_thread():
            return self.pipeline.predict_proba(x)[:, 1]

    def order(
        self, candidates: list[int], features: pd.DataFrame, *, scores: np.ndarray | None = None
    ) -> tuple[list[int], np.ndarray]:
        """Candidates best first, and their scores in that order."""
        scores = self.scores(features) if scores is None else scores
        # ties: newest candidate first
        order = np.lexsort((-np.asarray(candidates, dtype=float), -scores))
        ranked = [candidates[i] for i in order]
        ranked_scores = scores[order]
        slots = getattr(self, "reserved_new_slots", 1)
        if not slots or len(ranked) <= TOP:
            return ranked, ranked_scores
        never = features["ever_used"].to_numpy()[order] == 0
        if not never.any():
            return ranked, ranked_scores
        # The `slots` most recently certified never-used runs join the top five: a new
        # reference is most often a run certified just before (EVALUATION.md). They take
        # the places of the lowest-scored of the five; the five keep the model's order.
        run_gap = features["run_gap"].to_numpy()[order]
        picks = [int(i) for i in np.argsort(np.where(never, run_gap, np.inf), kind="stable")[:slots] if never[i]]
        picked = set(picks)
        rest = [i for i in range(len(ranked)) if i not in picked]
        top = sorted(rest[: TOP - len(picks)] + picks)
        new_order = top + rest[TOP - len(picks) :]
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
