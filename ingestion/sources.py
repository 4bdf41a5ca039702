"""Run attributes that OMS does not have: the strip APV readout mode and the mean
number of reconstructed primary vertices (oms_api.md §3).

Each sits behind a small protocol so the sync does not care where a value comes
from. Today both come from files (the shared dumps in ../shared/data). The live
services are other implementations of the same protocols, applied by the
conditions sync (ingestion.services.conditions_sync):

- APV mode: `HttpApvModeSource`, the `getReadOutmode.pl?RUN=<run>` service
  Certhelper reads on ebutz.web.cern.ch (slow, unofficial, plain HTTP; at most one
  request a second, with a timeout). The authoritative answer would be the
  `SiStripLatencyRcd` conditions record (`singleReadOutMode()`: 1 PEAK, 0 DECO),
  reachable only through conddb tools, not from a web application.
- Primary vertices: `DialsPrimaryVertexSource`, the per-lumisection 1D histograms
  of the PV multiplicity monitor element (DIALS_PV_ME) in DIALS, averaged per run
  weighted by each lumisection's entries, one dataset per run by preference.

A source returns only the runs it knows; a run it does not know keeps whatever
RefRun has (an admin may have set it by hand).
"""

from __future__ import annotations

import csv
import gzip
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from .conditions_clients import ApvModeClient, DialsClient, Histogram1D
from .models import ApvMode

logger = logging.getLogger(__name__)

APV_MODES = frozenset(ApvMode.values)
# Preferred DQM stream for the PV mean when a run has several rows: prompt
# reconstruction of ZeroBias over the express stream.
PV_STREAM_PREFERENCE = ("PromptReco/ZeroBias", "ZeroBias", "StreamExpress")
# The same preference over DQMIO dataset names, as DIALS names its datasets
# (/ZeroBias/Run2018A-PromptReco-v1/DQMIO, /StreamExpress/Run2018A-Express-v1/DQMIO).
PV_DATASET_PREFERENCE = (r"^/ZeroBias/.*PromptReco", r"^/ZeroBias/", r"^/StreamExpress/")


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


# --- Live services -------------------------------------------------------------------

SOURCE_APV_MODE_SERVICE = "apv_mode_service"
SOURCE_DIALS = "dials"


class HttpApvModeSource:
    """APV modes from the getReadOutmode service, one request per run (the client
    keeps to its rate). Runs it does not know are left out."""

    source_name = SOURCE_APV_MODE_SERVICE

    def __init__(self, client: ApvModeClient | None = None) -> None:
        self.client = client or ApvModeClient.from_settings()

    def apv_mode(self, run_number: int) -> str | None:
        return self.client.apv_mode(run_number)

    def apv_modes(self, run_numbers: Iterable[int]) -> dict[int, str]:
        modes = {}
        for number in run_numbers:
            mode = self.client.apv_mode(number)
            if mode is not None:
                modes[number] = mode
        return modes


def _dataset_rank(dataset: str) -> int:
    return next((i for i, p in enumerate(PV_DATASET_PREFERENCE) if re.search(p, dataset)), len(PV_DATASET_PREFERENCE))


def pv_means_of(histograms: Iterable[Histogram1D]) -> dict[int, float]:
    """Per run: the mean of the per-lumisection means weighted by entries, in the
    preferred dataset that has any entries."""
    sums: dict[tuple[int, str], list[float]] = {}
    for histogram in histograms:
        mean = histogram.mean()
        if mean is None or histogram.entries <= 0:
            continue
        acc = sums.setdefault((histogram.run_number, histogram.dataset), [0.0, 0.0])
        acc[0] += histogram.entries * mean
        acc[1] += histogram.entries
    best: dict[int, tuple[tuple[int, str], float]] = {}
    for (run_number, dataset), (weighted, entries) in sums.items():
        key = (_dataset_rank(dataset), dataset)
        if run_number not in best or key < best[run_number][0]:
            best[run_number] = (key, weighted / entries)
    return {n: value for n, (_, value) in best.items()}


class DialsPrimaryVertexSource:
    """PV means from DIALS (DIALS_PV_ME per lumisection), queried by run range."""

    source_name = SOURCE_DIALS

    def __init__(self, client: DialsClient | None = None, *, me: str | None = None) -> None:
        from django.conf import settings

        self.client = client or DialsClient.from_settings()
        self.me = me or settings.DIALS_PV_ME

    def pv_means_in_range(self, run_min: int, run_max: int) -> dict[int, float]:
        histograms = [
            h for page in self.client.histograms_1d(me=self.me, run_min=run_min, run_max=run_max) for h in page
        ]
        return {n: v for n, v in pv_means_of(histograms).items() if run_min <= n <= run_max}

    def pv_means(self, run_numbers: Iterable[int]) -> dict[int, float]:
        numbers = set(run_numbers)
        if not numbers:
            return {}
        means = self.pv_means_in_range(min(numbers), max(numbers))
        return {n: v for n, v in means.items() if n in numbers}


class DialsDatasetSource:
    """The DQMIO datasets of each run from DIALS's run list, queried by run range."""

    source_name = SOURCE_DIALS

    def __init__(self, client: DialsClient | None = None) -> None:
        self.client = client or DialsClient.from_settings()

    def datasets_in_range(self, run_min: int, run_max: int) -> dict[int, list[str]]:
        names: dict[int, set[str]] = {}
        for page in self.client.run_datasets(run_min=run_min, run_max=run_max):
            for row in page:
                if run_min <= row.run_number <= run_max:
                    names.setdefault(row.run_number, set()).add(row.dataset)
        return {number: sorted(found) for number, found in names.items()}
