"""Pair features of (target run reconstruction, candidate reference run).

Two kinds:
- history features, from the labels of runs *before* the target only. They live in
  `History`, which is built incrementally: the evaluation adds a run's labels only
  after every label of that run has been scored, and the serving path builds it from
  labels with run_number < target. Nothing else holds labels, so no label at or
  after the target can reach its features.
- run features, differences between the target's and the candidate's OMS/DQM values
  (runs up to and including the target; candidates are never later runs except for
  rereco, where the run features of a reference certified years ago are known).

Missing values are NaN, the normal case: the gradient-boosting model handles them.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# A reference is used for weeks; twenty labels are a few days of a group's certification.
RECENT_WINDOW = 20
B_FIELD_ON_T = 1.0  # above this the solenoid is "on" (3.8 T); ramps and 0 T below

HISTORY_COLUMNS = [
    "g_is_last",
    "g_recency_rank",
    "g_label_gap",
    "g_run_gap",
    "g_count",
    "g_recent_frac",
    "k_is_last",
    "k_recency_rank",
    "k_run_gap",
    "k_count",
    "k_recent_frac",
    "k_newer_than_group",
    "other_last_count",
    "a_count",
    "a_run_gap",
    "ever_used",
    "cert_rank",
    "curated_active",
    "k_last_minus_current",
    "k_recent_minus_current",
    "a_last_minus_current",
    "target_group_idle_runs",
    "target_current_ref_age",
    "target_group_size",
    "run_gap",
    "cand_is_later",
    # what the other reconstruction types of the class did, and when the candidate first appeared
    "k_first_gap",
    "k_first_after_group",
    "k_labels_since_first",
    "g_first_gap",
    "sib_switched_to",
    "sib_switched_any",
    "nu_rank",
    # eras named by the dataset names (/Express/Cosmics23/DQM): known before any label
    "ds_era_same",
    "client_era_same",
    "cur_era_same",
    # run classes: a class without a reference of its own borrows one from another class
    "same_class",
    "lender_class",
    # what makes a good new reference: among the first certified runs of its era
    "cand_era_pos",
]
OMS_COLUMNS = [
    "d_log_duration",
    "d_bunches",
    "d_log_init_lumi",
    "d_log_end_lumi",
    "apv_same",
    "d_pv",
    "d_energy",
    "b_field_same",
    "era_same",
    "time_gap_days",
    "cand_log_ls",
    "cand_log_recorded_lumi",
    "cand_log_duration",
    "target_log_duration",
    "target_bunches",
    # condition changes between the run and the group's current reference
    "cur_b_same",
    "cur_apv_same",
    "cur_d_bunches",
    "cur_d_log_duration",
    "cand_vs_cur_d_log_duration",
    "cand_vs_cur_d_bunches",
    # what makes a good reference: long against the other candidates, certified good
    "cand_ls_pct",
    "cand_good_frac",
]
CATEGORICAL_COLUMNS = ["reconstruction", "run_class"]
FEATURE_COLUMNS = HISTORY_COLUMNS + OMS_COLUMNS + CATEGORICAL_COLUMNS

# The seed's comparison values, shown side by side for run and reference.
SIDE_BY_SIDE = [
    ("duration", "Duration (s)"),
    ("bunches_colliding", "Colliding bunches"),
    ("init_lumi", "Initial inst. luminosity"),
    ("end_lumi", "End inst. luminosity"),
    ("apv_mode", "APV mode"),
    ("pv_mean", "Primary vertices (mean)"),
    ("pileup", "Pileup (mean)"),
    ("energy", "Beam energy (GeV)"),
    ("b_field", "B field (T)"),
    ("era", "Era"),
    ("ls_count", "Lumisections"),
    ("recorded_lumi", "Recorded luminosity (pb^-1)"),
]

FEATURE_DESCRIPTIONS = {
    "g_is_last": "current reference of this reconstruction type and run class",
    "g_recency_rank": "how recently it was used for this reconstruction type and run class",
    "g_label_gap": "labels of this group since its last use",
    "g_run_gap": "runs since its last use in this group",
    "g_count": "how often it was used for this group",
    "g_recent_frac": "share of this group's recent labels",
    "k_is_last": "the newest reference chosen for this run class",
    "k_recency_rank": "how recently it was used for this run class",
    "k_run_gap": "runs since its last use for this run class",
    "k_count": "how often it was used for this run class",
    "k_recent_frac": "share of the run class's recent labels",
    "k_newer_than_group": "chosen by another reconstruction type after this group's last label",
    "other_last_count": "current reference of other reconstruction types",
    "a_count": "how often it was used overall",
    "a_run_gap": "runs since its last use anywhere",
    "ever_used": "already used as a reference",
    "cert_rank": "rank among recently certified runs of the class",
    "curated_active": "on the shift leaders' reference list",
    "k_last_minus_current": "used for the run class after the current reference",
    "k_recent_minus_current": "recent share against the current reference",
    "a_last_minus_current": "used anywhere after the current reference",
    "target_group_idle_runs": "runs since this group's last label",
    "target_current_ref_age": "age of the group's current reference",
    "target_group_size": "labels in the group so far",
    "run_gap": "run-number gap",
    "cand_is_later": "reference is later than the run",
    "k_first_gap": "runs since its first use for this run class",
    "k_first_after_group": "first chosen for this run class after this group's last label",
    "k_labels_since_first": "labels of the run class since its first use",
    "g_first_gap": "runs since its first use in this group",
    "sib_switched_to": "another reconstruction type switched to it since this group's last label",
    "sib_switched_any": "another reconstruction type switched reference since this group's last label",
    "nu_rank": "rank among never-used candidates, newest first",
    "ds_era_same": "certified in the run's era (dataset name)",
    "client_era_same": "last used for a run of the run's era (dataset name)",
    "cur_era_same": "the group's last label was of the run's era (dataset name)",
    "same_class": "a run of the same run class",
    "lender_class": "a run of a class this run class borrowed references from",
    "cand_era_pos": "among the first certified runs of its era",
    "cand_ls_pct": "longer than most candidates (lumisections)",
    "cand_good_frac": "share of its lumisections certified good",
    "d_log_duration": "duration",
    "d_bunches": "colliding bunches",
    "d_log_init_lumi": "initial luminosity",
    "d_log_end_lumi": "end luminosity",
    "apv_same": "APV mode",
    "d_pv": "primary vertices / pileup",
    "d_energy": "beam energy",
    "b_field_same": "B-field state",
    "era_same": "era",
    "time_gap_days": "time between the runs",
    "cand_log_ls": "reference's lumisection count",
    "cand_log_recorded_lumi": "reference's recorded luminosity",
    "cand_log_duration": "reference's duration",
    "target_log_duration": "run's duration",
    "target_bunches": "run's colliding bunches",
    "cur_b_same": "B-field state of the run against the current reference",
    "cur_apv_same": "APV mode of the run against the current reference",
    "cur_d_bunches": "colliding bunches of the run against the current reference",
    "cur_d_log_duration": "duration of the run against the current reference",
    "cand_vs_cur_d_log_duration": "duration: closer than the current reference",
    "cand_vs_cur_d_bunches": "colliding bunches: closer than the current reference",
    "reconstruction": "reconstruction type",
    "run_class": "run class",
}


class RunTable:
    """Run features as numpy columns, looked up by run number in O(1)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.index = {int(r): i for i, r in enumerate(frame.index)}
        self.columns = {c: frame[c].to_numpy() for c in frame.columns}
        for name in ("duration", "bunches_colliding", "init_lumi", "end_lumi", "ls_count", "recorded_lumi"):
            values = self.columns[name].astype(float)
            with np.errstate(divide="ignore", invalid="ignore"):
                self.columns[f"log_{name}"] = np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan)
        pv = self.columns["pv_mean"].astype(float)
        self.columns["pv_or_pileup"] = np.where(np.isnan(pv), self.columns["pileup"].astype(float), pv)
        self._nan_row = len(frame)
        # one extra NaN/"" row for runs without features
        for name, values in list(self.columns.items()):
            pad = np.array([""], dtype=object) if values.dtype == object else np.array([np.nan])
            self.columns[name] = np.concatenate([values, pad])

    def rows(self, run_numbers) -> np.ndarray:
        get = self.index.get
        nan_row = self._nan_row
        return np.fromiter((get(int(r), nan_row) for r in run_numbers), dtype=np.int64, count=len(run_numbers))

    def value(self, run_number: int, column: str):
        return self.columns[column][self.index.get(int(run_number), self._nan_row)]

    def run_class(self, run_number: int) -> str:
        return self.value(run_number, "run_class") or ""


