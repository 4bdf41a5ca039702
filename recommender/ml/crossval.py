"""Forward-chaining validation: train on everything before an origin, score the next period.

The candidate pool and pair features of a label depend only on the labels of earlier runs
and on the run features, never on the fold, so they are built once for every label in one
prequential walk (`PoolTable`); each fold then fits on the rows of the labels before its
origin and scores the labels of its window. That is the same protocol as `evaluate` on one
cut (../shared/docs/evaluation.md), for many cuts at the price of one walk.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from .baselines import PredecessorRanker, persistence_ranking
from .candidates import candidate_pool
from .catalogue import CATEGORICAL_COLUMNS, FEATURE_COLUMNS
from .crossval_summary import METHODS, class_summary, fold_summary, pooled_new_interval, reliability, slice_metrics
from .evaluation import pair_record, rank1_not_persistence, rank_of
from .model import (
    EASY_NEGATIVE_KEEP,
    KEEP_PERSISTENCE,
    NEW_SLOT_WINDOW,
    RESERVED_NEW_SLOTS,
    SWITCH_LOG_ODDS,
    Ranker,
    decide,
    ranker_fit,
    walk,
)
from .pair_features import pair_features
from .pipeline import RANDOM_STATE
from .run_table import RunTable, Target


@dataclass(frozen=True)
class Fold:
    name: str
    family: str
    origin: int  # first run of the scored window; the model is fitted on the labels before it
    end: int  # first run after the window


# Origins over every year of the shared pairs: the starts of eras (2018, Run 3 in 2021,
# 2022, 2023, 2024), the heavy-ion periods (2022 HI special runs, 2023 PbPb), and mid-era
# windows. The first 2023-24 cut (train < 362800) is kept as one fold of its own.
FOLDS = (
    Fold("2018 A-B (era start)", "era start", 313000, 317000),
    Fold("2018 C-D", "mid era", 317000, 320000),
    Fold("2018 D, end", "mid era", 320000, 343000),
    Fold("2021 Run 3 start", "era start", 343000, 348000),
    Fold("2022 start", "era start", 348000, 355000),
    Fold("2022 Collisions2022", "mid era", 355000, 362000),
    Fold("2022 HI special, end", "heavy ion", 362000, 362800),
    Fold("2023 start", "era start", 362800, 368000),
    Fold("2023 mid", "mid era", 368000, 374000),
    Fold("2023 PbPb", "heavy ion", 374000, 376000),
    Fold("2024", "era start", 376000, 400000),
    Fold("2023-24 cut", "long cut", 362800, 400000),
)


@dataclass
class PoolTable:
    """Every positive label's pool, features and baselines, in run order."""

    records: pd.DataFrame  # one row per positive label; start/stop index its rows
    features: pd.DataFrame  # stacked pair features (FEATURE_COLUMNS)
    candidates: np.ndarray  # candidate run of each feature row
    chosen: np.ndarray  # the row is the label's reference
    draw: np.ndarray  # a fixed uniform draw per row, for the easy-negative sample
    full: np.ndarray  # the label's rows are all kept (scored labels); else easy negatives are sampled
    persistence: list[list[int]] = field(default_factory=list)

    def rows_before(self, run: int) -> np.ndarray:
        """Training rows: labels of runs before `run` whose reference is a candidate."""
        rec = self.records
        labels = np.flatnonzero((rec["run_number"].to_numpy() < run) & rec["in_pool"].to_numpy())
        return _rows_of(rec, labels)


def _rows_of(records: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    starts = records["start"].to_numpy()[labels]
    stops = records["stop"].to_numpy()[labels]
    if len(labels) == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])


def _is_easy(features: pd.DataFrame, chosen: np.ndarray) -> np.ndarray:
    # Never-used candidates far down the certified list (model.training_rows' rule).
    return (features["ever_used"].to_numpy() == 0) & ~(features["cert_rank"].to_numpy() < 10) & ~chosen


