"""Pair features of (target run reconstruction, candidate reference run): the columns of
recommender.ml.catalogue, computed.

Two kinds:
- history features, from the labels of runs *before* the target only (recommender.ml.history).
- run features, differences between the target's and the candidate's OMS/DQM values
  (runs up to and including the target; candidates are never later runs except for
  rereco, where the run features of a reference certified years ago are known).

Missing values are NaN, the normal case: the gradient-boosting model handles them.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from .catalogue import FEATURE_COLUMNS
from .history import History, Uses
from .run_table import B_FIELD_ON_T, RunTable, Target


def pair_features(
    history: History,
    target: Target,
    candidates: list[int],
    runs: RunTable,
    *,
    curated: frozenset[int] = frozenset(),
) -> pd.DataFrame:
    """One row per candidate, columns FEATURE_COLUMNS (training and evaluation)."""
    return pd.DataFrame(
        pair_feature_arrays(history, target, candidates, runs, curated=curated), columns=FEATURE_COLUMNS
    )


def pair_feature_arrays(
    history: History,
    target: Target,
    candidates: list[int],
    runs: RunTable,
    *,
    curated: frozenset[int] = frozenset(),
) -> dict[str, np.ndarray]:
    """`pair_features` as one array per column, in candidate order: what one
    recommendation scores. Building the DataFrame and taking its numeric block back
    out cost a third of a warm recommendation."""
    n = len(candidates)
    t = target.run_number
    group = history.group(target)
    in_class = history.run_class_uses(target.run_class)
    anywhere = history.everyone
    group_ranks = history._ranks(("g", target.group), group)
    class_ranks = history._ranks(("k", target.run_class), in_class)
    cert_pos = history.certified_pos.get(target.run_class, {})
    cert_list = history.certified.get(target.run_class, [])
    # certified runs before the target (the list is in run order)
    n_cert_before = int(np.searchsorted(np.asarray(cert_list), t)) if cert_list else 0
    other_last = Counter(
        uses.last_ref
        for (reco, cls), uses in history.groups.items()
        if cls == target.run_class and reco != target.reconstruction and uses.last_ref is not None
    )
    nan = np.nan

    def look(mapping, default=nan):
        get = mapping.get
        return np.fromiter((get(c, default) for c in candidates), dtype=float, count=n)

    cand = np.asarray(candidates, dtype=float)
    group_last_run = look(group.last_run)
    group_last_idx = look(group.last_idx)
    class_last_run = look(in_class.last_run)
    anywhere_last_run = look(anywhere.last_run)
    cpos = look(cert_pos)
    data = {
        "group_is_last": (cand == (group.last_ref if group.last_ref is not None else -1)).astype(float),
        "group_recency_rank": look(group_ranks),
        "group_label_gap": group.n - group_last_idx,
        "group_run_gap": t - group_last_run,
        "group_count": look(group.count, 0.0),
        "group_recent_frac": look(group.recent_count, 0.0) / max(len(group.recent), 1),
        "class_is_last": (cand == (in_class.last_ref if in_class.last_ref is not None else -1)).astype(float),
        "class_recency_rank": look(class_ranks),
        "class_run_gap": t - class_last_run,
        "class_count": look(in_class.count, 0.0),
        "class_recent_frac": look(in_class.recent_count, 0.0) / max(len(in_class.recent), 1),
        "class_newer_than_group": class_last_run - (group.last_label_run if group.last_label_run is not None else nan),
        "other_reco_current": look(other_last, 0.0),
        "anywhere_count": look(anywhere.count, 0.0),
        "anywhere_run_gap": t - anywhere_last_run,
        "ever_used": (~np.isnan(anywhere_last_run)).astype(float),
        "cert_rank": np.where(np.isnan(cpos), nan, n_cert_before - 1 - cpos),
        "curated_active": np.fromiter((c in curated for c in candidates), dtype=float, count=n),
        # Relative to the group's current reference: a pointwise model cannot compare
        # rows, and "is this newer than what the group uses now?" is the switch signal.
        "class_last_minus_current": class_last_run - in_class.last_run.get(group.last_ref, nan),
        "class_recent_minus_current": look(in_class.recent_count, 0.0) - in_class.recent_count.get(group.last_ref, 0.0),
        "anywhere_last_minus_current": anywhere_last_run - anywhere.last_run.get(group.last_ref, nan),
        "target_group_idle_runs": np.full(n, t - group.last_label_run if group.last_label_run is not None else nan),
        "target_current_ref_age": np.full(n, t - group.last_ref if group.last_ref is not None else nan),
        "target_group_size": np.full(n, float(group.n)),
        "run_gap": t - cand,
        "cand_is_later": (cand > t).astype(float),
    }
    data.update(_other_groups_and_eras(history, target, candidates, group, in_class, cand, data["ever_used"]))
    data.update(_run_classes(history, target, candidates, runs, in_class))
    data["cand_era_pos"] = np.fromiter((history.era_pos.get(c, nan) for c in candidates), dtype=float, count=n)
    data.update(_oms_differences(runs, t, candidates))
    data.update(_changes_since_current(runs, t, group.last_ref, data))
    data["reconstruction"] = np.full(n, target.reconstruction, dtype=object)
    data["run_class"] = np.full(n, target.run_class or "unknown", dtype=object)
    return data


def _other_groups_and_eras(
    history: History, target: Target, candidates: list[int], group: Uses, in_class: Uses, cand: np.ndarray, ever_used
) -> dict[str, np.ndarray]:
    """A new reference usually appears first in another reconstruction type of the class
    (express before prompt), and a new era (dataset name) usually brings one."""
    n = len(candidates)
    nan = np.nan
    t = target.run_number
    era = target.era

    def era_same(mapping) -> np.ndarray:
        if not era:
            return np.full(n, nan)
        return np.fromiter(
            ((float(v == era) if (v := mapping.get(c, "")) else nan) for c in candidates), dtype=float, count=n
        )

    class_first = np.fromiter((in_class.first_run.get(c, nan) for c in candidates), dtype=float, count=n)
    class_first_idx = np.fromiter((in_class.first_idx.get(c, nan) for c in candidates), dtype=float, count=n)
    group_first = np.fromiter((group.first_run.get(c, nan) for c in candidates), dtype=float, count=n)
    group_last_label = group.last_label_run if group.last_label_run is not None else nan
    # the other reco groups: other reconstruction types of the same class that switched after this group's last label
    switched_to: Counter = Counter()
    any_switch = 0.0
    for (reco, cls), uses in history.groups.items():
        if cls != target.run_class or reco == target.reconstruction or uses.switch_run is None:
            continue
        if group.last_label_run is None or uses.switch_run > group.last_label_run:
            any_switch = 1.0
            switched_to[uses.last_ref] += 1
    # rank among the never-used candidates, newest first (a new reference is most often a recent run)
    never = np.flatnonzero(ever_used == 0)
    never_used_rank = np.full(n, nan)
    never_used_rank[never[np.argsort(-cand[never], kind="stable")]] = np.arange(len(never))
    return {
        "class_first_gap": t - class_first,
        "class_first_after_group": np.where(
            np.isnan(class_first) | np.isnan(group_last_label), nan, (class_first > group_last_label).astype(float)
        ),
        "class_labels_since_first": in_class.n - class_first_idx,
        "group_first_gap": t - group_first,
        "other_reco_switched_to": np.fromiter((switched_to.get(c, 0) for c in candidates), dtype=float, count=n),
        "other_reco_switched_any": np.full(n, any_switch),
        "never_used_rank": never_used_rank,
        "ds_era_same": era_same(history.certified_era),
        "client_era_same": era_same(in_class.client_era),
        "cur_era_same": np.full(n, float(era == group.last_era) if era and group.last_era else nan),
    }


def _run_classes(history: History, target: Target, candidates: list[int], runs: RunTable, in_class: Uses) -> dict:
    """The candidate's run class (as its labels said, else OMS's) against the run's, and
    whether this class took references from the candidate's class before."""
    n = len(candidates)

    def class_of(run: int) -> str:
        return history.certified_class.get(run) or runs.run_class(run)

    classes = [class_of(c) for c in candidates]
    lenders = {c for ref in in_class.last_run if (c := class_of(ref)) and c != target.run_class}
    own = target.run_class or ""
    return {
        "same_class": np.fromiter(((float(c == own) if c and own else np.nan) for c in classes), dtype=float, count=n),
        "lender_class": np.fromiter((float(c in lenders) for c in classes), dtype=float, count=n),
    }


