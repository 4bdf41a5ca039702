"""Certhelper's (run, reference run) export: `allRunsRefRuns` JSON or its CSV copy.

Both shapes hold run_number, run_reconstruction_type, reference_run_number,
reference_run_reconstruction_type and dataset (certhelper_api.md §1.3).

Decisions:
- The very old export (2021) has no reconstruction types. We do not guess one:
  such a row is rejected with "no reconstruction type", because a label on the
  wrong reconstruction would teach the model a pair that never existed.
- `dataset` is stripped of whitespace and newlines; "To Be Defined", empty and
  null all become "".
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import (
    UNFORESEEN_CELL_ERRORS,
    DumpFileError,
    ParsedFile,
    RowError,
    RowInvalid,
    iter_csv,
    load_json,
    to_required_int,
    to_str,
    unforeseen_reason,
)

# Certhelper's reconstruction choices. They mirror recommender.models.Reconstruction
# (a test checks it): ingestion must not import the recommender app.
RECONSTRUCTION_TYPES = frozenset({"online", "express", "prompt", "rereco", "rerecoul"})

DATASET_PLACEHOLDERS = frozenset({"to be defined"})
DATASET_MAX_LENGTH = 200

REQUIRED_COLUMNS = (
    "run_number",
    "run_reconstruction_type",
    "reference_run_number",
    "reference_run_reconstruction_type",
)


@dataclass(frozen=True)
class CerthelperPair:
    line: int
    run_number: int
    run_reconstruction_type: str
    reference_run_number: int
    reference_run_reconstruction_type: str
    dataset: str


def _reconstruction(value: Any, column: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowInvalid(f"no reconstruction type ({column} is empty)")
    if not isinstance(value, str):
        raise RowInvalid(f"{column}: expected text, got {value!r}")
    reco = value.strip().lower()
    if reco not in RECONSTRUCTION_TYPES:
        raise RowInvalid(f"{column}: unknown reconstruction type {value.strip()!r}")
    return reco


def clean_dataset(value: Any) -> str:
    text = to_str(value, "dataset")
    if text.lower() in DATASET_PLACEHOLDERS:
        return ""
    if len(text) > DATASET_MAX_LENGTH:
        raise RowInvalid(f"dataset: longer than {DATASET_MAX_LENGTH} characters")
    return text


def certhelper_pair_from_dict(item: dict[str, Any], *, line: int) -> CerthelperPair:
    """Validate one export row. Raises RowInvalid with the reason."""
    if "run_reconstruction_type" not in item or "reference_run_reconstruction_type" not in item:
        raise RowInvalid("no reconstruction type (old export format without reconstruction types)")
    return CerthelperPair(
        line=line,
        run_number=to_required_int(item.get("run_number"), "run_number"),
        run_reconstruction_type=_reconstruction(item.get("run_reconstruction_type"), "run_reconstruction_type"),
        reference_run_number=to_required_int(item.get("reference_run_number"), "reference_run_number"),
        reference_run_reconstruction_type=_reconstruction(
            item.get("reference_run_reconstruction_type"), "reference_run_reconstruction_type"
        ),
        dataset=clean_dataset(item.get("dataset")),
    )


def _is_json(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    return ".json" in suffixes


def parse_certhelper_pairs(path: str | Path) -> ParsedFile:
    """Parse a Certhelper pairs export (JSON list or CSV, optionally gzipped).

    Returns a ParsedFile: `.rows` are CerthelperPair, `.errors` RowError, and
    `.fatal` a file-level error ("" if none). Rows read before a file-level error
    (e.g. a truncated gzip) are kept.
    """
    path = Path(path)
    parsed = ParsedFile()
    try:
        if _is_json(path):
            document = load_json(path)
            if not isinstance(document, list):
                raise DumpFileError(path.name, "expected a JSON list of pairs")
            for position, item in enumerate(document, start=1):
                if not isinstance(item, dict):
                    parsed.errors.append(RowError(path.name, position, "expected an object"))
                    continue
                _add(parsed, path.name, position, item)
        else:
            for line, row in iter_csv(path, required=REQUIRED_COLUMNS):
                if isinstance(row, RowError):
                    parsed.errors.append(row)
                    continue
                _add(parsed, path.name, line, row)
    except DumpFileError as exc:
        parsed.fatal = str(exc)
    return parsed


def _add(parsed: ParsedFile, name: str, line: int, item: dict[str, Any]) -> None:
    try:
        parsed.rows.append(certhelper_pair_from_dict(item, line=line))
    except RowInvalid as exc:
        parsed.errors.append(RowError(name, line, str(exc)))
    except UNFORESEEN_CELL_ERRORS as exc:
        parsed.errors.append(RowError(name, line, unforeseen_reason(exc)))
