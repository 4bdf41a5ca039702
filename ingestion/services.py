"""Writes to the OMS mirror: upserts of fills, runs and lumisections, and the dump import.

The upserts take already-normalised dicts (canonical units, see ingestion.parsers.oms)
so the dump importer and the live OMS sync share them. Each call is one batch in
one transaction: it reads the existing rows of the batch in one query, compares,
and writes only what changed, so a re-import reports every row as unchanged.

Precedence between sources
--------------------------
Runs. Attributes come in groups (RUN_GROUPS). A source *claims* a group for a run
when it gives a non-empty value for one of the group's fields; it then writes the
whole group, unless the group is already owned by a higher-priority source.
`Run.sources` records the owner of each group. Priority, highest first
(RUN_SOURCE_PRIORITY): the live OMS API, then the OMS run dumps (2018 collisions >
2018 Apr-May all runs > other OMS run CSVs > OMS run JSON list), then the
single-purpose files (CosmicsCounter > APV-mode runs > HistoricDQM run duration/fill
> PV mean), then the fill-derived run -> fill mappings (OMS fills + brilcalc >
brilcalc runs), then the lumisection aggregate (pileup_mean), and last the derived
runs_features_merged table, which therefore only fills gaps and never overwrites
a value from a primary file. This is the data README's order (e.g. duration: file 3
> file 4 > file 9 > file 10 > file 12). The final state does not depend on the order
in which files are imported.

Run class. Derived from the stored OMS attributes with `run_class_from_oms` after
every run upsert (source "oms"); it replaces a dataset-derived class, never the
reverse (see recommender.services).

Fills. Two tiers: primary sources (OMS API, oms_fills_* with units) write every
non-empty value; the secondary source (oms_fills_2009_2022, no units) only fills
empty fields. Order-independent as well. Empty values never erase stored ones.

Lumisections. One kind of source (OMS); the latest import wins.
"""

import datetime as dt
import logging
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Avg, Q
from django.utils import timezone

from .models import (
    LUMISECTION_FLAGS,
    LUMISECTION_VALUES,
    Fill,
    IngestionJob,
    JobKind,
    JobStatus,
    Lumisection,
    Run,
    RunClassSource,
)
from .parsers import (
    FILL,
    LUMISECTION,
    RUN,
    DumpFileError,
    DumpSource,
    RowError,
    SkippedFile,
    expand_paths,
    recognise_dump,
)
from .run_classes import run_class_from_oms

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 2000
ERRORS_PRINTED_PER_FILE = 20

# Highest priority first. "oms_api" is the live OMS client and OMS API JSON pages.
RUN_SOURCE_PRIORITY = [
    "oms_api",
    "oms_runs_2018_collisions",
    "oms_runs_2018_apr_may_all",
    "oms_runs_csv",
    "oms_runs_json",
    "cosmics_counter",
    "apv_mode_runs",
    "run_duration_fill",
    "pv_mean_per_run",
    "oms_fills_2009_2022",
    "brilcalc_run_lumisections",
    "oms_lumisections",
    "runs_features_merged",
]
_RUN_RANK = {source: rank for rank, source in enumerate(RUN_SOURCE_PRIORITY)}

# Attribute groups of a run: written together, from one source. The *_source_unit
# fields travel with their values but do not claim a group on their own.
RUN_GROUPS: dict[str, tuple[str, ...]] = {
    "fill": ("fill_number",),
    "times": ("start_time", "end_time"),
    "duration": ("duration",),
    "instant_lumi": ("init_lumi", "end_lumi", "instant_lumi_source_unit"),
    "integrated_lumi": ("delivered_lumi", "recorded_lumi", "integrated_lumi_source_unit"),
    "b_field": ("b_field",),
    "energy": ("energy",),
    "beam": ("stable_beam", "fill_type_runtime"),
    "trigger_mode": ("l1_hlt_mode",),
    "run_config": ("hlt_key", "sequence", "components", "era"),
    "rates": ("l1_rate", "hlt_physics_rate", "hlt_physics_counter"),
    "lumisections": ("last_lumisection_number",),
    "apv_mode": ("apv_mode",),
    "pv_mean": ("pv_mean",),
    "pileup_mean": ("pileup_mean",),
}
_UNIT_FIELDS = {"instant_lumi_source_unit", "integrated_lumi_source_unit"}
# Model fields whose "no value" is "" or [] rather than NULL.
_RUN_EMPTY = {
    "instant_lumi_source_unit": "",
    "integrated_lumi_source_unit": "",
    "fill_type_runtime": "",
    "l1_hlt_mode": "",
    "hlt_key": "",
    "sequence": "",
    "era": "",
    "apv_mode": "",
    "components": list,
}
_RUN_WRITE_FIELDS = [
    ("fill_id" if name == "fill_number" else name) for names in RUN_GROUPS.values() for name in names
] + ["run_class", "run_class_source", "sources"]