def _changes_since_current(runs: RunTable, target_run: int, current: int | None, data: dict) -> dict[str, np.ndarray]:
    """Did conditions change between the group's current reference and the run? (B field, APV
    mode, bunches, duration), and is the candidate closer to the run than the current reference?"""
    n = len(data["run_gap"])
    cols = runs.columns
    ti = runs.index.get(int(target_run), runs._nan_row)
    ri = runs.index.get(int(current), runs._nan_row) if current is not None else runs._nan_row
    tb, rb = float(cols["b_field"][ti]), float(cols["b_field"][ri])
    ta, ra = cols["apv_mode"][ti], cols["apv_mode"][ri]
    d_duration = abs(float(cols["log_duration"][ti]) - float(cols["log_duration"][ri]))
    d_bunches = abs(float(cols["bunches_colliding"][ti]) - float(cols["bunches_colliding"][ri]))
    b_same = np.nan if np.isnan(tb) or np.isnan(rb) else float((tb > B_FIELD_ON_T) == (rb > B_FIELD_ON_T))
    return {
        "cur_b_same": np.full(n, b_same),
        "cur_apv_same": np.full(n, float(ta == ra) if ta and ra else np.nan),
        "cur_d_bunches": np.full(n, d_bunches),
        "cur_d_log_duration": np.full(n, d_duration),
        "cand_vs_cur_d_log_duration": data["d_log_duration"] - d_duration,
        "cand_vs_cur_d_bunches": data["d_bunches"] - d_bunches,
    }