@dataclass
class _Uses:
    """How one group (or class, or everyone) used references, newest last."""

    n: int = 0
    last_run: dict[int, int] = field(default_factory=dict)
    last_idx: dict[int, int] = field(default_factory=dict)
    count: Counter = field(default_factory=Counter)
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT_WINDOW))
    recent_count: Counter = field(default_factory=Counter)
    last_label_run: int | None = None
    last_ref: int | None = None
    first_run: dict[int, int] = field(default_factory=dict)
    first_idx: dict[int, int] = field(default_factory=dict)
    # era (from the dataset name) of the newest label that used each reference
    client_era: dict[int, str] = field(default_factory=dict)
    last_era: str = ""
    # run of the label at which the current reference took over
    switch_run: int | None = None
    _order: list[int] | None = None

    def add(self, run_number: int, reference: int, era: str = "") -> None:
        self.n += 1
        if reference not in self.first_run:
            self.first_run[reference] = run_number
            self.first_idx[reference] = self.n
        if reference != self.last_ref:
            self.switch_run = run_number
        if era:
            self.client_era[reference] = era
        self.last_era = era
        self.last_run[reference] = run_number
        self.last_idx[reference] = self.n
        self.count[reference] += 1
        if len(self.recent) == self.recent.maxlen:
            self.recent_count[self.recent[0]] -= 1
        self.recent.append(reference)
        self.recent_count[reference] += 1
        self.last_label_run = run_number
        self.last_ref = reference
        self._order = None

    def order(self) -> list[int]:
        """Distinct references, most recently used first."""
        if self._order is None:
            self._order = sorted(self.last_idx, key=self.last_idx.__getitem__, reverse=True)
        return self._order

    def ranks(self) -> dict[int, int]:
        return {r: i for i, r in enumerate(self.order())}


