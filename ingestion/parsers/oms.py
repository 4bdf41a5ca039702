"""OMS-ish dumps: recognise a file, then stream it as normalised records.

A record is `Record(entity, line, data)` with entity "fill", "run" or
"lumisection" and `data` a dict in canonical units whose keys are the ones
`ingestion.services.fills_upsert` / `runs_upsert` / `lumisections_upsert` take.
A value of None means "this source does not know".

Each recognised file has a *source name* (e.g. "oms_runs_2018_collisions"): the
services use it for precedence between sources and store it in `Run.sources`.
Files are recognised by name (the shared dumps) and, for JSON, by shape (an OMS
API page can be called anything). See `recognise_dump`.
"""

import fnmatch
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import quantities
from ..quantities import INSTANT_LUMI, LUMI_KINDS, Quantity
from ..units import (
    INFERRED_SUFFIX,
    UnknownUnit,
    infer_instant_lumi_unit,
    infer_integrated_lumi_unit,
    to_canonical_instant_lumi,
    to_canonical_integrated_lumi,
)
from .common import (
    UNFORESEEN_CELL_ERRORS,
    DumpFileError,
    RowError,
    RowInvalid,
    iter_csv,
    load_json,
    to_bool,
    to_datetime,
    to_float,
    to_int,
    to_required_int,
    to_str,
    to_str_list,
    unforeseen_reason,
)

FILL = "fill"
RUN = "run"
LUMISECTION = "lumisection"


@dataclass(frozen=True)
class Record:
    entity: str
    line: int
    data: dict[str, Any]


RecordStream = Iterator[Record | RowError]


# --- Year and heavy-ion guesses, for dumps without units -----------------------
# Data README: 2018 starts at run 308000 / fill 6477; Run 3 (2021 pilot beams on)
# at run 328000 / fill 7495.


def _run_year(run_number: int, start_time=None) -> int:
    if start_time is not None:
        return start_time.year
    if run_number < 308000:
        return 2017  # "up to 2017" is all one unit
    if run_number < 328000:
        return 2018
    return 2022


def _fill_year(fill_number: int, start_time=None) -> int:
    if start_time is not None:
        return start_time.year
    if fill_number < 6477:
        return 2017
    if fill_number < 7495:
        return 2018
    return 2022


def _is_heavy_ion(*, fill_type_runtime: str = "", l1_hlt_mode: str = "") -> bool:
    fill_type = (fill_type_runtime or "").upper()
    return "ION" in fill_type or fill_type in {"PB", "PBPB"} or (l1_hlt_mode or "").lower().startswith("collisionshi")


def _lumi(
    values: dict[str, Any],
    units: dict[str, str],
    names: tuple[str, ...],
    *,
    kind: str,
    inferred_unit: Callable[[], str],
) -> tuple[dict[str, float | None], str]:
    """Convert the luminosity columns `names` to canonical units.

    The unit comes from `units[name]` when the row gives one; otherwise it is
    inferred. Returns the converted values and the source unit string to store
    ("" when every value is missing).
    """
    convert = to_canonical_instant_lumi if kind == "instant" else to_canonical_integrated_lumi
    converted: dict[str, float | None] = {}
    source_unit = ""
    for name in names:
        raw = to_float(values.get(name), name)
        if raw is None:
            converted[name] = None
            continue
        unit = (units.get(name) or "").strip()
        label = unit
        if not unit:
            unit = inferred_unit()
            label = unit + INFERRED_SUFFIX
        try:
            converted[name] = convert(raw, unit)
        except UnknownUnit as exc:
            raise RowInvalid(f"{name}: {exc}") from None
        except OverflowError:  # a unit such as 10^{400}
            raise RowInvalid(f"{name}: unit {unit!r} is out of range") from None
        if not math.isfinite(converted[name]):
            raise RowInvalid(f"{name}: {raw!r} {unit} is out of range in canonical units")
        source_unit = source_unit or label
    return converted, source_unit


# --- Normalisers: attribute dict (+ units) -> record data ------------------------
# Which attributes there are, their types, lengths and bounds come from the
# catalogue (ingestion.quantities); only what is special about a quantity (a
# derived duration, fill 0, the year a unit is guessed from) is written here.