def pool_table(
    labels: pd.DataFrame,
    runs: RunTable,
    *,
    full_from: int | None = None,
    predecessor: bool = False,
    curated_for: Callable[[Target], frozenset[int]] | None = None,
) -> PoolTable:
    """One prequential walk over `labels`: each positive label's pool and features.

    Labels of runs before `full_from` are only training material: their easy negatives are
    sampled as in `model.training_rows`, which keeps the table small.
    """

    rng = np.random.default_rng(RANDOM_STATE)
    pred = PredecessorRanker(runs) if predecessor else None
    records, frames, cands, chosen, draws, persist = [], [], [], [], [], []
    offset = 0
    for history, rows in walk(labels):
        for row in rows:
            target, truth = row.target, row.reference
            curated = curated_for(target) if curated_for else frozenset()
            pool = candidate_pool(history, target, runs, curated=curated)
            persistence = persistence_ranking(history, target)
            full = full_from is None or target.run_number >= full_from
            record = pair_record(history, target, truth, pool, persistence, pred) | {"full": full}
            if pool:
                x = pair_features(history, target, pool, runs, curated=curated)
                y = np.fromiter((c == truth for c in pool), dtype=bool, count=len(pool))
                u = rng.random(len(pool))
                keep = np.ones(len(pool), dtype=bool)
                if not full:
                    keep = ~_is_easy(x, y) | (u < EASY_NEGATIVE_KEEP)
                frames.append(x[keep])
                cands.append(np.asarray(pool, dtype=np.int64)[keep])
                chosen.append(y[keep])
                draws.append(u[keep])
                size = int(keep.sum())
            else:
                size = 0
            record["start"], record["stop"] = offset, offset + size
            offset += size
            records.append(record)
            persist.append(persistence)
    features = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FEATURE_COLUMNS)
    numeric = [c for c in features.columns if c not in CATEGORICAL_COLUMNS]
    features[numeric] = features[numeric].astype(np.float32)
    return PoolTable(
        records=pd.DataFrame(records),
        features=features,
        candidates=np.concatenate(cands) if cands else np.zeros(0, dtype=np.int64),
        chosen=np.concatenate(chosen) if chosen else np.zeros(0, dtype=bool),
        draw=np.concatenate(draws) if draws else np.zeros(0),
        full=np.asarray([r["full"] for r in records], dtype=bool),
        persistence=persist,
    )


def fit_on_table(
    table: PoolTable,
    before_run: int,
    *,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    **params,
) -> Ranker:
    """Fit on the labels of runs before `before_run` (easy negatives sampled and reweighted)."""
    rows = table.rows_before(before_run)
    x = table.features.iloc[rows]
    y = table.chosen[rows]
    easy = _is_easy(x, y)
    # rows of fully kept labels are sampled here with their fixed draw, like the others at build time
    label_full = np.repeat(table.full, (table.records["stop"] - table.records["start"]).to_numpy())[rows]
    keep = ~(easy & label_full) | (table.draw[rows] < EASY_NEGATIVE_KEEP)
    x, y = x[keep], y[keep]
    w = np.where(easy[keep], 1.0 / EASY_NEGATIVE_KEEP, 1.0)
    return ranker_fit(x, y, w, numeric=numeric, categorical=categorical, **params)


def label_scores(table: PoolTable, ranker: Ranker, labels: np.ndarray) -> np.ndarray:
    """Raw model scores of every row of the given labels (one predict call)."""
    rows = _rows_of(table.records, labels)
    out = np.full(len(table.features), np.nan)
    if len(rows):
        out[rows] = ranker.scores(table.features.iloc[rows])
    return out


# A probability this close to 0 or 1 no longer orders candidates in floating point.
SATURATED = 1e-9


def saturated_share(scores: np.ndarray) -> float:
    """The share of scored candidates whose probability is within SATURATED of 0 or 1."""
    scored = scores[~np.isnan(scores)]
    return float(((scored < SATURATED) | (scored > 1 - SATURATED)).mean()) if len(scored) else 0.0


def window_labels(table: PoolTable, lo: int, hi: int) -> np.ndarray:
    runs = table.records["run_number"].to_numpy()
    return np.flatnonzero((runs >= lo) & (runs < hi))


def ranked_window(
    table: PoolTable,
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    switch_log_odds: float | None = SWITCH_LOG_ODDS,
    reserved_new_slots: int = RESERVED_NEW_SLOTS,
    keep_persistence: int = KEEP_PERSISTENCE,
    new_slot_window: int = NEW_SLOT_WINDOW,
    name: str = "model",
) -> pd.DataFrame:
    """The window's records with the model's rank of the truth, and rank 1's raw score and outcome."""
    rec = table.records.iloc[labels].copy()
    ranks, top_scores, not_persistence = [], [], []
    ever = table.features["ever_used"].to_numpy()
    gap = table.features["run_gap"].to_numpy()
    for i in labels:
        a, b = int(table.records["start"].iat[i]), int(table.records["stop"].iat[i])
        if b == a:
            ranks.append(math.inf)
            top_scores.append(np.nan)
            not_persistence.append(False)
            continue
        cands = table.candidates[a:b].tolist()
        order = decide(
            cands,
            scores[a:b],
            never_used=ever[a:b] == 0,
            run_gap=gap[a:b],
            persistence=table.persistence[i],
            switch_log_odds=switch_log_odds,
            reserved_new_slots=reserved_new_slots,
            keep_persistence=keep_persistence,
            new_slot_window=new_slot_window,
        )
        ranked = [cands[j] for j in order]
        ranks.append(rank_of(ranked, int(table.records["reference"].iat[i])))
        top_scores.append(float(scores[a + order[0]]))
        persistence = table.persistence[i]
        not_persistence.append(bool(persistence) and ranked[0] != persistence[0])
    rec[f"rank_{name}"] = ranks
    rec["top_score"] = top_scores
    rec[f"rank1_not_persistence_{name}"] = not_persistence
    return rec


