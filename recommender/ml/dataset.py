"""The two tables the recommender learns from, as DataFrames.

- run features: one row per run, canonical units, NaN where a value is unknown;
- labels: one row per (run, reconstruction) -> reference, with the run class
  taken from the dataset name (the evaluation protocol's rule) and, where the
  name says nothing, from the run's own class.

Everything under `recommender.ml` works on these frames, so the evaluation can
take labels from a file and the serving path from the database without either
knowing the difference. Nothing here reads the database: `recommender.selectors`
(`run_features_frame`, `labels_frame`) reads the rows and builds the frames with
the functions below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ingestion.quantities import run_feature_quantities
from ingestion.run_classes import run_class_from_dataset

# Columns of the run-features frame (index: run_number).
RUN_FEATURE_COLUMNS = [
    "run_class",
    # The catalogued OMS quantities marked as features (ingestion.quantities):
    # start_time in epoch seconds; duration from the LS count where OMS gave none;
    # apv_mode "DECO", "PEAK" or "".
    *run_feature_quantities(),
    "ls_count",
    "pileup",  # mean LS pileup, else the fill's peak pileup
    "good_ls",  # certified-good lumisections: the JSON masks (2017-2018), else the Run Registry; else NaN
]

LABEL_COLUMNS = [
    "run_number",
    "reconstruction",
    "reference_run_number",
    "reference_reconstruction",
    "dataset",
    "run_class",
    "is_positive",
    "source",
]

_NUMERIC_RUN_COLUMNS = [c for c in RUN_FEATURE_COLUMNS if c not in {"run_class", "apv_mode", "era"}]


def empty_run_features() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in _NUMERIC_RUN_COLUMNS})
    for column in ("run_class", "apv_mode", "era"):
        frame[column] = pd.Series(dtype=object)
    frame.index = pd.Index([], dtype="int64", name="run_number")
    return frame[RUN_FEATURE_COLUMNS]


def normalise_run_features(frame: pd.DataFrame, *, lumisection_seconds: float | None = None) -> pd.DataFrame:
    """Give any run table the canonical columns and dtypes (missing columns become NaN / "").

    With `lumisection_seconds`, a run without a duration gets one from its LS count."""
    frame = frame.copy()
    if "run_number" in frame.columns:
        frame = frame.set_index("run_number")
    frame.index = frame.index.astype("int64")
    frame.index.name = "run_number"
    for column in _NUMERIC_RUN_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    for column in ("run_class", "apv_mode", "era"):
        if column not in frame.columns:
            frame[column] = ""
        frame[column] = frame[column].fillna("").astype(str).astype(object)
    # A duration from the LS count when OMS gave none: the seed's "duration" is what
    # a shifter sees as run length, and LS x 23.31 s is how DQM measures it.
    if lumisection_seconds is not None:
        no_duration = frame["duration"].isna() & frame["ls_count"].notna()
        frame.loc[no_duration, "duration"] = frame.loc[no_duration, "ls_count"] * lumisection_seconds
    return frame[RUN_FEATURE_COLUMNS].sort_index()


def run_features_from_rows(rows: list[tuple], columns: list[str], *, lumisection_seconds: float) -> pd.DataFrame:
    """Run features from the mirror's rows (recommender.selectors.run_features_frame reads
    them): `columns` name each tuple's values, with the fill's energy, B field, peak pileup
    and era beside the run's (`fill_energy`, ...) for where the run has none."""
    if not rows:
        return empty_run_features()
    raw = pd.DataFrame(rows, columns=columns)
    raw["start_time"] = [t.timestamp() if t is not None and not pd.isna(t) else np.nan for t in raw["start_time"]]
    for column in ("energy", "b_field", "pileup"):
        fallback = {"energy": "fill_energy", "b_field": "fill_b_field", "pileup": "fill_peak_pileup"}[column]
        raw[column] = pd.to_numeric(raw[column], errors="coerce").fillna(pd.to_numeric(raw[fallback], errors="coerce"))
    raw["era"] = raw["era"].replace("", None).fillna(raw["fill_era"])
    return normalise_run_features(raw, lumisection_seconds=lumisection_seconds)


def run_feature_values(
    rows: list[tuple], columns: list[str], *, lumisection_seconds: float
) -> dict[int, dict[str, object]]:
    """The values `run_features_from_rows` gives, per run number, without a data frame:
    the run page reads a handful of runs, for which building one costs more than the rest
    of the page. The same fallbacks (the fill's energy, B field, peak pileup and era; the
    duration from the LS count); a test holds the two equal."""
    out: dict[int, dict[str, object]] = {}
    for row in rows:
        raw = dict(zip(columns, row, strict=True))
        values: dict[str, object] = {}
        for column in _NUMERIC_RUN_COLUMNS:
            value = raw.get(column)
            if column == "start_time" and value is not None:
                value = value.timestamp()
            values[column] = _number(value)
        for column, fallback in (
            ("energy", "fill_energy"),
            ("b_field", "fill_b_field"),
            ("pileup", "fill_peak_pileup"),
        ):
            if math.isnan(values[column]):
                values[column] = _number(raw.get(fallback))
        if math.isnan(values["duration"]) and not math.isnan(values["ls_count"]):
            values["duration"] = values["ls_count"] * lumisection_seconds
        values["run_class"] = str(raw.get("run_class") or "")
        values["apv_mode"] = str(raw.get("apv_mode") or "")
        values["era"] = str(raw.get("era") or raw.get("fill_era") or "")
        out[int(raw["run_number"])] = values
    return out