def _text_or_none(value: Any, column: str, *, max_length: int | None) -> str | None:
    return to_str(value, column, max_length=max_length) or None


def _converter(q: Quantity) -> tuple[Callable[..., Any], dict[str, Any]]:
    """The parser of a catalogue type, and its options: called as parse(value, name, **options)."""
    if q.type == "datetime":
        return to_datetime, {}
    if q.type == "float":
        return to_float, {}
    if q.type == "bool":
        return to_bool, {}
    if q.type == "int":
        return to_int, {"minimum": q.minimum} | ({"maximum": q.maximum} if q.maximum is not None else {})
    if q.type == "text":
        return _text_or_none, {"max_length": q.max_length}
    if q.type == "list":
        return to_str_list, {}
    raise AssertionError(f"catalogue type {q.type!r} of {q.entity}.{q.name} has no parser")


# Built once from the catalogue: the parsers run for every one of millions of rows.
# Parsed apart (see run_data): the run's fill, where OMS's 0 means "no fill".
_PARSED_APART = {(quantities.RUN, "fill_number")}
_PLAIN: dict[str, tuple[tuple[str, str, Callable[..., Any], dict[str, Any]], ...]] = {
    entity: tuple(
        (q.name, q.oms, *_converter(q))
        for q in quantities.of(entity)
        if q.oms is not None and q.unit not in LUMI_KINDS and (entity, q.name) not in _PARSED_APART
    )
    for entity in quantities.KEYS
}


def _lumi_groups(entity: str) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """(kind, value names, source-unit field) per set of luminosities converted together."""
    groups: dict[tuple[str, str], list[str]] = {}
    for q in quantities.of(entity):
        if q.oms is not None and q.unit in LUMI_KINDS:
            groups.setdefault((q.unit, q.source_unit), []).append(q.name)
    return tuple((kind, tuple(names), source_unit) for (kind, source_unit), names in groups.items())


_LUMI_GROUPS = {entity: _lumi_groups(entity) for entity in quantities.KEYS}


