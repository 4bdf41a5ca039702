"""Training rows, fitting and ranking: the model as the rest of the code sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from .candidates import HARD_RULES, candidate_pool
from .catalogue import FEATURE_COLUMNS, HISTORY_COLUMNS, OMS_COLUMNS, current_names
from .history import History
from .pair_features import pair_features
from .pipeline import RANDOM_STATE, build_pipeline
from .run_table import RunTable, Target

# Never-used candidates far down the certified list are easy negatives; keep a sample
# of them (reweighted) so a fit over ~10,000 labels stays within seconds.
EASY_NEGATIVE_KEEP = 0.1
# The five recommendations shown; one of them goes to the most recently certified never-used
# run (chosen on the forward-chaining folds, EVALUATION.md: a second one cost top-5 against
# persistence on the 2018 folds, where groups alternate between older references).
TOP = 5
RESERVED_NEW_SLOTS = 1
# The decision layer (chosen on the forward-chaining folds, EVALUATION.md): where persistence
# has a pick, the model takes rank 1 from it only when its best candidate's log-odds beat the
# pick's by SWITCH_LOG_ODDS. No margin paid on every fold (the model's pick was right in few of
# its disagreements with persistence), so there is none: rank 1 is persistence's pick whenever
# persistence has one. Log-odds, never a raw difference: scores near 1 and 0 saturate in floating
# point (1.0 - 1e-52 == 1.0), which once let a raw margin of 1 switch. Persistence's first
# KEEP_PERSISTENCE references always stay among the five.
SWITCH_LOG_ODDS: float | None = None
KEEP_PERSISTENCE = 3
# how many of the newest never-used runs compete, by model score, for the reserved places
NEW_SLOT_WINDOW = 1


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
    switch_log_odds: float | None = SWITCH_LOG_ODDS
    keep_persistence: int = KEEP_PERSISTENCE
    new_slot_window: int = NEW_SLOT_WINDOW
    # isotonic map raw score -> probability of being the shifter's reference, fitted out of period
    calibrator: object | None = None
    meta: dict = field(default_factory=dict)
    # The names the pipeline was fitted with where they are not `numeric + categorical`: a
    # model pickled before its features were renamed (recommender.ml.catalogue, `formerly`)
    # is given today's columns under the names it knows.
    fitted_columns: list[str] | None = None

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        fitted = state.get("fitted_columns") or [*state["numeric"], *state["categorical"]]
        state["numeric"] = current_names(state["numeric"])
        state["categorical"] = current_names(state["categorical"])
        state["fitted_columns"] = None if fitted == [*state["numeric"], *state["categorical"]] else fitted
        self.__dict__.update(state)

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        if features.empty:
            return np.zeros(0)
        frame = features[self.numeric + self.categorical]
        if self.fitted_columns is not None:
            frame = frame.set_axis(self.fitted_columns, axis=1)
        return self.pipeline.predict_proba(frame)[:, 1]

    def serving_scores(self, numeric: np.ndarray, categorical: list[np.ndarray]) -> np.ndarray:
        """Scores of rows given as arrays: the numeric columns (in `self.numeric` order) and
        one array per categorical column, through the fitted pipeline as `scores`."""
        if len(numeric) == 0:
            return np.zeros(0)
        names = self.fitted_columns or [*self.numeric, *self.categorical]
        columns = dict(zip(names, [*numeric.T, *categorical], strict=True))
        return self.pipeline.predict_proba(pd.DataFrame(columns))[:, 1]

    def order(
        self,
        candidates: list[int],
        features: pd.DataFrame | dict[str, np.ndarray],
        *,
        scores: np.ndarray | None = None,
        persistence: list[int] | None = None,
    ) -> tuple[list[int], np.ndarray]:
        """Candidates best first, and their model scores in that order (the decision layer).
        `features`: `pair_features`' frame, or its arrays with `scores` given."""
        scores = self.scores(features) if scores is None else scores
        some = len(candidates) > 0
        order = decide(
            candidates,
            scores,
            never_used=np.asarray(features["ever_used"]) == 0 if some else np.zeros(0, dtype=bool),
            run_gap=np.asarray(features["run_gap"]) if some else np.zeros(0),
            persistence=persistence or [],
            # artifacts pickled before the log-odds rule carry a raw `switch_threshold`; never reuse it
            switch_log_odds=getattr(self, "switch_log_odds", SWITCH_LOG_ODDS),
            reserved_new_slots=getattr(self, "reserved_new_slots", 1),
            keep_persistence=getattr(self, "keep_persistence", KEEP_PERSISTENCE),
            new_slot_window=getattr(self, "new_slot_window", NEW_SLOT_WINDOW),
        )
        return [candidates[i] for i in order], scores[order]

    def confidence(self, raw_scores: np.ndarray) -> np.ndarray:
        """Raw scores mapped to the probability that the candidate is the one the shifter
        uses, by the isotonic map fitted out of period at training (identity without one)."""
        calibrator = getattr(self, "calibrator", None)
        raw = np.asarray(raw_scores, dtype=float)
        if calibrator is None or raw.size == 0:
            return raw
        return np.clip(calibrator.predict(raw), 0.0, 1.0)