FILL_PRIMARY_SOURCES = {"oms_api", "oms_fills"}
FILL_SECONDARY_SOURCES = {"oms_fills_2009_2022"}
FILL_FIELDS = [
    "start_time",
    "end_time",
    "start_stable_beam",
    "end_stable_beam",
    "duration",
    "bunches_colliding",
    "bunches_target",
    "injection_scheme",
    "init_lumi",
    "init_lumi_source_unit",
    "peak_lumi",
    "peak_lumi_source_unit",
    "peak_pileup",
    "delivered_lumi",
    "recorded_lumi",
    "integrated_lumi_source_unit",
    "energy",
    "b_field",
    "fill_type_runtime",
    "fill_type_party1",
    "fill_type_party2",
    "era",
    "first_run_number",
    "last_run_number",
]
# Value fields paired with the unit field that describes them (written together).
_FILL_UNIT_OF = {
    "init_lumi": "init_lumi_source_unit",
    "peak_lumi": "peak_lumi_source_unit",
    "delivered_lumi": "integrated_lumi_source_unit",
    "recorded_lumi": "integrated_lumi_source_unit",
}
_FILL_TEXT = {
    "injection_scheme",
    "init_lumi_source_unit",
    "peak_lumi_source_unit",
    "integrated_lumi_source_unit",
    "fill_type_runtime",
    "fill_type_party1",
    "fill_type_party2",
    "era",
}

LUMISECTION_FIELDS = [*LUMISECTION_VALUES, *LUMISECTION_FLAGS]


@dataclass
class UpsertCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: "UpsertCounts") -> "UpsertCounts":
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# bulk_update builds one CASE per field over the whole batch; SQLite evaluates it
# row by row, so cost grows with rows x batch x fields. Small batches, changed fields only.
_UPDATE_BATCH_SIZE = 200


def _changed_fields(names: Sequence[str], before: tuple, after: tuple) -> set[str]:
    return {name for name, old, new in zip(names, before, after, strict=True) if old != new}


def _bulk_update(model, objects: Iterable, fields: set[str], *, timestamp: bool = True) -> None:
    objects = list(objects)
    if not objects:
        return
    update = sorted(fields)
    if timestamp:
        now = timezone.now()
        for obj in objects:
            obj.updated_at = now
        update.append("updated_at")
    model.objects.bulk_update(objects, update, batch_size=_UPDATE_BATCH_SIZE)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


# --- Bare parents ----------------------------------------------------------------


def _ids_ensure(*, model, key: str, numbers: Iterable[int]) -> dict[int, int]:
    """Ids by natural number, creating bare rows (number only) for those missing."""
    numbers = set(numbers)
    if not numbers:
        return {}
    ids = dict(model.objects.filter(**{f"{key}__in": numbers}).values_list(key, "id"))
    missing = numbers - ids.keys()
    if missing:
        model.objects.bulk_create([model(**{key: n}) for n in sorted(missing)], ignore_conflicts=True)
        ids.update(model.objects.filter(**{f"{key}__in": missing}).values_list(key, "id"))
    return ids


def fills_ensure(*, fill_numbers: Iterable[int]) -> dict[int, int]:
    """Fill ids by number, creating bare fills (number only) that do not exist yet.

    A run's fill may be absent from every fill dump (e.g. 2024 fill 9322); the
    bare row keeps the run -> fill link until a fill source fills it in.
    """
    return _ids_ensure(model=Fill, key="fill_number", numbers=fill_numbers)


