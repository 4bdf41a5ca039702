"""The two rankings the model must beat, kept in the code to be measured against.

- persistence: the references most recently used for the same (reconstruction type,
  run class), newest first, leaving out any reference later than the run;
- predecessor (CMSTrackerDPG/ReferenceRunRank): standardised OMS run features
  (energy, B field, HLT rate, run and fill number) folded by PCA, Euclidean
  distance, nearest first.
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from .history import History
from .run_table import RunTable, Target

RANDOM_STATE = 0
PREDECESSOR_COLUMNS = ["energy", "b_field", "hlt_physics_rate", "run_number", "fill_number"]


def persistence_ranking(history: History, target: Target) -> list[int]:
    return [ref for ref in history.group(target).order() if ref <= target.run_number]


class PredecessorRanker:
    """Nearest runs in the predecessor's PCA space, among the same candidates as the model."""

    def __init__(self, runs: RunTable):
        frame = runs.frame.reset_index()[PREDECESSOR_COLUMNS].astype(float)
        # A column with no value at all (no HLT rate in the dumps) carries no distance.
        columns = [c for c in PREDECESSOR_COLUMNS if frame[c].notna().any()]
        pipeline = Pipeline(
            [
                (
                    "columns",
                    ColumnTransformer(
                        [("num", SimpleImputer(strategy="median"), columns)],
                        remainder="drop",
                    ),
                ),
                ("scale", StandardScaler()),
                ("pca", PCA(n_components=min(3, len(columns)), random_state=RANDOM_STATE)),
            ]
        )
        if len(frame) > len(columns):
            embedded = pipeline.fit_transform(frame)
        else:  # too few runs for a PCA: the scaled raw values
            embedded = np.nan_to_num(frame[columns].to_numpy(), nan=0.0)
        self.embedding = np.vstack([embedded, np.full((1, embedded.shape[1]), np.nan)])
        self.runs = runs

    def rank(self, target: Target, candidates: list[int]) -> list[int]:
        if not candidates:
            return []
        t = self.embedding[self.runs.index.get(target.run_number, self.runs._nan_row)]
        c = self.embedding[self.runs.rows(candidates)]
        distance = np.sqrt(((c - t) ** 2).sum(axis=1))
        distance = np.where(np.isnan(distance), np.inf, distance)
        # nearest first; ties (and runs without features) newest first
        order = np.lexsort((-np.asarray(candidates, dtype=float), distance))
        return [candidates[i] for i in order]
