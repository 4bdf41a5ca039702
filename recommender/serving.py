"""The serving cache: the active model, the run features, the label history and the
declared references, loaded once per process and reloaded only when the database says
they changed (the change counters, one small query: recommender.changes).

Below the ranking (recommender.recommending), above the artifact store
(recommender.artifacts) and the selectors it loads from.
"""

from __future__ import annotations

import threading

import pandas as pd
from django.conf import settings

from .changes import change_counters
from .ml.certification import with_good_lumisections
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
        self.history: History | None = None  # of every label in `labels`, replayed when first asked
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
            from .selectors import labels_frame

            labels = labels_frame()
            if self.labels is not None and labels.equals(self.labels):
                # a write to runs or run reconstructions that left every label as it was
                # (a sync): the history replayed from them still holds
                labels = self.labels
            else:
                self.history = None
            self.labels = labels
            self.labels_key = key
        return self.labels

    def label_history(self) -> tuple[pd.DataFrame, History]:
        labels = self.labels_current()
        if self.history is None:
            self.history = History.from_labels(labels)
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
        already has later labels (a shifter opening an older run): replayed per call."""
        return History.from_labels(self.labels_current(), before_run=target_run)


cache = _ServingCache()


def serving_cache_clear() -> None:
    global cache
    cache = _ServingCache()


def history_for(target_run: int) -> History:
    labels = cache.labels_current()
    if labels.empty or int(labels["run_number"].iloc[-1]) < target_run:
        return cache.label_history()[1]  # the usual case: a new run, later than every label
    return cache.history_before(target_run)


def labels_in_use() -> pd.DataFrame:
    """Every label, as the serving cache holds it (shared: do not modify)."""
    with cache.lock:
        cache.revalidate()
        return cache.labels_current()
