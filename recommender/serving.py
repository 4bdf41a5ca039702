"""The serving cache: the active model, the run features, the label history and the
declared references, loaded once per process and reloaded only when the database says
they changed (the change counters, one small query: recommender.changes).

Below the ranking (recommender.recommending), above the artifact store
(recommender.artifacts) and the selectors it loads from.
"""

from __future__ import annotations

import bisect
import pickle
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
from django.conf import settings

from .changes import change_counters
from .ml.certification import with_good_lumisections
from .ml.dataset import sort_labels
from .ml.declarations import Conditions, Declaration
from .ml.history import History
from .ml.model import Ranker
from .ml.needs_reference import run_conditions
from .ml.run_table import RunTable
from .models import ModelVersion, ModelVersionStatus

# The key of a part not loaded yet: equal to no key the counters can give.
_UNLOADED = object()


class _ServingCache:
    """Per-process state, each part keyed by the change counters of the tables it is
    built from (recommender.changes); the counters are read once per recommendation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.model_key = _UNLOADED
        self.version: tuple[int, str] | None = None  # (id, sha256) of the active model
        self.ranker: Ranker | None = None
        self.runs_key = _UNLOADED
        self.runs: RunTable | None = None
        self.labels_key = _UNLOADED
        self.labels: pd.DataFrame | None = None
        self.labels_fingerprint: tuple[int, ...] = ()  # selectors.labels_fingerprint of `labels`
        self.labels_max_id = 0
        # the first run whose labels changed since the history was replayed (None: none did)
        self.changed_run: int | None = None
        self.history: History | None = None
        self.checkpoints: list[tuple[int, bytes]] = []
        self.before: OrderedDict[int, History] = OrderedDict()  # run -> history of the labels before it
        self.declarations_key = _UNLOADED
        self.declarations: list[Declaration] = []
        self.beams: dict[int, str] = {}  # run number -> OMS fill type at run time

    def revalidate(self) -> None:
        """Read the counters, before any part is loaded: a change that commits while a
        part loads then costs one more load, never a stale part."""
        self.counters = change_counters()

    def _key(self, *tables: str) -> tuple:
        return tuple(self.counters.get(table) for table in tables)

    def model(self) -> tuple[int | None, Ranker | None]:
        """The active model version's id and its ranker (None, None without one)."""
        from .artifacts import artifact_load

        key = self._key("models")
        if key != self.model_key:
            version = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
            if version is None:
                self.version, self.ranker = None, None
            elif (version.pk, version.sha256) != self.version:
                self.ranker = artifact_load(version)
                self.version = (version.pk, version.sha256)
            self.model_key = key
        return (self.version[0] if self.version else None), self.ranker

    def run_table(self) -> RunTable:
        from .selectors import run_features_frame

        key = self._key("runs", "fills", "tracker_certifications")
        if key != self.runs_key:
            from ingestion.selectors import run_beams

            # certified-good lumisections from the certification masks where REFRUN_DATA has
            # them, else from the Run Registry (run_features_frame)
            self.runs = RunTable(with_good_lumisections(run_features_frame(), settings.REFRUN_DATA))
            # the beam is a declaration's condition, not a model feature
            self.beams = run_beams()
            self.runs_key = key
        return self.runs

    def conditions(self, run_number: int, reconstruction: str, run_class: str) -> Conditions:
        """A run's conditions as a declaration's scope names them (NaN or "" when unknown)."""
        return run_conditions(
            self.run_table(), run_number, reconstruction=reconstruction, run_class=run_class, beams=self.beams
        )

    def labels_current(self) -> pd.DataFrame:
        # a label's run class and dataset come from its run and run reconstruction
        key = self._key("labels", "run_reconstructions", "runs")
        if key != self.labels_key:
            from .selectors import labels_read

            labels = None
            if self.labels is not None and key[1:] == self.labels_key[1:]:
                labels = self._labels_added()
            if labels is None:
                labels, self.labels_fingerprint, self.labels_max_id = labels_read()
            changed_run = _first_changed_run(self.labels, labels)
            if changed_run is not None and (self.changed_run is None or changed_run < self.changed_run):
                self.changed_run = changed_run
            self.labels = labels
            self.labels_key = key
        return self.labels

    def _labels_added(self) -> pd.DataFrame | None:
        """The labels held and the rows added since, when the table's fingerprint says
        nothing else changed (the usual change, a shifter's first decision, adds one
        row); None when a label was removed or changed, for a full read: otherwise
        every web worker rereads all labels after each decision (BENCHMARKS.md,
        "Quiet round: before and after issue 22")."""
        from .selectors import labels_fingerprint, labels_read

        added, fingerprint, max_id = labels_read(after_id=self.labels_max_id)
        expected = tuple(held + new for held, new in zip(self.labels_fingerprint, fingerprint, strict=True))
        if labels_fingerprint() != expected:
            return None
        self.labels_fingerprint, self.labels_max_id = expected, max_id
        if added.empty:
            return self.labels
        merged = pd.concat([self.labels, added], ignore_index=True)
        return sort_labels(merged.sort_values(["run_number", "label_id"], kind="stable"))

    def _labels_checked(self) -> pd.DataFrame:
        """The labels; after a change, the checkpoints past the first changed label and
        the full history are dropped, to be replayed when a page needs them: a
        decision on one of the newest runs, the usual change, then costs a few hundred
        labels' replay instead of every label's, in every web worker."""
        labels = self.labels_current()
        if self.changed_run is not None:
            self.checkpoints = [
                (boundary, state) for boundary, state in self.checkpoints if boundary <= self.changed_run
            ]
            self.before = OrderedDict((run, kept) for run, kept in self.before.items() if run <= self.changed_run)
            self.history = None
            self.changed_run = None
        return labels

    def label_history(self) -> tuple[pd.DataFrame, History]:
        labels = self._labels_checked()
        if self.history is None:
            self.history = self._replayed(labels, before_run=None)
        return labels, self.history

    def declared(self) -> list[Declaration]:
        """Every declaration of the shift leaders, ended ones included."""
        key = self._key("declarations", "run_reconstructions")
        if key != self.declarations_key:
            from .selectors import declarations_read

            self.declarations = declarations_read()
            self.declarations_key = key
        return self.declarations

    def declared_in_use(self, run_class: str) -> frozenset[int]:
        """Run numbers of the declared references in use for a run class: candidates of its runs."""
        return frozenset(d.reference for d in self.declared() if d.in_use and d.run_class == run_class)

    def history_before(self, target_run: int) -> History:
        """The history of the labels of runs before `target_run`, for a run that
        already has later labels (a shifter opening an older run). The last few are
        kept: shifters open the same runs again and again, and a change of labels
        leaves those of the runs before it as they were."""
        labels = self._labels_checked()
        history = self.before.get(target_run)
        if history is None:
            history = self.before[target_run] = self._replayed(labels, before_run=target_run)
            if len(self.before) > HISTORIES_KEPT:
                self.before.popitem(last=False)
        else:
            self.before.move_to_end(target_run)
        return history

    def _replayed(self, labels: pd.DataFrame, *, before_run: int | None) -> History:
        """A new history of the labels of runs before `before_run` (of every label:
        None), copied from the nearest checkpoint (run number R, the pickled history
        of the labels of runs before R) and replayed from there: replaying every
        label per request was the load test's largest cost (BENCHMARKS.md, "Quiet
        round: before and after issue 22"). Replaying past the last checkpoint adds
        checkpoints every CHECKPOINT_LABELS labels, each at a run boundary, so that a
        checkpoint never holds half of a run's labels.
        """
        runs = labels["run_number"].to_numpy()
        stop = len(runs) if before_run is None else int(np.searchsorted(runs, before_run, side="left"))
        boundaries = [boundary for boundary, _ in self.checkpoints]
        index = len(boundaries) - 1 if before_run is None else bisect.bisect_right(boundaries, before_run) - 1
        if index >= 0:
            boundary, state = self.checkpoints[index]
            history = pickle.loads(state)
            start = int(np.searchsorted(runs, boundary, side="left"))
        else:
            history, start = History(), 0
        if index == len(boundaries) - 1:
            for position in range(start + CHECKPOINT_LABELS, stop, CHECKPOINT_LABELS):
                cut = int(np.searchsorted(runs, runs[position], side="left"))
                if cut <= start:
                    continue  # one run holds more than CHECKPOINT_LABELS labels
                history.add_many(labels.iloc[start:cut])
                self.checkpoints.append((int(runs[position]), pickle.dumps(history, protocol=pickle.HIGHEST_PROTOCOL)))
                start = cut
        history.add_many(labels.iloc[start:stop])
        return history