def _plain_values(entity: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """Every OMS attribute of the entity that is not a luminosity, converted by its catalogue type."""
    return {name: parse(attrs.get(oms), name, **options) for name, oms, parse, options in _PLAIN[entity]}


def _lumi_values(
    entity: str, attrs: dict[str, Any], units: dict[str, str], *, year: int, heavy_ion: bool | None = None
) -> dict[str, Any]:
    """The entity's luminosities in canonical units, with the unit OMS sent stored in
    each value's source-unit field (values sharing one such field convert together)."""
    guess = {"year": year} if heavy_ion is None else {"year": year, "heavy_ion": heavy_ion}
    data: dict[str, Any] = {}
    for kind, names, source_unit_field in _LUMI_GROUPS[entity]:
        if kind == INSTANT_LUMI:
            converted, source_unit = _lumi(
                attrs, units, names, kind="instant", inferred_unit=lambda: infer_instant_lumi_unit(**guess)
            )
        else:
            converted, source_unit = _lumi(
                attrs, units, names, kind="integrated", inferred_unit=lambda: infer_integrated_lumi_unit(**guess)
            )
        data.update(converted)
        if source_unit_field:
            data[source_unit_field] = source_unit or None
    return data


def fill_data(attrs: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    fill_number = to_required_int(attrs.get("fill_number"), "fill_number")
    data = {"fill_number": fill_number, **_plain_values(quantities.FILL, attrs)}
    year = _fill_year(fill_number, data["start_time"])
    heavy_ion = _is_heavy_ion(fill_type_runtime=data["fill_type_runtime"] or "")
    data.update(_lumi_values(quantities.FILL, attrs, units, year=year, heavy_ion=heavy_ion))
    return data


def _fill_number_or_none(value: Any) -> int | None:
    number = to_int(value, "fill_number", minimum=0)
    return number or None  # OMS has no fill 0: a run without beam


def run_data(attrs: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    run_number = to_required_int(attrs.get("run_number"), "run_number")
    data = {
        "run_number": run_number,
        "fill_number": _fill_number_or_none(attrs.get("fill_number")),
        **_plain_values(quantities.RUN, attrs),
    }
    start_time, end_time, duration = data["start_time"], data["end_time"], data["duration"]
    if duration is None and start_time is not None and end_time is not None:
        duration = data["duration"] = int((end_time - start_time).total_seconds())
    if duration is not None and duration < 0:
        raise RowInvalid(f"duration: negative ({duration} s)")
    year = _run_year(run_number, start_time)
    heavy_ion = _is_heavy_ion(fill_type_runtime=data["fill_type_runtime"] or "", l1_hlt_mode=data["l1_hlt_mode"] or "")
    data.update(_lumi_values(quantities.RUN, attrs, units, year=year, heavy_ion=heavy_ion))
    return data


def lumisection_data(attrs: dict[str, Any], units: dict[str, str]) -> dict[str, Any]:
    run_number = to_required_int(attrs.get("run_number"), "run_number")
    # Per-LS delivered/recorded are cumulative since LS 1, in pb^-1: stored as they are.
    lumis = _lumi_values(quantities.LUMISECTION, attrs, units, year=_run_year(run_number))
    return {
        "run_number": run_number,
        "number": to_required_int(attrs.get("lumisection_number"), "lumisection_number"),
        **lumis,
        **_plain_values(quantities.LUMISECTION, attrs),
    }


# --- Readers: one per dump format ------------------------------------------------


def _csv_records(
    path: Path, *, required: tuple[str, ...], convert: Callable[[dict[str, str], int], list[Record]]
) -> RecordStream:
    for line, row in iter_csv(path, required=required):
        if isinstance(row, RowError):
            yield row
            continue
        try:
            records = convert(row, line)
        except RowInvalid as exc:
            yield RowError(path.name, line, str(exc))
            continue
        except UNFORESEEN_CELL_ERRORS as exc:
            yield RowError(path.name, line, unforeseen_reason(exc))
            continue
        yield from records


def _unit_columns(row: dict[str, str]) -> dict[str, str]:
    return {name[: -len("_unit")]: value for name, value in row.items() if name.endswith("_unit") and value}


def read_oms_fills_csv(path: Path) -> RecordStream:
    """oms_fills_2018: OMS fill attributes with a `<attr>_unit` column per value."""
    return _csv_records(
        path,
        required=("fill_number",),
        convert=lambda row, line: [Record(FILL, line, fill_data(row, _unit_columns(row)))],
    )


def _parse_int_list(value: str, column: str) -> list[int]:
    if not value or not value.strip():
        return []
    try:
        items = json.loads(value)
    except json.JSONDecodeError:
        raise RowInvalid(f"{column}: expected a list like [1, 2], got {value[:40]!r}") from None
    except RecursionError:  # "[[[...]]]": the decoder gives up before the stack does
        raise RowInvalid(f"{column}: nested too deeply") from None
    if not isinstance(items, list):
        raise RowInvalid(f"{column}: expected a list, got {value[:40]!r}")
    return [to_required_int(item, column) for item in items]


def _fills_brilcalc_row(row: dict[str, str], line: int) -> list[Record]:
    attrs = {name.removeprefix("oms_"): value for name, value in row.items() if name.startswith("oms_")}
    fill = fill_data(attrs, {})
    records = [Record(FILL, line, fill)]
    # brilcalc_run: the runs with luminosity in this fill, the run -> fill mapping.
    for run_number in _parse_int_list(row.get("brilcalc_run", ""), "brilcalc_run"):
        records.append(Record(RUN, line, {"run_number": run_number, "fill_number": fill["fill_number"]}))
    return records


def read_oms_fills_brilcalc(path: Path) -> RecordStream:
    """oms_fills_2009_2022: oms_* fill attributes without units, joined with brilcalc."""
    return _csv_records(path, required=("oms_fill_number",), convert=_fills_brilcalc_row)


def read_oms_runs_csv(path: Path) -> RecordStream:
    """oms_runs_2018_collisions (duration column) and oms_runs_2018_apr_may_all
    (duration = end_time - start_time; components joined with ';')."""
    return _csv_records(
        path,
        required=("run_number",),
        convert=lambda row, line: [Record(RUN, line, run_data(row, _unit_columns(row)))],
    )


def read_oms_lumisections_csv(path: Path) -> RecordStream:
    return _csv_records(
        path,
        required=("run_number", "lumisection_number"),
        convert=lambda row, line: [Record(LUMISECTION, line, lumisection_data(row, _unit_columns(row)))],
    )


def _apv_mode(value: Any) -> str | None:
    text = to_str(value, "apv_mode").upper()
    if text in {"", "???"}:
        return None  # unknown
    if text not in {"DECO", "PEAK"}:
        raise RowInvalid(f"apv_mode: expected DECO, PEAK or ???, got {value!r}")
    return text


def _run_file_reader(*, required: tuple[str, ...], columns: dict[str, Callable[[dict[str, str]], Any]]):
    """A reader of a single-purpose run file: one run per row, `columns` giving each
    run attribute from the row (each file names its columns its own way)."""

    def convert(row: dict[str, str], line: int) -> list[Record]:
        data = {"run_number": to_required_int(row.get("run_number"), "run_number")}
        data.update((name, value_of(row)) for name, value_of in columns.items())
        return [Record(RUN, line, data)]

    def read(path: Path) -> RecordStream:
        return _csv_records(path, required=required, convert=convert)

    return read


read_cosmics_counter = _run_file_reader(
    required=("run_number", "apv_mode"),
    columns={
        "duration": lambda row: to_int(row.get("duration"), "duration", minimum=0),
        "b_field": lambda row: to_float(row.get("b_field"), "b_field"),
        "apv_mode": lambda row: _apv_mode(row.get("apv_mode")),
        "last_lumisection_number": lambda row: to_int(row.get("n_ls"), "n_ls", minimum=0),
    },
)
read_apv_mode_runs = _run_file_reader(
    required=("run_number", "apv_mode"), columns={"apv_mode": lambda row: _apv_mode(row.get("apv_mode"))}
)
read_run_duration_fill = _run_file_reader(
    required=("run_number", "run_duration_s"),
    columns={
        "duration": lambda row: to_int(row.get("run_duration_s"), "run_duration_s", minimum=0),
        "fill_number": lambda row: _fill_number_or_none(row.get("lhc_fill")),
    },
)
read_brilcalc_run_lumisections = _run_file_reader(
    required=("run_number", "fill_number"),
    columns={
        "fill_number": lambda row: _fill_number_or_none(row.get("fill_number")),
        # The LS count with luminosity: a stand-in for the last LS number,
        # used only where no OMS source gives one (lower priority).
        "last_lumisection_number": lambda row: to_int(row.get("brilcalc_nls"), "brilcalc_nls", minimum=0),
    },
)


# PromptReco/ZeroBias is the offline reconstruction shifters certify; prefer it.
_PV_STREAM_RANK = {"promptreco/zerobias": 0, "streamexpress": 1}


def _pv_mean_row(row: dict[str, str], line: int) -> list[Record]:
    run_number = to_required_int(row.get("run_number"), "run_number")
    pv_mean = to_float(row.get("pv_mean"), "pv_mean")
    stream = to_str(row.get("stream"), "stream").lower()
    if stream not in _PV_STREAM_RANK:
        raise RowInvalid(f"stream: unknown stream {row.get('stream')!r}")
    if pv_mean is None:
        return []
    return [Record(RUN, line, {"run_number": run_number, "pv_mean": pv_mean, "stream": stream})]


def read_pv_mean(path: Path) -> RecordStream:
    """Several rows per run (streams, years, commits): keep one per run, the best
    stream, and within it the last row in the file, so the choice is deterministic."""
    best: dict[int, tuple[tuple[int, int], Record]] = {}
    for item in _csv_records(path, required=("run_number", "stream", "pv_mean"), convert=_pv_mean_row):
        if isinstance(item, RowError):
            yield item
            continue
        run_number, pv_mean = item.data["run_number"], item.data["pv_mean"]
        key = (-_PV_STREAM_RANK[item.data["stream"]], item.line)
        current = best.get(run_number)
        if current is None or key > current[0]:
            best[run_number] = (key, Record(RUN, item.line, {"run_number": run_number, "pv_mean": pv_mean}))
    for _, record in sorted(best.values(), key=lambda item: item[1].line):
        yield record


def _merged_row(row: dict[str, str], line: int) -> list[Record]:
    run_number = to_required_int(row.get("run_number"), "run_number")
    l1_hlt_mode = to_str(row.get("l1_hlt_mode"), "l1_hlt_mode", max_length=80)
    year = _run_year(run_number)
    heavy_ion = _is_heavy_ion(fill_type_runtime=row.get("fill_type_runtime", ""), l1_hlt_mode=l1_hlt_mode)
    # The table has no units: all of them inferred, under the OMS column names.
    lumis = _lumi_values(quantities.RUN, row, {}, year=year, heavy_ion=heavy_ion)
    # A fill from the first/last-run range of a fill is a guess (a cosmics run
    # inherits the concurrent fill); not a fill mapping we store.
    fill_src = row.get("fill_number_src", "")
    fill_number = None if "range" in fill_src else _fill_number_or_none(row.get("fill_number"))
    last_ls = to_int(row.get("last_lumisection_number"), "last_lumisection_number", minimum=0)
    if last_ls is None:
        last_ls = to_int(row.get("n_ls_proxy"), "n_ls_proxy", minimum=0)
    data = {
        "run_number": run_number,
        "fill_number": fill_number,
        "duration": to_int(row.get("duration_s"), "duration_s", minimum=0),
        **lumis,
        "b_field": to_float(row.get("b_field"), "b_field"),
        "l1_hlt_mode": l1_hlt_mode or None,
        "last_lumisection_number": last_ls,
        "apv_mode": _apv_mode(row.get("apv_mode")),
        "pv_mean": to_float(row.get("pv_mean"), "pv_mean"),
        "pileup_mean": to_float(row.get("ls_pileup_mean"), "ls_pileup_mean"),
    }
    return [Record(RUN, line, data)]


def read_runs_features_merged(path: Path) -> RecordStream:
    """The derived one-row-per-run join. Run-level columns only: its fill-level
    columns (bunches_colliding, fill_init_lumi, ...) come from oms_fills_* files,
    which are imported directly."""
    return _csv_records(path, required=("run_number",), convert=_merged_row)


_API_TYPES = {"runs": (RUN, run_data), "fills": (FILL, fill_data), "lumisections": (LUMISECTION, lumisection_data)}


def _api_units(item: dict[str, Any]) -> dict[str, str]:
    meta = item.get("meta")
    row_meta = meta.get("row") if isinstance(meta, dict) else None
    if not isinstance(row_meta, dict):
        return {}
    return {
        name: meta["units"]
        for name, meta in row_meta.items()
        if isinstance(meta, dict) and isinstance(meta.get("units"), str) and meta["units"]
    }


def _json_records(path: Path, items: list[Any], convert: Callable[[Any], Record]) -> RecordStream:
    for position, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise RowInvalid("expected an object")
            yield convert(item, position)
        except RowInvalid as exc:
            yield RowError(path.name, position, str(exc))
        except UNFORESEEN_CELL_ERRORS as exc:
            yield RowError(path.name, position, unforeseen_reason(exc))


def read_oms_api_page(path: Path, document: Any) -> RecordStream:
    """An OMS API response page: {"data": [{"type", "attributes", "meta": {"row": units}}]}."""

    def convert(item, position):
        kind = item.get("type")
        if not isinstance(kind, str) or kind not in _API_TYPES:
            raise RowInvalid(f"unsupported OMS resource type {kind!r}")
        attributes = item.get("attributes")
        if not isinstance(attributes, dict):
            raise RowInvalid("no attributes object")
        entity, normalise = _API_TYPES[kind]
        return Record(entity, position, normalise(attributes, _api_units(item)))

    return _json_records(path, document["data"], convert)


def read_oms_runs_json(path: Path, document: Any) -> RecordStream:
    """A JSON list of OMS run attribute dicts (oms_runs_2024_cosmics_*.json)."""
    return _json_records(path, document, lambda item, position: Record(RUN, position, run_data(item, {})))


# --- Recognition -----------------------------------------------------------------


@dataclass(frozen=True)
class DumpSource:
    """A recognised file: its source name, and a function streaming its records."""

    path: Path
    source: str
    rank: float  # processing order; the services' precedence makes order irrelevant to the result
    read: Callable[[], RecordStream]


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


# (filename pattern, source name, reader, rank). First match wins. The rank is the
# processing order: fills (best source first), then runs from the highest-priority
# source down, then lumisections, then the derived table last.
CSV_SOURCES: list[tuple[str, str, Callable[[Path], RecordStream], float]] = [
    ("oms_fills_2009_2022*.csv*", "oms_fills_2009_2022", read_oms_fills_brilcalc, 1),
    ("oms_fills*.csv*", "oms_fills", read_oms_fills_csv, 0),
    ("oms_runs_2018_collisions*.csv*", "oms_runs_2018_collisions", read_oms_runs_csv, 2),
    ("oms_runs_2018_apr_may*.csv*", "oms_runs_2018_apr_may_all", read_oms_runs_csv, 3),
    ("oms_runs*.csv*", "oms_runs_csv", read_oms_runs_csv, 4),
    ("cosmics_counter*.csv*", "cosmics_counter", read_cosmics_counter, 6),
    ("apv_mode_runs*.csv*", "apv_mode_runs", read_apv_mode_runs, 7),
    ("run_duration_fill*.csv*", "run_duration_fill", read_run_duration_fill, 8),
    ("pv_mean_per_run*.csv*", "pv_mean_per_run", read_pv_mean, 9),
    ("brilcalc_run_lumisections*.csv*", "brilcalc_run_lumisections", read_brilcalc_run_lumisections, 10),
    ("oms_lumisections*.csv*", "oms_lumisections", read_oms_lumisections_csv, 11),
    ("runs_features_merged*.csv*", "runs_features_merged", read_runs_features_merged, 12),
]
JSON_RANKS = {"oms_api": -1, "oms_runs_json": 5}

KNOWN_SKIPS = [
    ("certhelper_pairs*", "Certhelper pairs export: load it with import_pairs"),
    ("certhelper_tkdqmdoctor*", "legacy TkDQMDoctor certification records: not an OMS dump, not imported"),
    ("certhelper_*", "Certhelper export: not an OMS dump"),
    ("certification_json_*", "certified-lumisection mask (good-run JSON): not an OMS dump, not imported"),
]


def _is_json_name(name: str) -> bool:
    return name.endswith(".json") or name.endswith(".json.gz")


def _recognise_json(path: Path) -> DumpSource | SkippedFile:
    document = load_json(path)  # DumpFileError propagates: the caller reports the file as failed
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        return DumpSource(path, "oms_api", JSON_RANKS["oms_api"], lambda: read_oms_api_page(path, document))
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        if "reference_run_number" in document[0]:
            return SkippedFile(path, "Certhelper pairs export: load it with import_pairs")
        if "run_number" in document[0]:
            return DumpSource(
                path, "oms_runs_json", JSON_RANKS["oms_runs_json"], lambda: read_oms_runs_json(path, document)
            )
    if isinstance(document, dict) and document and all(key.isdigit() for key in document):
        return SkippedFile(path, "certified-lumisection mask (good-run JSON): not an OMS dump, not imported")
    return SkippedFile(path, "JSON not recognised (neither an OMS API page nor a list of OMS runs)")


def recognise_dump(path: Path) -> DumpSource | SkippedFile:
    """What `path` is: a DumpSource to import, or a SkippedFile with the reason.

    Raises DumpFileError if a JSON file cannot be read (its shape decides what it is).
    """
    name = path.name
    for pattern, reason in KNOWN_SKIPS:
        if fnmatch.fnmatch(name, pattern):
            return SkippedFile(path, reason)
    if _is_json_name(name):
        return _recognise_json(path)
    for pattern, source, reader, rank in CSV_SOURCES:
        if fnmatch.fnmatch(name, pattern) and (name.endswith(".csv") or name.endswith(".csv.gz")):
            return DumpSource(path, source, rank, lambda reader=reader: reader(path))
    return SkippedFile(path, "not recognised as an OMS dump")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, directories expanded to their files (sorted, not recursive)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                sorted(child for child in path.iterdir() if child.is_file() and not child.name.startswith("."))
            )
        else:
            files.append(path)
    return files


__all__ = [
    "FILL",
    "LUMISECTION",
    "RUN",
    "DumpFileError",
    "DumpSource",
    "Record",
    "SkippedFile",
    "expand_paths",
    "recognise_dump",
]