def fit_calibrator(raw_top_scores: np.ndarray, correct: np.ndarray) -> IsotonicRegression | None:
    """Isotonic map from rank 1's raw score to the chance that rank 1 is the shifter's reference."""
    ok = ~np.isnan(raw_top_scores)
    if ok.sum() < 20 or len(np.unique(correct[ok])) < 2:
        return None
    calibrator = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
    calibrator.fit(raw_top_scores[ok], correct[ok].astype(float))
    return calibrator


# Used when there are too few held-out labels to derive them (probabilities of rank 1 being right).
DEFAULT_CONFIDENCE_THRESHOLDS = {"high": 0.97, "medium": 0.8}


def confidence_thresholds(probabilities: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """Calibrated rank-1 probabilities that split the out-of-period pairs into confidence words:
    "high" is the lowest probability above which rank 1 was right at least 97% of the time;
    "medium" the lowest below "high" above which (and below "high") it was right at least 80%."""
    out = dict(DEFAULT_CONFIDENCE_THRESHOLDS)
    p = np.asarray(probabilities, dtype=float)
    c = np.asarray(correct, dtype=float)
    ok = ~np.isnan(p)
    p, c = p[ok], c[ok]
    if len(p) == 0:
        return out

    def lowest(values, outcomes, aim):
        # precision of "probability >= v" at each distinct v (ties decide together), highest v first
        levels = np.unique(values)[::-1]
        hits = [v for v in levels if outcomes[values >= v].mean() >= aim]
        return float(min(hits)) if hits else None

    high = lowest(p, c, 0.97)
    out["high"] = round(high, 4) if high is not None else 1.0
    below = p < out["high"]
    medium = lowest(p[below], c[below], 0.8) if below.any() else None
    out["medium"] = round(medium, 4) if medium is not None else out["high"]
    return out


def folds_in(table: PoolTable, folds: Iterable[Fold]) -> list[Fold]:
    """The folds whose window holds labels and whose origin has labels before it."""
    runs = table.records["run_number"].to_numpy()
    return [f for f in folds if ((runs >= f.origin) & (runs < f.end)).any() and (runs < f.origin).any()]


def cross_validation_report(
    table: PoolTable,
    folds: Iterable[Fold] = FOLDS,
    *,
    log: Callable[[str], None] | None = None,
    model_params: dict | None = None,
    **decision,
) -> dict:
    """Fit and score every fold; figures per fold, mean and worst, per run class and (year, class).

    Each fold's calibrator is the isotonic map fitted on the previous fold's window as its own
    model scored it: out of period, as training fits it on its newest labels.
    """
    import time

    from .evaluation import breakdowns_json

    fold_rows, windows = [], []
    previous: pd.DataFrame | None = None
    for fold in folds_in(table, folds):
        started = time.perf_counter()
        ranker = fit_on_table(table, fold.origin, **(model_params or {}))
        labels = window_labels(table, fold.origin, fold.end)
        scores = label_scores(table, ranker, labels)
        rec = ranked_window(table, labels, scores, **decision)
        rec["fold"] = fold.name
        correct = (rec["rank_model"] == 1).to_numpy()
        calibration = {}
        if previous is not None and fold.family != "long cut":
            calibrator = fit_calibrator(
                previous["top_score"].to_numpy(dtype=float), (previous["rank_model"] == 1).to_numpy()
            )
            if calibrator is not None:
                probabilities = calibrator.predict(np.nan_to_num(rec["top_score"].to_numpy(dtype=float)))
                calibration = reliability(np.where(rec["top_score"].isna(), np.nan, probabilities), correct)
        row = {
            "fold": fold.name,
            "family": fold.family,
            "origin": fold.origin,
            "end": fold.end,
            "train_labels": int((table.records["run_number"] < fold.origin).sum()),
            "seconds": round(time.perf_counter() - started, 1),
            "calibration": calibration,
            "saturated": saturated_share(scores),
        }
        for method in METHODS:
            if f"rank_{method}" in rec:
                row[method] = slice_metrics(rec, method)
        row["rank1_not_persistence"] = rank1_not_persistence(rec)
        fold_rows.append(row)
        if fold.family != "long cut":
            windows.append(rec)
            previous = rec
        if log:
            m, p, d = row["model"]["all"], row["persistence"]["all"], row["rank1_not_persistence"]
            log(
                f"{fold.name}: n {m['n']}, model top-1 {100 * m['top1']:.1f}% / persistence {100 * p['top1']:.1f}%, "
                f"top-5 {100 * m['top5']:.1f}% / {100 * p['top5']:.1f}%, rank 1 not persistence's pick {d['n']} "
                f"(model right {d['model_right']}, persistence right {d['persistence_right']}), "
                f"saturated scores {100 * row['saturated']:.0f}% ({row['seconds']} s)"
            )
    pooled = pd.concat(windows, ignore_index=True) if windows else pd.DataFrame()
    methods = [m for m in METHODS if f"rank_{m}" in pooled]
    return {
        "folds": fold_rows,
        "summary": fold_summary(fold_rows, methods),
        "by_class": class_summary(windows, methods),
        "by": breakdowns_json(pooled, methods),
        "pooled_new": pooled_new_interval(pooled) if len(pooled) else {},
        "methods": methods,
    }
