"""The figures of a forward-chaining validation (recommender.ml.crossval): per-fold metrics,
calibration, the mean and worst fold, per run class, and the report as Markdown tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

METHODS = ("model", "persistence", "predecessor")


def slice_metrics(rec: pd.DataFrame, method: str) -> dict:
    from .evaluation import metrics

    head = rec[~rec["excluded"].to_numpy(dtype=bool)]
    out = {}
    for name, part in (("all", head), ("switch", head[head["switch"]]), ("new", head[head["new"]])):
        out[name] = metrics(part[f"rank_{method}"].to_numpy(dtype=float))
    return out


def reliability(probabilities: np.ndarray, correct: np.ndarray, bins: int = 10) -> dict:
    """Expected calibration error and the mean predicted vs observed rate (equal-count bins)."""
    ok = ~np.isnan(probabilities)
    p, c = probabilities[ok], correct[ok].astype(float)
    if len(p) == 0:
        return {"n": 0, "ece": float("nan"), "mean_p": float("nan"), "rate": float("nan")}
    order = np.argsort(p, kind="stable")
    ece = 0.0
    for part in np.array_split(order, min(bins, len(p))):
        ece += len(part) / len(p) * abs(p[part].mean() - c[part].mean())
    return {"n": len(p), "ece": float(ece), "mean_p": float(p.mean()), "rate": float(c.mean())}


def pooled_new_interval(pooled: pd.DataFrame) -> dict:
    from .evaluation import bootstrap_intervals

    head = pooled[~pooled["excluded"].to_numpy(dtype=bool)]
    out = {}
    for method in ("model", "persistence"):
        for name in ("switch", "new"):
            ranks = head.loc[head[name].to_numpy(dtype=bool), f"rank_{method}"].to_numpy(dtype=float)
            m = {"n": len(ranks), **{f"top{k}": float((ranks <= k).mean()) if len(ranks) else 0.0 for k in (1, 3, 5)}}
            m["interval"] = {k: list(v) for k, v in bootstrap_intervals(ranks).items()}
            out[f"{method}_{name}"] = m
    return out


def fold_summary(fold_rows: list[dict], methods: list[str]) -> dict:
    """Mean over the one-period folds (the long cut left out: it overlaps them) and the worst fold."""
    rows = [r for r in fold_rows if r["family"] != "long cut"]
    out: dict = {"folds": len(rows)}
    for method in methods:
        out[method] = {}
        for s in ("all", "switch", "new"):
            values = {k: [r[method][s][k] for r in rows if r[method][s]["n"]] for k in ("top1", "top3", "top5", "mrr")}
            out[method][s] = {k: float(np.mean(v)) if v else float("nan") for k, v in values.items()}
    gaps = [(100 * (r["model"]["all"]["top1"] - r["persistence"]["all"]["top1"]), r["fold"]) for r in fold_rows]
    gaps5 = [(100 * (r["model"]["all"]["top5"] - r["persistence"]["all"]["top5"]), r["fold"]) for r in fold_rows]
    out["worst_top1_gap"] = {"points": round(min(gaps)[0], 2), "fold": min(gaps)[1]} if gaps else {}
    out["worst_top5_gap"] = {"points": round(min(gaps5)[0], 2), "fold": min(gaps5)[1]} if gaps5 else {}
    out["rank1_not_persistence"] = {
        k: sum(r["rank1_not_persistence"][k] for r in rows) for k in ("n", "model_right", "persistence_right")
    }
    worst = min(rows, key=lambda r: r["model"]["all"]["top1"]) if rows else None
    out["worst_fold"] = worst["fold"] if worst else ""
    return out


def class_summary(windows: list[pd.DataFrame], methods: list[str]) -> list[dict]:
    """Per run class: pooled figures over the folds, and its worst fold (model top-1 minus persistence's)."""
    if not windows:
        return []
    pooled = pd.concat(windows, ignore_index=True)
    pooled = pooled[~pooled["excluded"].to_numpy(dtype=bool)]
    out = []
    for run_class, part in pooled.groupby("run_class", sort=True):
        row: dict = {"run_class": run_class, "n": len(part)}
        for method in methods:
            row[method] = {f"top{k}": float((part[f"rank_{method}"] <= k).mean()) for k in (1, 3, 5)}
        worst = None
        for fold, fpart in part.groupby("fold", sort=False):
            gap1 = 100 * ((fpart["rank_model"] <= 1).mean() - (fpart["rank_persistence"] <= 1).mean())
            gap5 = 100 * ((fpart["rank_model"] <= 5).mean() - (fpart["rank_persistence"] <= 5).mean())
            if worst is None or gap1 < worst["top1_gap"]:
                worst = {"fold": fold, "n": len(fpart), "top1_gap": round(gap1, 2), "top5_gap": round(gap5, 2)}
        row["worst_fold"] = worst
        out.append(row)
    return out


def format_cross_validation(report: dict) -> str:
    def pct(x):
        return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"

    lines = []
    families = []
    for r in report["folds"]:
        if r["family"] not in families:
            families.append(r["family"])
    for family in families:
        lines += [
            "",
            f"Fold family: {family}",
            "",
            "| fold | train labels | n | model top-1 | pers. top-1 | model top-3 | pers. top-3 | model top-5 | "
            "pers. top-5 | switch n | model sw. top-3 | pers. sw. top-3 | new n | model new top-5 | "
            "rank 1 not pers. (model right, pers. right) | calibration ECE |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in report["folds"]:
            if r["family"] != family:
                continue
            m, p = r["model"], r["persistence"]
            ece = r["calibration"].get("ece") if r["calibration"] else None
            d = r["rank1_not_persistence"]
            lines.append(
                f"| {r['fold']} | {r['train_labels']} | {m['all']['n']} | {pct(m['all']['top1'])} | "
                f"{pct(p['all']['top1'])} | {pct(m['all']['top3'])} | {pct(p['all']['top3'])} | "
                f"{pct(m['all']['top5'])} | {pct(p['all']['top5'])} | {m['switch']['n']} | "
                f"{pct(m['switch']['top3'])} | {pct(p['switch']['top3'])} | {m['new']['n']} | "
                f"{pct(m['new']['top5'])} | {d['n']} ({d['model_right']}, {d['persistence_right']}) | "
                f"{'—' if ece is None else f'{ece:.3f}'} |"
            )
    s = report["summary"]
    lines += ["", f"Mean over {s['folds']} one-period folds (the long cut left out):", ""]
    lines += ["| method | all top-1 | all top-3 | all top-5 | switch top-3 | switch top-5 | new top-5 |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for method in report["methods"]:
        a, w, n = s[method]["all"], s[method]["switch"], s[method]["new"]
        lines.append(
            f"| {method} | {pct(a['top1'])} | {pct(a['top3'])} | {pct(a['top5'])} | {pct(w['top3'])} | "
            f"{pct(w['top5'])} | {pct(n['top5'])} |"
        )
    lines += [
        "",
        f"Worst fold (model top-1): {s['worst_fold']}; worst model-minus-persistence top-1: "
        f"{s['worst_top1_gap']['points']} points ({s['worst_top1_gap']['fold']}); top-5: "
        f"{s['worst_top5_gap']['points']} points ({s['worst_top5_gap']['fold']})",
    ]
    pn = report.get("pooled_new", {})
    if pn:
        lines += ["", "Pooled over the one-period folds, 95% bootstrap intervals:"]
        for key, m in pn.items():
            iv = m["interval"]
            cells = ", ".join(
                f"top-{k} {pct(m[f'top{k}'])}" + (f" [{pct(iv[f'top{k}'][0])}, {pct(iv[f'top{k}'][1])}]" if iv else "")
                for k in (1, 3, 5)
            )
            lines.append(f"- {key} (n {m['n']}): {cells}")
    lines += [
        "",
        "| run class | n | model top-1 | pers. top-1 | model top-5 | pers. top-5 | worst fold (top-1 gap, top-5 gap) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["by_class"]:
        w = r["worst_fold"]
        lines.append(
            f"| {r['run_class']} | {r['n']} | {pct(r['model']['top1'])} | {pct(r['persistence']['top1'])} | "
            f"{pct(r['model']['top5'])} | {pct(r['persistence']['top5'])} | {w['fold']} (n {w['n']}: {w['top1_gap']:+.1f}, "
            f"{w['top5_gap']:+.1f}) |"
        )
    yc = [e for e in report["by"]["year_class"]]
    keys = sorted({e["key"] for e in yc})
    lines += [
        "",
        "| year, run class | n | model top-1 | pers. top-1 | model top-5 | pers. top-5 |",
        "|---|---|---|---|---|---|",
    ]
    for key in keys:
        m = next(e for e in yc if e["key"] == key and e["method"] == "model")
        p = next(e for e in yc if e["key"] == key and e["method"] == "persistence")
        lines.append(
            f"| {key} | {m['n']} | {pct(m['top1'])} | {pct(p['top1'])} | {pct(m['top5'])} | {pct(p['top5'])} |"
        )
    return "\n".join(lines).lstrip()