def runs_ensure(*, run_numbers: Iterable[int]) -> dict[int, int]:
    """Run ids by number, creating bare runs (number only) that do not exist yet."""
    return _ids_ensure(model=Run, key="run_number", numbers=run_numbers)


# --- Fills -----------------------------------------------------------------------


def _upsert_by_number(
    *, model, key: str, rows: Sequence[dict[str, Any]], fields: Sequence[str], apply: Callable[[Any, dict], None]
) -> UpsertCounts:
    """The fill and run upserts' shared loop: one query for the rows that exist,
    each input row applied in memory, created / updated / unchanged counted by
    comparing `fields` before and after, then one bulk insert and one bulk update."""
    counts = UpsertCounts()
    existing = {getattr(o, key): o for o in model.objects.filter(**{f"{key}__in": {row[key] for row in rows}})}
    new: dict[int, Any] = {}
    changed: dict[int, Any] = {}
    changed_fields: set[str] = set()
    for row in rows:
        number = row[key]
        obj = existing.get(number) or new.get(number)
        if obj is None:
            obj = new[number] = model(**{key: number})
            apply(obj, row)
            counts.created += 1
            continue
        before = tuple(getattr(obj, name) for name in fields)
        apply(obj, row)
        diff = _changed_fields(fields, before, tuple(getattr(obj, name) for name in fields))
        if not diff:
            counts.unchanged += 1
        else:
            counts.updated += 1
            if number in existing:
                changed[number] = obj
                changed_fields |= diff
    model.objects.bulk_create(new.values())
    _bulk_update(model, changed.values(), changed_fields)
    return counts


def _fill_apply(fill: Fill, data: dict[str, Any], *, primary: bool) -> None:
    for name in FILL_FIELDS:
        if name in _FILL_UNIT_OF.values():
            continue  # written with its value below
        value = data.get(name)
        if _is_empty(value):
            continue
        if not primary and not _is_empty(getattr(fill, name)):
            continue  # the secondary source only fills gaps
        setattr(fill, name, value)
        unit_field = _FILL_UNIT_OF.get(name)
        if unit_field and data.get(unit_field):
            setattr(fill, unit_field, data[unit_field])


@transaction.atomic
def fills_upsert(*, rows: Sequence[dict[str, Any]], source: str) -> UpsertCounts:
    """Insert or update fills keyed on fill_number. One call is one batch."""
    if source in FILL_PRIMARY_SOURCES:
        primary = True
    elif source in FILL_SECONDARY_SOURCES:
        primary = False
    else:
        raise ValueError(f"unknown fill source {source!r}")
    return _upsert_by_number(
        model=Fill,
        key="fill_number",
        rows=rows,
        fields=FILL_FIELDS,
        apply=lambda f, r: _fill_apply(f, r, primary=primary),
    )


# --- Runs ------------------------------------------------------------------------


def _run_apply(run: Run, data: dict[str, Any], *, source: str, fill_ids: dict[int, int]) -> None:
    rank = _RUN_RANK[source]
    sources = dict(run.sources or {})
    for group, names in RUN_GROUPS.items():
        claims = any(not _is_empty(data.get(name)) for name in names if name not in _UNIT_FIELDS)
        if not claims:
            continue
        owner = sources.get(group)
        if owner is not None and _RUN_RANK.get(owner, len(_RUN_RANK)) < rank:
            continue  # a higher-priority source owns this group
        for name in names:
            value = data.get(name)
            if name == "fill_number":
                run.fill_id = fill_ids[value] if value is not None else None
                continue
            if value is None:
                empty = _RUN_EMPTY.get(name)
                value = empty() if callable(empty) else empty
            setattr(run, name, value)
        sources[group] = source
    run.sources = sources
    run_class = run_class_from_oms(
        l1_hlt_mode=run.l1_hlt_mode,
        hlt_key=run.hlt_key,
        fill_type_runtime=run.fill_type_runtime,
        stable_beam=run.stable_beam,
    )
    if run_class:
        run.run_class = run_class
        run.run_class_source = RunClassSource.OMS


