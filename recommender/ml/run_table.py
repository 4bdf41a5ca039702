"""The run features as the model reads them (`RunTable`), and the run reconstruction being
scored (`Target`).

Run values come from the OMS mirror (the run features of recommender.ml.dataset); missing
values are NaN, the normal case: the gradient-boosting model handles them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

B_FIELD_ON_T = 1.0  # above this the solenoid is "on" (3.8 T); ramps and 0 T below


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