def log_odds(probabilities: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)), finite for every probability: p is kept a float's resolution away from
    0 and 1, where log-odds would be infinite and every difference of them undefined."""
    eps = np.finfo(float).eps
    p = np.clip(np.asarray(probabilities, dtype=float), eps, 1.0 - eps)
    return np.log(p) - np.log1p(-p)


def decide(
    candidates: list[int],
    scores: np.ndarray,
    *,
    never_used: np.ndarray,
    run_gap: np.ndarray,
    persistence: list[int],
    switch_log_odds: float | None = SWITCH_LOG_ODDS,
    reserved_new_slots: int = RESERVED_NEW_SLOTS,
    keep_persistence: int | None = None,
    new_slot_window: int | None = None,
) -> np.ndarray:
    """Positions of `candidates` best first.

    Rank 1 is persistence's pick (the group's current reference) whenever it is a candidate,
    unless `switch_log_odds` is set and the model's best candidate beats the pick by that many
    log-odds: a wrong switch costs a top-1 that persistence had (EVALUATION.md). Ranks 2-5
    follow the model, except that persistence's next `keep_persistence - 1` references and the
    `reserved_new_slots` newest never-used runs join the five, replacing the lowest-scored of them.
    """
    keep_persistence = KEEP_PERSISTENCE if keep_persistence is None else keep_persistence
    n = len(candidates)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    scores = np.asarray(scores, dtype=float)
    # ties: newest candidate first
    order = list(np.lexsort((-np.asarray(candidates, dtype=float), -scores)))
    rank = {i: r for r, i in enumerate(order)}
    position = {c: i for i, c in enumerate(candidates)}
    persisted = [position[p] for p in persistence if p in position]
    head: list[int] = []
    if persisted:
        pick, best = persisted[0], order[0]
        head = [pick]
        if best != pick and switch_log_odds is not None:
            margin = log_odds(scores[[best, pick]])
            if margin[0] - margin[1] >= switch_log_odds:
                head = [best]
    rest = [i for i in order if i not in head]
    if n <= TOP:
        return np.asarray(head + rest, dtype=np.int64)
    # places in the five that the model must share
    forced: list[int] = []
    for i in persisted[:keep_persistence]:
        if i not in head and i not in forced:
            forced.append(i)
    if reserved_new_slots:
        never_rest = [i for i in rest if never_used[i] and i not in forced]
        window = max(NEW_SLOT_WINDOW if new_slot_window is None else new_slot_window, reserved_new_slots)
        newest = sorted(never_rest, key=lambda i: (run_gap[i], rank[i]))[:window]
        # persistence's next reference contests the place: a group that alternates between
        # older references keeps its fourth one when the model prefers it to the unused run
        newest += [i for i in persisted[keep_persistence : keep_persistence + 1] if i not in forced]
        # among these, the model's favourites take the places
        forced += sorted(newest, key=rank.__getitem__)[:reserved_new_slots]
    free = TOP - len(head)
    forced = forced[:free]
    model_part = [i for i in rest if i not in forced][: free - len(forced)]
    top = head + sorted(model_part + forced, key=rank.__getitem__)
    chosen = set(top)
    return np.asarray(top + [i for i in order if i not in chosen], dtype=np.int64)


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
    return ranker_fit(x, y, w, numeric=numeric, categorical=categorical, **params)


def ranker_fit(
    x: pd.DataFrame,
    y: np.ndarray,
    w: np.ndarray,
    *,
    numeric: list[str] | None = None,
    categorical: list[str] | None = None,
    **params,
) -> Ranker:
    """The pipeline fitted on pair rows, their chosen flags and sample weights."""
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