@transaction.atomic
def runs_upsert(*, rows: Sequence[dict[str, Any]], source: str) -> UpsertCounts:
    """Insert or update runs keyed on run_number, with the group precedence above.

    `rows` are dicts with `run_number` and any of the fields in RUN_GROUPS
    (`fill_number` for the fill; a missing fill is created bare).
    """
    if source not in _RUN_RANK:
        raise ValueError(f"unknown run source {source!r}; add it to RUN_SOURCE_PRIORITY")
    fill_ids = fills_ensure(fill_numbers={r["fill_number"] for r in rows if r.get("fill_number") is not None})
    return _upsert_by_number(
        model=Run,
        key="run_number",
        rows=rows,
        fields=_RUN_WRITE_FIELDS,
        apply=lambda run, row: _run_apply(run, row, source=source, fill_ids=fill_ids),
    )


def runs_pileup_mean_refresh(*, run_numbers: Iterable[int], source: str = "oms_lumisections") -> UpsertCounts:
    """Set Run.pileup_mean to the mean pileup over the run's stored lumisections
    (all of them, as runs_features_merged's ls_pileup_mean does)."""
    counts = UpsertCounts()
    numbers = sorted(set(run_numbers))
    for start in range(0, len(numbers), DEFAULT_BATCH_SIZE):
        chunk = numbers[start : start + DEFAULT_BATCH_SIZE]
        means = (
            Lumisection.objects.filter(run__run_number__in=chunk, pileup__isnull=False)
            .values_list("run__run_number")
            .annotate(mean=Avg("pileup"))
        )
        # Rounded: a database's float sum may differ in the last bit between two reads.
        rows = [{"run_number": number, "pileup_mean": round(mean, 9)} for number, mean in means]
        if rows:
            counts += runs_upsert(rows=rows, source=source)
    return counts


# --- Lumisections ------------------------------------------------------------------


@transaction.atomic
def lumisections_upsert(*, rows: Sequence[dict[str, Any]]) -> UpsertCounts:
    """Insert or update lumisections keyed on (run_number, number); a missing run is
    created bare. The latest import wins.

    A row counts as created, updated (some value differs; NULLs compare equal) or
    unchanged (nothing is written to it). On PostgreSQL the batch goes through COPY
    and one INSERT ... ON CONFLICT (see _lumisections_upsert_postgresql); elsewhere,
    and for a batch that names a lumisection twice, through the ORM. Both give the
    same rows and the same counts.
    """
    if not rows:
        return UpsertCounts()
    run_ids = runs_ensure(run_numbers={row["run_number"] for row in rows})
    if connection.vendor == "postgresql":
        counts = _lumisections_upsert_postgresql(rows, run_ids)
        if counts is not None:
            return counts
    return _lumisections_upsert_orm(rows, run_ids)


def _lumisections_upsert_orm(rows: Sequence[dict[str, Any]], run_ids: dict[int, int]) -> UpsertCounts:
    counts = UpsertCounts()
    ranges: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        ranges[run_ids[row["run_number"]]].append(row["number"])
    # One query: each run's lumisection range in this batch.
    condition = Q()
    for run_id, numbers in ranges.items():
        condition |= Q(run_id=run_id, number__gte=min(numbers), number__lte=max(numbers))
    existing = {(ls.run_id, ls.number): ls for ls in Lumisection.objects.filter(condition)}
    new: dict[tuple[int, int], Lumisection] = {}
    changed: dict[tuple[int, int], Lumisection] = {}
    changed_fields: set[str] = set()
    for row in rows:
        key = (run_ids[row["run_number"]], row["number"])
        ls = existing.get(key) or new.get(key)
        if ls is None:
            new[key] = Lumisection(run_id=key[0], number=key[1], **{f: row.get(f) for f in LUMISECTION_FIELDS})
            counts.created += 1
            continue
        before = tuple(getattr(ls, f) for f in LUMISECTION_FIELDS)
        for name in LUMISECTION_FIELDS:
            setattr(ls, name, row.get(name))
        diff = _changed_fields(LUMISECTION_FIELDS, before, tuple(getattr(ls, f) for f in LUMISECTION_FIELDS))
        if not diff:
            counts.unchanged += 1
        else:
            counts.updated += 1
            if key in existing:
                changed[key] = ls
                changed_fields |= diff
    Lumisection.objects.bulk_create(new.values())
    _bulk_update(Lumisection, changed.values(), changed_fields, timestamp=False)
    return counts