def _oms_differences(runs: RunTable, target_run: int, candidates: list[int]) -> dict[str, np.ndarray]:
    cols = runs.columns
    ti = runs.index.get(int(target_run), runs._nan_row)
    ci = runs.rows(candidates)

    def diff(name):
        return np.abs(cols[name][ci].astype(float) - float(cols[name][ti]))

    def same(name, missing=""):
        tv = cols[name][ti]
        cv = cols[name][ci]
        if tv == missing or tv is None:
            return np.full(len(candidates), np.nan)
        return np.where(cv == missing, np.nan, (cv == tv).astype(float))

    t_b = float(cols["b_field"][ti])
    c_b = cols["b_field"][ci].astype(float)
    b_same = np.where(
        np.isnan(c_b) | np.isnan(t_b), np.nan, ((c_b > B_FIELD_ON_T) == (t_b > B_FIELD_ON_T)).astype(float)
    )
    return {
        "d_log_duration": diff("log_duration"),
        "d_bunches": diff("bunches_colliding"),
        "d_log_init_lumi": diff("log_init_lumi"),
        "d_log_end_lumi": diff("log_end_lumi"),
        "apv_same": same("apv_mode"),
        "d_pv": diff("pv_or_pileup"),
        "d_energy": diff("energy"),
        "b_field_same": b_same,
        "era_same": same("era"),
        "time_gap_days": (float(cols["start_time"][ti]) - cols["start_time"][ci].astype(float)) / 86400.0,
        "cand_log_ls": cols["log_ls_count"][ci].astype(float),
        "cand_log_recorded_lumi": cols["log_recorded_lumi"][ci].astype(float),
        "cand_log_duration": cols["log_duration"][ci].astype(float),
        "target_log_duration": np.full(len(candidates), float(cols["log_duration"][ti])),
        "target_bunches": np.full(len(candidates), float(cols["bunches_colliding"][ti])),
        "cand_ls_pct": _percentile_among(cols["ls_count"][ci].astype(float)),
        "cand_good_frac": _ratio(cols["good_ls"][ci].astype(float), cols["ls_count"][ci].astype(float)),
    }


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, np.minimum(a / np.where(b > 0, b, 1.0), 1.0), np.nan)


def _percentile_among(values: np.ndarray) -> np.ndarray:
    """Each value's share of the known values below it (NaN stays NaN)."""
    known = ~np.isnan(values)
    out = np.full(len(values), np.nan)
    if known.sum() > 1:
        ranks = values[known].argsort(kind="stable").argsort(kind="stable")
        out[known] = ranks / (known.sum() - 1)
    return out