def _number(value) -> float:
    try:
        return float("nan") if value is None else float(value)
    except (TypeError, ValueError):
        return float("nan")  # as pd.to_numeric(errors="coerce")


def side_by_side_value(value):
    """A run feature as the side-by-side table shows it: rounded, None for unknown."""
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    return value or None


def label_run_class(dataset: str, fallback: str = "") -> str:
    """Run class of a label: from its dataset name, else the run's own class."""
    # str(): a RunClass member would otherwise leak into DataFrames and artifacts.
    return str(run_class_from_dataset(dataset) or fallback or "")


def labels_from_records(records: Iterable[Mapping[str, Any]], run_classes: Mapping[int, str]) -> pd.DataFrame:
    """Labels from plain mappings (parsed pair files, tests). Missing keys take defaults."""
    rows = []
    for record in records:
        run_number = int(record["run_number"])
        dataset = str(record.get("dataset") or "")
        rows.append(
            {
                "run_number": run_number,
                "reconstruction": str(record["reconstruction"]),
                "reference_run_number": int(record["reference_run_number"]),
                "reference_reconstruction": str(record.get("reference_reconstruction") or record["reconstruction"]),
                "dataset": dataset,
                "run_class": label_run_class(dataset, run_classes.get(run_number, "")),
                "is_positive": bool(record.get("is_positive", True)),
                "source": str(record.get("source", "certhelper")),
            }
        )
    return sort_labels(pd.DataFrame(rows, columns=LABEL_COLUMNS))


def labels_from_pair_rows(rows: Iterable[Any], run_classes: Mapping[int, str]) -> pd.DataFrame:
    """Labels from `ingestion.parsers.CerthelperPair` rows (or anything with the same attributes)."""
    return labels_from_records(
        (
            {
                "run_number": row.run_number,
                "reconstruction": row.run_reconstruction_type,
                "reference_run_number": row.reference_run_number,
                "reference_reconstruction": row.reference_run_reconstruction_type,
                "dataset": row.dataset,
            }
            for row in rows
        ),
        run_classes,
    )


# What the database's labels carry besides LABEL_COLUMNS: the row id (the order of
# decisions; the serving cache merges new rows by it) and, for the run page's facts
# about each reference (recommender.ranking_reads.reference_facts), when the choice was
# made and the run's own class, which groups labels there as on the references page.
RECORD_COLUMNS = ["label_id", "own_run_class", "recorded_at"]


def labels_from_rows(rows: Iterable[tuple]) -> pd.DataFrame:
    """Labels from the database's rows (recommender.selectors.labels_read reads them):
    (run, reconstruction, reference, reference reconstruction, dataset, run's class,
    is positive, source, row id, recorded at, ...), in run order, then row order."""
    rows = list(rows)
    records = [
        {
            "run_number": r[0],
            "reconstruction": r[1],
            "reference_run_number": r[2],
            "reference_reconstruction": r[3],
            "dataset": r[4],
            "run_class": label_run_class(r[4], r[5]),
            "is_positive": r[6],
            "source": r[7],
            "label_id": r[8],
            "own_run_class": r[5] or "",
        }
        for r in rows
    ]
    frame = pd.DataFrame(records, columns=[*LABEL_COLUMNS, *RECORD_COLUMNS[:-1]])
    # plain datetimes, as the pages format them: a datetime column of pandas
    # Timestamps cost more than the rest of the frame
    frame["recorded_at"] = pd.Series([r[9] for r in rows], dtype=object)
    # A shifter's feedback on a run reconstruction overrides the Certhelper label for it.
    return sort_labels(frame.sort_values(["run_number", "label_id"], kind="stable"))


def sort_labels(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if frame.empty:
        return frame.reset_index(drop=True)
    frame["run_number"] = frame["run_number"].astype("int64")
    frame["reference_run_number"] = frame["reference_run_number"].astype("int64")
    frame["is_positive"] = frame["is_positive"].astype(bool)
    return frame.sort_values("run_number", kind="stable").reset_index(drop=True)


def run_classes_of(frame: pd.DataFrame) -> dict[int, str]:
    return {int(k): v for k, v in frame["run_class"].items() if v}