_LS_BATCH_TABLE = "refrun_lumisection_batch"
_ls_statements: tuple[str, str, str, str] | None = None


def _lumisection_statements() -> tuple[str, str, str, str]:
    """CREATE, COPY, upsert and DROP statements of the PostgreSQL path (built once)."""
    global _ls_statements
    if _ls_statements is None:
        qn = connection.ops.quote_name
        table = qn(Lumisection._meta.db_table)
        batch = qn(_LS_BATCH_TABLE)
        fields = [Lumisection._meta.get_field(name) for name in ("run", "number", *LUMISECTION_FIELDS)]
        columns = [qn(f.column) for f in fields]
        values = columns[2:]
        key = ", ".join(columns[:2])
        create = (
            f"CREATE TEMPORARY TABLE {batch} ("
            + ", ".join(f"{column} {f.db_type(connection)}" for column, f in zip(columns, fields, strict=True))
            + ") ON COMMIT DROP"
        )
        copy = f"COPY {batch} ({', '.join(columns)}) FROM STDIN"
        # xmax is 0 only in a row version this statement inserted (an updated one
        # carries our transaction's lock); a conflicting row whose values are all
        # equal is neither written nor returned.
        upsert = (
            f"WITH written AS (INSERT INTO {table} AS ls ({', '.join(columns)}) "
            f"SELECT {', '.join(columns)} FROM {batch} "
            f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in values)} "
            f"WHERE ({', '.join(f'ls.{c}' for c in values)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{c}' for c in values)}) "
            "RETURNING ls.xmax = 0 AS created) "
            "SELECT count(*) FILTER (WHERE created), count(*) FILTER (WHERE NOT created) FROM written"
        )
        _ls_statements = (create, copy, upsert, f"DROP TABLE {batch}")
    return _ls_statements


def _lumisections_upsert_postgresql(rows: Sequence[dict[str, Any]], run_ids: dict[int, int]) -> UpsertCounts | None:
    """The batch COPYed into a temporary table, then one INSERT ... ON CONFLICT DO
    UPDATE ... WHERE (old values) IS DISTINCT FROM (new values) into the mirror.

    Runs in the caller's transaction (inside lumisections_upsert's savepoint). The
    temporary table lives for this call only (dropped at its end, or with the
    savepoint if the call fails), so several batches can run in one transaction.
    None when the batch names a lumisection twice (ON CONFLICT cannot update a row
    twice in one statement): the caller then takes the ORM path, whose counts for
    repeats are defined row after row.

    Notes: the identity sequence advances for every row of the batch, created or
    not (PostgreSQL draws the default before it detects the conflict), so ids have
    gaps; ids of existing rows never change. An unchanged row is locked until the
    transaction ends (ON CONFLICT locks the row it checks) but not rewritten.
    """
    get_values = itemgetter(*LUMISECTION_FIELDS)
    records = []
    keys = set()
    for row in rows:
        key = (run_ids[row["run_number"]], row["number"])
        keys.add(key)
        try:
            values = get_values(row)
        except KeyError:  # a source without some field: NULL, as in the ORM path
            values = tuple(row.get(name) for name in LUMISECTION_FIELDS)
        records.append(key + values)
    if len(keys) != len(records):
        return None
    create, copy, upsert, drop = _lumisection_statements()
    with connection.cursor() as cursor:
        cursor.execute(create)
        with connection.wrap_database_errors, cursor.copy(copy) as stream:
            for record in records:
                stream.write_row(record)
        cursor.execute(upsert)
        created, updated = cursor.fetchone()
        cursor.execute(drop)
    return UpsertCounts(created=created, updated=updated, unchanged=len(records) - created - updated)


# --- Import reports and job records ---------------------------------------------------


