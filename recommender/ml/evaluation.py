"""The prequential evaluation of ../shared/docs/evaluation.md.

Pairs are scored in run order. A test pair sees every label of a smaller run number
(training and earlier test pairs alike) and the run features; never its own label
nor a later one. Model parameters come from the training pairs only.

Headline figures leave out pairs whose reference is the run itself or a later one
(rereco is certified years later); they are reported separately.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .baselines import PredecessorRanker, persistence_ranking
from .candidates import candidate_pool
from .model import Ranker, walk
from .pair_features import pair_features
from .run_table import RunTable, Target

TOP_K = (1, 3, 5)
SLICES = ("all", "switch", "new")
BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 12345

# First run of each year (data/README.md).
_YEAR_STARTS = [
    (287000, "2017"),
    (308000, "2018"),
    (328000, "2019-21"),
    (347000, "2022"),
    (362800, "2023"),
    (376000, "2024"),
]


def year_of(run_number: int) -> str:
    starts = [s for s, _ in _YEAR_STARTS]
    i = bisect.bisect_right(starts, run_number)
    return "<=2016" if i == 0 else _YEAR_STARTS[i - 1][1]


def rank_of(ranking: list[int], truth: int) -> float:
    try:
        return float(ranking.index(truth) + 1)
    except ValueError:
        return math.inf


def prequential_records(
    train_labels: pd.DataFrame,
    test_labels: pd.DataFrame,
    runs: RunTable,
    *,
    rankers: Mapping[str, Ranker],
    predecessor: bool = True,
    curated_for: Callable[[Target], frozenset[int]] | None = None,
) -> pd.DataFrame:
    """One row per positive test label: slices and the rank of the true reference per method."""
    both = pd.concat([train_labels.assign(_test=False), test_labels.assign(_test=True)], ignore_index=True).sort_values(
        "run_number", kind="stable"
    )
    test_keys = {
        (int(r.run_number), str(r.reconstruction), int(r.reference_run_number))
        for r in test_labels.itertuples(index=False)
    }
    train_keys = {
        (int(r.run_number), str(r.reconstruction), int(r.reference_run_number))
        for r in train_labels.itertuples(index=False)
    }
    pred = PredecessorRanker(runs) if predecessor else None
    records: list[dict] = []
    pools: list[list[int]] = []
    persistences: list[list[int]] = []
    feature_frames: list[pd.DataFrame] = []
    for history, rows in walk(both):
        for row in rows:
            key = (row.target.run_number, row.target.reconstruction, row.reference)
            if key not in test_keys or key in train_keys:
                continue  # a training pair is history, not a test
            record, pool, features = _prepare_one(history, row.target, row.reference, runs, pred, curated_for)
            records.append(record)
            pools.append(pool)
            persistences.append(persistence_ranking(history, row.target))
            feature_frames.append(features)
    # The model is fixed during the test, so every pair is scored in one call.
    if records and rankers:
        sizes = [len(p) for p in pools]
        stacked = pd.concat(feature_frames, ignore_index=True)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        for name, ranker in rankers.items():
            scores = ranker.scores(stacked) if len(stacked) else np.zeros(0)
            for i, record in enumerate(records):
                lo, hi = bounds[i], bounds[i + 1]
                if hi == lo:
                    record[f"rank_{name}"] = math.inf
                    continue
                ranked, ranked_scores = ranker.order(
                    pools[i], feature_frames[i], scores=scores[lo:hi], persistence=persistences[i]
                )
                record[f"rank_{name}"] = rank_of(ranked, record["reference"])
                record[f"top_score_{name}"] = float(ranked_scores[0])
                record[f"rank1_not_persistence_{name}"] = bool(persistences[i]) and ranked[0] != persistences[i][0]
    return pd.DataFrame(records)


def pair_record(history, target, truth: int, pool: list[int], persistence: list[int], pred) -> dict:
    """What the slices and the tables need of one scored pair, before any model ranks it."""
    record = {
        "run_number": target.run_number,
        "reconstruction": target.reconstruction,
        "run_class": target.run_class or "unknown",
        "year": year_of(target.run_number),
        "reference": truth,
        "excluded": truth >= target.run_number,
        "switch": history.group(target).last_ref != truth,
        "new": truth not in history.everyone.last_run,
        "in_pool": truth in pool,
        "pool_size": len(pool),
        "rank_persistence": rank_of(persistence, truth),
    }
    if pred is not None:
        record["rank_predecessor"] = rank_of(pred.rank(target, pool), truth)
    return record


def _prepare_one(history, target, truth, runs, pred, curated_for):
    curated = curated_for(target) if curated_for else frozenset()
    pool = candidate_pool(history, target, runs, curated=curated)
    record = pair_record(history, target, truth, pool, persistence_ranking(history, target), pred)
    features = pair_features(history, target, pool, runs, curated=curated) if pool else pd.DataFrame()
    return record, pool, features


def metrics(ranks: np.ndarray) -> dict:
    ranks = np.asarray(ranks, dtype=float)
    n = len(ranks)
    out: dict = {"n": int(n)}
    # An empty slice reads 0.0 (with n = 0), so the JSON output stays strict JSON.
    for k in TOP_K:
        out[f"top{k}"] = float((ranks <= k).mean()) if n else 0.0
    out["mrr"] = float((1.0 / ranks).mean()) if n else 0.0
    return out


def bootstrap_intervals(ranks: np.ndarray, *, samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED) -> dict:
    """95% percentile intervals of top-k and MRR, resampling pairs with a fixed seed."""
    ranks = np.asarray(ranks, dtype=float)
    n = len(ranks)
    if n == 0:
        return {}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(samples, n))
    drawn = ranks[idx]
    out = {}
    for k in TOP_K:
        values = (drawn <= k).mean(axis=1)
        out[f"top{k}"] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
    values = (1.0 / drawn).mean(axis=1)
    out["mrr"] = (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))
    return out


def slice_mask(records: pd.DataFrame, name: str) -> np.ndarray:
    headline = ~records["excluded"].to_numpy(dtype=bool)
    if name == "all":
        return headline
    return headline & records[name].to_numpy(dtype=bool)


def summary(records: pd.DataFrame, methods: list[str]) -> dict:
    """{"method": {"all": M, "switch": M, "new": M}}, headline pairs only."""
    out = {}
    for method in methods:
        ranks = records[f"rank_{method}"].to_numpy(dtype=float) if len(records) else np.zeros(0)
        out[method] = {s: metrics(ranks[slice_mask(records, s)] if len(records) else ranks) for s in SLICES}
    return out


def breakdown(records: pd.DataFrame, methods: list[str], by: str) -> pd.DataFrame:
    """Top-1/3/5 and MRR per value of `by` (year, reconstruction, run_class), headline pairs."""
    rows = []
    headline = records[~records["excluded"]]
    for value, part in headline.groupby(by, sort=True):
        for method in methods:
            m = metrics(part[f"rank_{method}"].to_numpy(dtype=float))
            rows.append({by: value, "method": method, **m})
    return pd.DataFrame(rows)


def breakdowns_json(records: pd.DataFrame, methods: list[str]) -> dict[str, list[dict]]:
    """{"year": [...], "run_class": [...], "year_class": [...]}: one entry per key and method,
    {"key", "method", "n", "top1", "top3", "top5", "mrr"}, headline pairs only."""
    if records.empty:
        return {"year": [], "run_class": [], "year_class": []}
    records = records.assign(year_class=records["year"].astype(str) + " " + records["run_class"].astype(str))
    out: dict[str, list[dict]] = {}
    for by in ("year", "run_class", "year_class"):
        table = breakdown(records, methods, by)
        out[by] = [
            {"key": str(row[by]), "method": row["method"], **{k: row[k] for k in ("n", "top1", "top3", "top5", "mrr")}}
            for row in table.to_dict("records")
        ]
        for entry in out[by]:
            entry["n"] = int(entry["n"])
            for k in ("top1", "top3", "top5", "mrr"):
                entry[k] = float(entry[k])
    return out


def rank1_not_persistence(records: pd.DataFrame, method: str = "model") -> dict:
    """The pairs where the method's rank 1 is not persistence's pick (persistence having one),
    and in how many of them each was right: a switch, silent or not, is always counted."""
    column = f"rank1_not_persistence_{method}"
    if column not in records or records.empty:
        return {"n": 0, "model_right": 0, "persistence_right": 0}
    head = records[~records["excluded"].to_numpy(dtype=bool)]
    differ = head[column].to_numpy(dtype=bool)
    return {
        "n": int(differ.sum()),
        "model_right": int((head.loc[differ, f"rank_{method}"] == 1).sum()),
        "persistence_right": int((head.loc[differ, "rank_persistence"] == 1).sum()),
    }


def recall(records: pd.DataFrame) -> dict:
    out = {}
    for s in SLICES:
        mask = slice_mask(records, s)
        out[s] = float(records.loc[mask, "in_pool"].mean()) if mask.any() else float("nan")
    return out


def evaluation_report(
    train_labels: pd.DataFrame,
    test_labels: pd.DataFrame,
    run_features: pd.DataFrame,
    *,
    compare_without_oms: bool = False,
) -> dict:
    """Fit on train, score test; figures for the `evaluate` command."""
    from .catalogue import CATEGORICAL_COLUMNS, HISTORY_COLUMNS
    from .model import fit_ranker

    runs = RunTable(run_features)
    rankers = {"model": fit_ranker(train_labels, runs)}
    if compare_without_oms:
        rankers["model_without_oms"] = fit_ranker(
            train_labels, runs, numeric=list(HISTORY_COLUMNS), categorical=list(CATEGORICAL_COLUMNS)
        )
    records = prequential_records(train_labels, test_labels, runs, rankers=rankers)
    methods = [*rankers, "persistence", "predecessor"]
    if records.empty:
        records = pd.DataFrame(columns=["excluded", "switch", "new", "in_pool", *[f"rank_{m}" for m in methods]])
    report = {
        "summary": summary(records, methods),
        "methods": methods,
        "records": records,
        "intervals": {
            m: {
                s: bootstrap_intervals(records.loc[slice_mask(records, s), f"rank_{m}"].to_numpy(dtype=float))
                for s in SLICES
            }
            for m in methods
        }
        if len(records)
        else {},
        "recall": recall(records) if len(records) else {},
        "rank1_not_persistence": rank1_not_persistence(records),
        "excluded": int(records["excluded"].sum()) if len(records) else 0,
        "train_pairs": len(train_labels),
        "test_pairs": len(test_labels),
    }
    return report


def _pct(x: float) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def format_report(report: dict) -> str:
    """Markdown tables: headline slices with 95% bootstrap intervals, then breakdowns."""
    lines = [
        f"train pairs {report['train_pairs']}, test pairs {report['test_pairs']}; "
        f"{report['excluded']} test pairs whose reference is the run itself or later are left out of the headline; "
        f"{report.get('seconds', 0):.1f} s",
        "",
        "| method | slice | n | top-1 | top-3 | top-5 | MRR |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in report["methods"]:
        for s in SLICES:
            m = report["summary"][method][s]
            ci = report["intervals"].get(method, {}).get(s, {})
            cells = []
            for key in ("top1", "top3", "top5", "mrr"):
                lo_hi = ci.get(key)
                interval = f" [{_pct(lo_hi[0])}, {_pct(lo_hi[1])}]" if lo_hi else ""
                cells.append(_pct(m[key]) + interval)
            lines.append(f"| {method} | {s} | {m['n']} | " + " | ".join(cells) + " |")
    if report.get("recall"):
        lines += ["", "candidate recall: " + ", ".join(f"{s} {_pct(v)}" for s, v in report["recall"].items())]
    if report.get("rank1_not_persistence"):
        d = report["rank1_not_persistence"]
        lines += [
            "",
            f"rank 1 not persistence's pick: {d['n']} pairs (model right {d['model_right']}, "
            f"persistence right {d['persistence_right']})",
        ]
    records = report["records"]
    if len(records):
        excluded = records[records["excluded"]]
        if len(excluded):
            lines += ["", f"Left out (reference is the run itself or later): {len(excluded)} pairs"]
            for method in report["methods"]:
                m = metrics(excluded[f"rank_{method}"].to_numpy(dtype=float))
                lines.append(f"- {method}: top-1 {_pct(m['top1'])}, top-5 {_pct(m['top5'])}")
        records = records.assign(year_class=records["year"] + " " + records["run_class"])
        for by in ("year", "reconstruction", "run_class", "year_class"):
            table = breakdown(records, report["methods"], by)
            if table.empty:
                continue
            lines += ["", f"| {by} | method | n | top-1 | top-3 | top-5 | MRR |", "|---|---|---|---|---|---|---|"]
            for row in table.itertuples(index=False):
                row = row._asdict()
                lines.append(
                    f"| {row[by]} | {row['method']} | {row['n']} | {_pct(row['top1'])} | {_pct(row['top3'])} | "
                    f"{_pct(row['top5'])} | {_pct(row['mrr'])} |"
                )
    return "\n".join(lines)