def _first_changed_run(old: pd.DataFrame | None, new: pd.DataFrame) -> int | None:
    """The run of the first label (in run order) that `new` adds, removes or changes
    against `old`, None when both hold the same labels. Labels of earlier runs are the
    same in both: a history of them is still valid."""
    if old is new:
        return None  # nothing read was added: the frame held is kept as it is
    if old is None or list(old.columns) != list(new.columns):
        return -1
    common = min(len(old), len(new))
    first = common
    for column in new.columns:
        differs = np.flatnonzero(old[column].to_numpy()[:common] != new[column].to_numpy()[:common])
        if len(differs):
            first = min(first, int(differs[0]))
    if first == len(old) == len(new):
        return None
    return min(int(frame["run_number"].iloc[first]) for frame in (old, new) if first < len(frame))


# Labels between two history checkpoints: the most a request for an older run replays.
CHECKPOINT_LABELS = 500
# Histories of older runs kept per process: shifters reopen the same few runs.
HISTORIES_KEPT = 32


cache = _ServingCache()


def serving_cache_clear() -> None:
    global cache
    cache = _ServingCache()


def history_for(target_run: int) -> History:
    labels = cache._labels_checked()
    if labels.empty or int(labels["run_number"].iloc[-1]) < target_run:
        return cache.label_history()[1]  # the usual case: a new run, later than every label
    return cache.history_before(target_run)


def labels_in_use() -> pd.DataFrame:
    """Every label, as the serving cache holds it (shared: do not modify)."""
    with cache.lock:
        cache.revalidate()
        return cache.labels_current()