@dataclass
class FileReport:
    """What happened to one file: counts per entity, rejected rows, or why it was
    skipped or failed."""

    name: str
    source: str = ""
    counts: dict[str, UpsertCounts] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    failure: str = ""  # the file (or its remainder) could not be read
    skipped_reason: str = ""  # not imported at all: not an importable file

    def add(self, entity: str, counts: UpsertCounts) -> None:
        self.counts.setdefault(entity, UpsertCounts())
        self.counts[entity] += counts

    def lines(self, *, max_errors: int = ERRORS_PRINTED_PER_FILE) -> list[str]:
        if self.skipped_reason:
            return [f"{self.name}: skipped, {self.skipped_reason}"]
        label = f"{self.name} [{self.source}]" if self.source else self.name
        parts = [
            f"{entity}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for entity, c in self.counts.items()
        ]
        lines = [f"{label}: {'; '.join(parts) or 'nothing imported'}; {len(self.errors)} rows skipped"]
        lines += [f"  {error}" for error in self.errors[:max_errors]]
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors} more")
        if self.failure:
            lines.append(f"  FAILED: {self.failure}")
        return lines


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    job_id: int | None = None

    @property
    def failed(self) -> bool:
        return any(f.failure for f in self.files)

    def totals(self) -> tuple[UpsertCounts, int]:
        total = UpsertCounts()
        for report in self.files:
            for counts in report.counts.values():
                total += counts
        return total, sum(len(f.errors) for f in self.files)

    def lines(self) -> list[str]:
        lines = [line for report in self.files for line in report.lines()]
        total, skipped = self.totals()
        failed = [f.name for f in self.files if f.failure]
        lines.append(
            f"Total: {total.created} created, {total.updated} updated, {total.unchanged} unchanged, "
            f"{skipped} rows skipped; {len(failed)} files failed" + (f" ({', '.join(failed)})" if failed else "")
        )
        if self.job_id is not None:
            lines.append(f"Ingestion job #{self.job_id}")
        return lines


class JobAlreadyRunning(Exception):
    """A job of this kind is running: a second one would do the same work twice."""

    def __init__(self, job: IngestionJob) -> None:
        self.job = job
        super().__init__(f"{job.get_kind_display()} is already running (job #{job.pk})")


def _stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_S)


def jobs_stale_fail(*, kind: str | None = None) -> int:
    """Fail jobs of any kind (or of `kind`) that stopped without finishing: running or
    pending, and not updated for JOB_STALE_S (beyond Celery's hard time limit, so
    their worker was killed or lost). Returns how many."""
    stale = IngestionJob.objects.filter(
        status__in=[JobStatus.RUNNING, JobStatus.PENDING], updated_at__lt=_stale_before()
    )
    if kind is not None:
        stale = stale.filter(kind=kind)
    minutes = settings.JOB_STALE_S // 60
    return stale.update(
        status=JobStatus.FAILED,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
        message=f"stopped without finishing: no progress for {minutes} minutes (worker killed or lost); start it again",
    )


def job_running(*, kind: str) -> IngestionJob | None:
    """The live running job of this kind, if any (a stale one does not count)."""
    return (
        IngestionJob.objects.filter(kind=kind, status=JobStatus.RUNNING, updated_at__gte=_stale_before())
        .order_by("-created_at")
        .first()
    )


def _kind_lock(kind: str) -> None:
    # PostgreSQL: one transaction at a time per kind until commit. SQLite's
    # IMMEDIATE transactions (settings) already serialise every writer.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(f"ingestion-job:{kind}".encode())])


def ingestion_job_start(*, kind: str, parameters: dict[str, Any]) -> IngestionJob:
    """A new running job, unless one of its kind is running (JobAlreadyRunning):
    one sync, import or training of a kind at a time. A stale one is failed first."""
    with transaction.atomic():
        _kind_lock(kind)
        jobs_stale_fail(kind=kind)
        running = job_running(kind=kind)
        if running is not None:
            raise JobAlreadyRunning(running)
        return IngestionJob.objects.create(
            kind=kind, status=JobStatus.RUNNING, parameters=parameters, started_at=timezone.now()
        )


