"""Run attributes that OMS does not have: the strip APV readout mode and the mean
number of reconstructed primary vertices (oms_api.md §3).

Each sits behind a small protocol so the sync does not care where a value comes
from. Today both come from files (the shared dumps in ../shared/data). The live
services the docs name plug in as other implementations of the same protocol:

- APV mode: Certhelper reads `getReadOutmode.pl?RUN=<run>` on ebutz.web.cern.ch
  (slow, unofficial, plain HTTP), and the authoritative answer is the
  `SiStripLatencyRcd` conditions record (`singleReadOutMode()`: 1 PEAK, 0 DECO).
  A live `ApvModeSource` would wrap one of them with a timeout and ≤1 request/s,
  and be passed to `runs_sync(sources=(live_apv, pv))`.
- Primary vertices: DQM monitor elements (`OfflinePV/offlinePrimaryVertices/vtxNbr`,
  `NumberOfGoodPVtxVsLS_GenTk`) via the DQM GUI or DIALS. A live
  `PrimaryVertexSource` would return the per-run mean from one of them.

A source returns only the runs it knows; a run it does not know keeps whatever
RefRun has (an admin may have set it by hand).
"""

from __future__ import annotations

import csv
import gzip
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from .models import ApvMode

logger = logging.getLogger(__name__)

APV_MODES = frozenset(ApvMode.values)
# Preferred DQM stream for the PV mean when a run has several rows: prompt
# reconstruction of ZeroBias over the express stream.
PV_STREAM_PREFERENCE = ("PromptReco/ZeroBias", "ZeroBias", "StreamExpress")


class ApvModeSource(Protocol):
    # The name its values are stored under (Run.sources), one of
    # ingestion.services.RUN_SOURCE_PRIORITY.
    source_name: str

    def apv_modes(self, run_numbers: Iterable[int]) -> dict[int, str]:
        """APV mode ("DECO" or "PEAK") of the runs it knows among `run_numbers`."""
        ...


class PrimaryVertexSource(Protocol):
    source_name: str

    def pv_means(self, run_numbers: Iterable[int]) -> dict[int, float]:
        """Mean reconstructed primary vertices per event, of the runs it knows."""
        ...


# The two travel together through the sync: (APV mode, PV mean), each None when
# there is no such source.
RunSources = tuple[ApvModeSource | None, PrimaryVertexSource | None]
NO_SOURCES: RunSources = (None, None)


def _open(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


class FileApvModeSource:
    """APV modes from CSV files with `run_number` and `apv_mode` columns
    (apv_mode_runs_2016_2021.csv, cosmics_counter_2024.csv). Unknown modes such as
    "???" are skipped; where files disagree the first file wins."""

    source_name = "apv_mode_runs"

    def __init__(self, *paths: Path | str) -> None:
        self.paths = [Path(p) for p in paths]
        self._modes: dict[int, str] | None = None

    def _load(self) -> dict[int, str]:
        if self._modes is None:
            modes: dict[int, str] = {}
            for path in self.paths:
                with _open(path) as handle:
                    for row in csv.DictReader(handle):
                        mode = (row.get("apv_mode") or "").strip().upper()
                        try:
                            run_number = int(row["run_number"])
                        except (KeyError, TypeError, ValueError):
                            continue
                        if mode in APV_MODES:
                            modes.setdefault(run_number, mode)
            self._modes = modes
        return self._modes

    def apv_modes(self, run_numbers: Iterable[int]) -> dict[int, str]:
        modes = self._load()
        return {n: modes[n] for n in run_numbers if n in modes}


class FilePrimaryVertexSource:
    """PV means from pv_mean_per_run_2015_2018.csv.gz (`run_number`, `stream`,
    `pv_mean`), one value per run by stream preference."""

    source_name = "pv_mean_per_run"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._means: dict[int, float] | None = None

    def _load(self) -> dict[int, float]:
        if self._means is None:
            best: dict[int, tuple[int, float]] = {}
            with _open(self.path) as handle:
                for row in csv.DictReader(handle):
                    try:
                        run_number = int(row["run_number"])
                        value = float(row["pv_mean"])
                    except (KeyError, TypeError, ValueError):
                        continue
                    stream = row.get("stream") or ""
                    rank = next(
                        (i for i, s in enumerate(PV_STREAM_PREFERENCE) if s in stream), len(PV_STREAM_PREFERENCE)
                    )
                    if run_number not in best or rank < best[run_number][0]:
                        best[run_number] = (rank, value)
            self._means = {n: value for n, (_, value) in best.items()}
        return self._means

    def pv_means(self, run_numbers: Iterable[int]) -> dict[int, float]:
        means = self._load()
        return {n: means[n] for n in run_numbers if n in means}


APV_FILES = ("cosmics_counter_2024.csv", "apv_mode_runs_2016_2021.csv")
PV_FILE = "pv_mean_per_run_2015_2018.csv.gz"


def sources_from_directory(directory: Path | str | None) -> RunSources:
    """The file sources found in a data directory (settings.REFRUN_DATA), or None each."""
    if not directory:
        return NO_SOURCES
    root = Path(directory)
    apv_paths = [root / name for name in APV_FILES if (root / name).exists()]
    apv = FileApvModeSource(*apv_paths) if apv_paths else None
    pv = FilePrimaryVertexSource(root / PV_FILE) if (root / PV_FILE).exists() else None
    return apv, pv
