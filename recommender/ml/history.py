"""What the labels of earlier runs say: the history the history features read.

It is built incrementally: the evaluation adds a run's labels only after every label of
that run has been scored, and the serving path builds it from labels with run_number <
target. Nothing else holds labels, so no label at or after the target can reach its
features (recommender.ml.pair_features).

Labels are counted at three scopes (recommender.ml.catalogue): the group (reconstruction
type and run class), the run class (every reconstruction type) and everyone.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import pandas as pd

from .run_table import Target, dataset_era

# A reference is used for weeks; twenty labels are a few days of a group's certification.
RECENT_WINDOW = 20


@dataclass
class Uses:
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


class History:
    """Everything the labels of earlier runs say, updated one label at a time.

    Callers must add labels in run order and only labels of runs before the target
    being scored; `History.from_labels(labels, before_run=...)` does the filtering.
    """

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], Uses] = {}
        self.classes: dict[str, Uses] = {}
        self.everyone = Uses()
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
        # get, then create: setdefault(key, Uses()) built two Uses per label, a third of a replay
        group = self.groups.get((reconstruction, run_class))
        if group is None:
            group = self.groups[(reconstruction, run_class)] = Uses()
        group.add(run_number, reference, era)
        uses = self.classes.get(run_class)
        if uses is None:
            uses = self.classes[run_class] = Uses()
        uses.add(run_number, reference, era)
        self.everyone.add(run_number, reference, era)

    # --- reads ---------------------------------------------------------------
    def group(self, target: Target) -> Uses:
        return self.groups.get(target.group) or Uses()

    def run_class_uses(self, run_class: str) -> Uses:
        return self.classes.get(run_class) or Uses()

    def recent_certified(self, run_class: str, n: int, *, before_run: int) -> list[int]:
        runs = self.certified.get(run_class, [])
        out = []
        for run in reversed(runs):
            if run < before_run:
                out.append(run)
                if len(out) >= n:
                    break
        return out

    def _ranks(self, key, uses: Uses) -> dict[int, int]:
        cached = self._rank_cache.get(key)
        if cached is None:
            cached = self._rank_cache[key] = uses.ranks()
        return cached