def ingestion_job_finish(*, job: IngestionJob, report: ImportReport) -> IngestionJob:
    """Store the report's counts and every rejected row (and file failure) on the job."""
    total, skipped = report.totals()
    errors: list[dict[str, Any]] = []
    for file_report in report.files:
        errors.extend(error.as_dict() for error in file_report.errors)
        if file_report.failure:
            errors.append({"file": file_report.name, "line": None, "reason": file_report.failure})
    job.status = JobStatus.FAILED if report.failed else JobStatus.SUCCEEDED
    job.finished_at = timezone.now()
    job.rows_created = total.created
    job.rows_updated = total.updated
    job.rows_unchanged = total.unchanged
    job.rows_skipped = skipped
    job.progress_done = total.total + skipped
    job.progress_total = job.progress_done
    job.errors = errors
    job.message = "\n".join(line for f in report.files for line in f.lines(max_errors=0))
    job.save()
    report.job_id = job.pk
    return job


def tables_analyze(*, models: Iterable[type]) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load.

    Autovacuum may be off or late (it is off on the CI machine): without this a
    query just after an import of 100,000 rows can plan a sequential scan (seen:
    49 ms instead of 1 ms on the runs page).
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')


# --- The OMS dump import ----------------------------------------------------------------

_UPSERTS: dict[str, Callable[..., UpsertCounts]] = {
    FILL: lambda rows, source: fills_upsert(rows=rows, source=source),
    RUN: lambda rows, source: runs_upsert(rows=rows, source=source),
    LUMISECTION: lambda rows, source: lumisections_upsert(rows=rows),
}
_ENTITY_ORDER = (FILL, RUN, LUMISECTION)  # parents first within a batch


def _import_dump(dump: DumpSource, report: FileReport, *, batch_size: int, progress: Callable[[int], None]) -> None:
    pending: dict[str, list[dict[str, Any]]] = {entity: [] for entity in _ENTITY_ORDER}
    touched_runs: set[int] = set()

    def flush() -> None:
        # One transaction per batch: a killed process leaves whole batches only.
        with transaction.atomic():
            for entity in _ENTITY_ORDER:
                if pending[entity]:
                    report.add(entity, _UPSERTS[entity](pending[entity], dump.source))
        done = sum(len(rows) for rows in pending.values())
        for rows in pending.values():
            rows.clear()
        progress(done)

    try:
        for item in dump.read():
            if isinstance(item, RowError):
                report.errors.append(item)
                progress(1)
                continue
            pending[item.entity].append(item.data)
            if item.entity == LUMISECTION:
                touched_runs.add(item.data["run_number"])
            if len(pending[item.entity]) >= batch_size:
                flush()
    except DumpFileError as exc:
        report.failure = exc.reason
    flush()  # the valid rows read before any damage are imported
    if touched_runs:
        # The aggregate below joins the lumisections just loaded: give the planner their statistics first.
        tables_analyze(models=[Lumisection, Run])
        report.add("run pileup_mean", runs_pileup_mean_refresh(run_numbers=touched_runs))


def oms_dump_import(
    *,
    paths: Sequence[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import OMS dump files (or directories of them) into Fill, Run and Lumisection.

    Files are processed in a fixed order (by source rank, then name) whatever the
    order given; an IngestionJob (kind oms_dump_import) records the outcome.
    """
    progress = progress or (lambda n: None)
    report = ImportReport()
    job = ingestion_job_start(kind=JobKind.OMS_DUMP_IMPORT, parameters={"paths": [str(p) for p in paths]})
    dumps: list[tuple[DumpSource, FileReport]] = []
    for path in expand_paths([Path(p) for p in paths]):
        file_report = FileReport(name=path.name)
        report.files.append(file_report)
        if not path.exists():
            file_report.failure = "no such file"
            continue
        try:
            recognised = recognise_dump(path)
        except DumpFileError as exc:
            file_report.failure = exc.reason
            continue
        if isinstance(recognised, SkippedFile):
            file_report.skipped_reason = recognised.reason
            continue
        file_report.source = recognised.source
        dumps.append((recognised, file_report))
    for dump, file_report in sorted(dumps, key=lambda item: (item[0].rank, item[0].path.name)):
        logger.info("importing %s as %s", dump.path.name, dump.source)
        _import_dump(dump, file_report, batch_size=batch_size, progress=progress)
    ingestion_job_finish(job=job, report=report)
    tables_analyze(models=[Fill, Run, Lumisection])
    return report