def dataset_era(dataset: str) -> str:
    """The era a dataset name carries: /Express/Cosmics23/DQM -> Cosmics23,
    /StreamExpress/Run2018D-Express-v1/DQMIO -> Run2018D; "" when it says none."""
    parts = str(dataset or "").split("/")
    if len(parts) < 3 or not parts[2]:
        return ""
    return parts[2].split("-")[0]


@dataclass(frozen=True)
class Target:
    run_number: int
    reconstruction: str
    run_class: str
    # The run reconstruction's dataset name (known before any label: it names the era).
    dataset: str = ""

    @property
    def era(self) -> str:
        return dataset_era(self.dataset)

    @property
    def group(self) -> tuple[str, str]:
        return (self.reconstruction, self.run_class)


class History:
    """Everything the labels of earlier runs say, updated one label at a time.

    Callers must add labels in run order and only labels of runs before the target
    being scored; `History.from_labels(labels, before_run=...)` does the filtering.
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], _Uses] = {}
        self.classes: dict[str, _Uses] = {}
        self.everyone = _Uses()
        # certified runs per class, in the order their labels came (run order)
        self.certified: dict[str, list[int]] = {}
        self.certified_pos: dict[str, dict[int, int]] = {}
        # run class of each certified run, as its labels' datasets say
        self.certified_class: dict[int, str] = {}
        # era of each certified run, from its labels' dataset names
        self.certified_era: dict[int, str] = {}
        # position of each certified run among the certified runs of its era (0: the first)
        self.era_pos: dict[int, int] = {}
        self.era_count: dict[str, int] = {}
        self.max_run: int | None = None
        self.n_labels = 0
        self._rank_cache: dict = {}

    @classmethod
    def from_labels(cls, labels: pd.DataFrame, *, before_run: int | None = None) -> History:
        history = cls()
        if before_run is not None:
            labels = labels[labels["run_number"] < before_run]
        history.add_many(labels)
        return history

    def add_many(self, labels: pd.DataFrame) -> None:
        datasets = labels["dataset"].to_numpy() if "dataset" in labels.columns else [""] * len(labels)
        for run_number, reco, ref, run_class, positive, dataset in zip(
            labels["run_number"].to_numpy(),
            labels["reconstruction"].to_numpy(),
            labels["reference_run_number"].to_numpy(),
            labels["run_class"].to_numpy(),
            labels["is_positive"].to_numpy(),
            datasets,
            strict=True,
        ):
            self.add(
                int(run_number), str(reco), str(run_class), int(ref), is_positive=bool(positive), dataset=dataset or ""
            )

    def add(
        self,
        run_number: int,
        reconstruction: str,
        run_class: str,
        reference: int,
        *,
        is_positive=True,
        dataset: str = "",
    ) -> None:
        if self.max_run is not None and run_number < self.max_run:
            raise ValueError(f"labels must come in run order: {run_number} after {self.max_run}")
        self.max_run = run_number
        self._rank_cache.clear()
        if not is_positive:
            # A rejected reference is not a use, and a rejection alone does not certify the
            # run: a run still awaiting its own decision is no candidate reference.
            return
        # A certified run is a candidate reference whatever reference it was given.
        positions = self.certified_pos.setdefault(run_class, {})
        if run_number not in positions:
            positions[run_number] = len(positions)
            self.certified.setdefault(run_class, []).append(run_number)
            self.certified_class.setdefault(run_number, run_class)
        era = dataset_era(dataset)
        if era and run_number not in self.certified_era:
            self.certified_era[run_number] = era
            self.era_pos[run_number] = self.era_count[era] = self.era_count.get(era, -1) + 1
        self.n_labels += 1
        # get, then create: setdefault(key, _Uses()) built two _Uses per label, a third of a replay
        group = self.groups.get((reconstruction, run_class))
        if group is None:
            group = self.groups[(reconstruction, run_class)] = _Uses()
        group.add(run_number, reference, era)
        uses = self.classes.get(run_class)
        if uses is None:
            uses = self.classes[run_class] = _Uses()
        uses.add(run_number, reference, era)
        self.everyone.add(run_number, reference, era)

    # --- reads ---------------------------------------------------------------
    def group(self, target: Target) -> _Uses:
        return self.groups.get(target.group) or _Uses()

    def run_class_uses(self, run_class: str) -> _Uses:
        return self.classes.get(run_class) or _Uses()

    def recent_certified(self, run_class: str, n: int, *, before_run: int) -> list[int]:
        runs = self.certified.get(run_class, [])
        out = []
        for run in reversed(runs):
            if run < before_run:
                out.append(run)
                if len(out) >= n:
                    break
        return out

    def _ranks(self, key, uses: _Uses) -> dict[int, int]:
        cached = self._rank_cache.get(key)
        if cached is None:
            cached = self._rank_cache[key] = uses.ranks()
        return cached


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
    g = history.group(target)
    k = history.run_class_uses(target.run_class)
    a = history.everyone
    g_ranks = history._ranks(("g", target.group), g)
    k_ranks = history._ranks(("k", target.run_class), k)
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
    g_last_run = look(g.last_run)
    g_last_idx = look(g.last_idx)
    k_last_run = look(k.last_run)
    a_last_run = look(a.last_run)
    cpos = look(cert_pos)
    data = {
        "g_is_last": (cand == (g.last_ref if g.last_ref is not None else -1)).astype(float),
        "g_recency_rank": look(g_ranks),
        "g_label_gap": g.n - g_last_idx,
        "g_run_gap": t - g_last_run,
        "g_count": look(g.count, 0.0),
        "g_recent_frac": look(g.recent_count, 0.0) / max(len(g.recent), 1),
        "k_is_last": (cand == (k.last_ref if k.last_ref is not None else -1)).astype(float),
        "k_recency_rank": look(k_ranks),
        "k_run_gap": t - k_last_run,
        "k_count": look(k.count, 0.0),
        "k_recent_frac": look(k.recent_count, 0.0) / max(len(k.recent), 1),
        "k_newer_than_group": k_last_run - (g.last_label_run if g.last_label_run is not None else nan),
        "other_last_count": look(other_last, 0.0),
        "a_count": look(a.count, 0.0),
        "a_run_gap": t - a_last_run,
        "ever_used": (~np.isnan(a_last_run)).astype(float),
        "cert_rank": np.where(np.isnan(cpos), nan, n_cert_before - 1 - cpos),
        "curated_active": np.fromiter((c in curated for c in candidates), dtype=float, count=n),
        # Relative to the group's current reference: a pointwise model cannot compare
        # rows, and "is this newer than what the group uses now?" is the switch signal.
        "k_last_minus_current": k_last_run - k.last_run.get(g.last_ref, nan),
        "k_recent_minus_current": look(k.recent_count, 0.0) - k.recent_count.get(g.last_ref, 0.0),
        "a_last_minus_current": a_last_run - a.last_run.get(g.last_ref, nan),
        "target_group_idle_runs": np.full(n, t - g.last_label_run if g.last_label_run is not None else nan),
        "target_current_ref_age": np.full(n, t - g.last_ref if g.last_ref is not None else nan),
        "target_group_size": np.full(n, float(g.n)),
        "run_gap": t - cand,
        "cand_is_later": (cand > t).astype(float),
    }
    data.update(_other_groups_and_eras(history, target, candidates, g, k, cand, data["ever_used"]))
    data.update(_run_classes(history, target, candidates, runs, k))
    data["cand_era_pos"] = np.fromiter((history.era_pos.get(c, nan) for c in candidates), dtype=float, count=n)
    data.update(_oms_differences(runs, t, candidates))
    data.update(_changes_since_current(runs, t, g.last_ref, data))
    data["reconstruction"] = np.full(n, target.reconstruction, dtype=object)
    data["run_class"] = np.full(n, target.run_class or "unknown", dtype=object)
    return data


def _other_groups_and_eras(
    history: History, target: Target, candidates: list[int], g: _Uses, k: _Uses, cand: np.ndarray, ever_used
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

    k_first = np.fromiter((k.first_run.get(c, nan) for c in candidates), dtype=float, count=n)
    k_first_idx = np.fromiter((k.first_idx.get(c, nan) for c in candidates), dtype=float, count=n)
    g_first = np.fromiter((g.first_run.get(c, nan) for c in candidates), dtype=float, count=n)
    g_last_label = g.last_label_run if g.last_label_run is not None else nan
    # sibling groups: other reconstruction types of the same class that switched after this group's last label
    switched_to: Counter = Counter()
    any_switch = 0.0
    for (reco, cls), uses in history.groups.items():
        if cls != target.run_class or reco == target.reconstruction or uses.switch_run is None:
            continue
        if g.last_label_run is None or uses.switch_run > g.last_label_run:
            any_switch = 1.0
            switched_to[uses.last_ref] += 1
    # rank among the never-used candidates, newest first (a new reference is most often a recent run)
    never = np.flatnonzero(ever_used == 0)
    nu_rank = np.full(n, nan)
    nu_rank[never[np.argsort(-cand[never], kind="stable")]] = np.arange(len(never))
    return {
        "k_first_gap": t - k_first,
        "k_first_after_group": np.where(
            np.isnan(k_first) | np.isnan(g_last_label), nan, (k_first > g_last_label).astype(float)
        ),
        "k_labels_since_first": k.n - k_first_idx,
        "g_first_gap": t - g_first,
        "sib_switched_to": np.fromiter((switched_to.get(c, 0) for c in candidates), dtype=float, count=n),
        "sib_switched_any": np.full(n, any_switch),
        "nu_rank": nu_rank,
        "ds_era_same": era_same(history.certified_era),
        "client_era_same": era_same(k.client_era),
        "cur_era_same": np.full(n, float(era == g.last_era) if era and g.last_era else nan),
    }


def _run_classes(history: History, target: Target, candidates: list[int], runs: RunTable, k: _Uses) -> dict:
    """The candidate's run class (as its labels said, else OMS's) against the run's, and
    whether this class took references from the candidate's class before."""
    n = len(candidates)

    def class_of(run: int) -> str:
        return history.certified_class.get(run) or runs.run_class(run)

    classes = [class_of(c) for c in candidates]
    lenders = {c for ref in k.last_run if (c := class_of(ref)) and c != target.run_class}
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
