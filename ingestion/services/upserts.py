"""Writes to the OMS mirror: the upserts of fills, runs and lumisections.

The upserts take already-normalised dicts (canonical units, see ingestion.parsers.oms)
so the dump importer and the live OMS sync share them. Each call is one batch in
one transaction: it reads the existing rows of the batch in one query, compares,
and writes only what changed, so a re-import reports every row as unchanged.

Precedence between sources
--------------------------
Runs. Attributes come in groups (RUN_GROUPS, from the catalogue ingestion.quantities). A source *claims* a group for a run
when it gives a non-empty value for one of the group's fields; it then writes the
whole group, unless the group is already owned by a higher-priority source.
`Run.sources` records the owner of each group. Priority, highest first
(RUN_SOURCE_PRIORITY, in .precedence): the live OMS API, then the OMS run dumps (2018 collisions >
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
reverse (see recommender.services). A run OMS says nothing of that the Tracker's
cosmics counter lists is a cosmics run (source "counter") until OMS says more.

Fills. Two tiers: primary sources (OMS API, oms_fills_* with units) write every
non-empty value; the secondary source (oms_fills_2009_2022, no units) only fills
empty fields. Order-independent as well. Empty values never erase stored ones.

Lumisections. One kind of source (OMS); the latest import wins.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from django.db import connection, transaction
from django.db.models import Avg, Model, Q
from django.utils import timezone

from jobs.services import Counts

from ..models import Fill, Lumisection, Run, RunClass, RunClassSource
from ..run_classes import run_class_from_oms
from .lumisections_copy import lumisections_upsert_postgresql
from .precedence import (
    FILL_FIELDS,
    FILL_PRIMARY_SOURCES,
    FILL_SECONDARY_SOURCES,
    FILL_UNIT_OF,
    LUMISECTION_FIELDS,
    RUN_EMPTY,
    RUN_GROUPS,
    RUN_RANK,
    RUN_UNIT_FIELDS,
    RUN_WRITE_FIELDS,
    SOURCE_ADMIN,
)

# The dump source name of the Tracker's cosmics counter (ingestion.parsers.oms, DUMP_FILES).
COSMICS_COUNTER_SOURCE = "cosmics_counter"


DEFAULT_BATCH_SIZE = 2000

# The upserts' counts are the job record's counts type (skipped stays 0 here:
# rejected rows never reach an upsert).
UpsertCounts = Counts

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


# --- The keyed upsert ---------------------------------------------------------------


def keyed_upsert(
    *,
    model: type[Model],
    rows: Sequence[dict[str, Any]],
    key_of: Callable[[dict[str, Any]], Hashable],
    existing: dict[Hashable, Model],
    make: Callable[[Hashable], Model],
    apply: Callable[[Model, dict[str, Any]], None],
    fields: Sequence[str],
    timestamp: bool = True,
) -> Counts:
    """The one upsert loop of the mirror (fills, runs, lumisections).

    `existing` holds the batch's rows already stored, by natural key (one query,
    made by the caller, who knows how to find them). Each input row is applied in
    memory to its stored row or to a new one (`make`); it counts as created,
    updated (some of `fields` differs) or unchanged (nothing written). Then one
    bulk insert and one bulk update of the changed fields only. A key named twice
    in a batch is applied twice, the second time to the row the first made.
    """
    counts = Counts()
    new: dict[Hashable, Model] = {}
    changed: dict[Hashable, Model] = {}
    changed_fields: set[str] = set()
    for row in rows:
        key = key_of(row)
        obj = existing.get(key) or new.get(key)
        if obj is None:
            obj = new[key] = make(key)
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
            if key in existing:
                changed[key] = obj
                changed_fields |= diff
    model.objects.bulk_create(new.values())
    _bulk_update(model, changed.values(), changed_fields, timestamp=timestamp)
    return counts


def _upsert_by_number(
    *, model: type[Model], key: str, rows: Sequence[dict[str, Any]], fields: Sequence[str], apply
) -> Counts:
    """keyed_upsert for a model with one natural number (fill_number, run_number)."""
    numbers = {row[key] for row in rows}
    return keyed_upsert(
        model=model,
        rows=rows,
        key_of=itemgetter(key),
        existing={getattr(o, key): o for o in model.objects.filter(**{f"{key}__in": numbers})},
        make=lambda number: model(**{key: number}),
        apply=apply,
        fields=fields,
    )


# --- Fills -----------------------------------------------------------------------


def _fill_apply(fill: Fill, data: dict[str, Any], *, primary: bool) -> None:
    for name in FILL_FIELDS:
        if name in FILL_UNIT_OF.values():
            continue  # written with its value below
        value = data.get(name)
        if _is_empty(value):
            continue
        if not primary and not _is_empty(getattr(fill, name)):
            continue  # the secondary source only fills gaps
        setattr(fill, name, value)
        unit_field = FILL_UNIT_OF.get(name)
        if unit_field and data.get(unit_field):
            setattr(fill, unit_field, data[unit_field])


@transaction.atomic
def fills_upsert(*, rows: Sequence[dict[str, Any]], source: str) -> Counts:
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
    rank = RUN_RANK[source]
    sources = dict(run.sources or {})
    for group, names in RUN_GROUPS.items():
        claims = any(not _is_empty(data.get(name)) for name in names if name not in RUN_UNIT_FIELDS)
        if not claims:
            continue
        owner = sources.get(group)
        if owner is not None and RUN_RANK.get(owner, len(RUN_RANK)) < rank:
            continue  # a higher-priority source owns this group
        for name in names:
            value = data.get(name)
            if name == "fill_number":
                run.fill_id = fill_ids[value] if value is not None else None
                continue
            if value is None:
                empty = RUN_EMPTY.get(name)
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
    elif not run.run_class and COSMICS_COUNTER_SOURCE in sources.values():
        # The Tracker's cosmics counter lists cosmics runs only: a run OMS said nothing
        # of yet is a cosmics run, not "class unknown".
        run.run_class = RunClass.COSMICS
        run.run_class_source = RunClassSource.COSMICS_COUNTER


@transaction.atomic
def runs_upsert(*, rows: Sequence[dict[str, Any]], source: str) -> Counts:
    """Insert or update runs keyed on run_number, with the group precedence above.

    `rows` are dicts with `run_number` and any of the fields in RUN_GROUPS
    (`fill_number` for the fill; a missing fill is created bare).
    """
    if source not in RUN_RANK:
        raise ValueError(f"unknown run source {source!r}; add it to RUN_SOURCE_PRIORITY")
    fill_ids = fills_ensure(fill_numbers={r["fill_number"] for r in rows if r.get("fill_number") is not None})
    return _upsert_by_number(
        model=Run,
        key="run_number",
        rows=rows,
        fields=RUN_WRITE_FIELDS,
        apply=lambda run, row: _run_apply(run, row, source=source, fill_ids=fill_ids),
    )


# What an admin may correct by hand (Django admin), by model field: the group it claims.
ADMIN_CORRECTABLE = {"apv_mode": "apv_mode", "pv_mean": "pv_mean"}


def run_conditions_override(*, run: Run, changed: Iterable[str]) -> None:
    """An admin's edit of a run's APV mode or PV mean (in memory; the admin saves it).

    An edited value is the admin's: its group is owned by SOURCE_ADMIN, which no
    source outranks, so no sync overwrites it. A value the admin clears gives its
    group back to the sources."""
    sources = dict(run.sources or {})
    for name in changed:
        group = ADMIN_CORRECTABLE.get(name)
        if group is None:
            continue
        if _is_empty(getattr(run, name)):
            sources.pop(group, None)
        else:
            sources[group] = SOURCE_ADMIN
    run.sources = sources


def runs_pileup_mean_refresh(*, run_numbers: Iterable[int], source: str = "oms_lumisections") -> Counts:
    """Set Run.pileup_mean to the mean pileup over the run's stored lumisections
    (all of them, as runs_features_merged's ls_pileup_mean does)."""
    counts = Counts()
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
def lumisections_upsert(*, rows: Sequence[dict[str, Any]]) -> Counts:
    """Insert or update lumisections keyed on (run_number, number); a missing run is
    created bare. The latest import wins.

    A row counts as created, updated (some value differs; NULLs compare equal) or
    unchanged (nothing is written to it). On PostgreSQL the batch goes through COPY
    and one INSERT ... ON CONFLICT (see _lumisections_upsert_postgresql); elsewhere,
    and for a batch that names a lumisection twice, through the ORM. Both give the
    same rows and the same counts.
    """
    if not rows:
        return Counts()
    run_ids = runs_ensure(run_numbers={row["run_number"] for row in rows})
    if connection.vendor == "postgresql":
        counts = lumisections_upsert_postgresql(rows, run_ids)
        if counts is not None:
            return counts
    return _lumisections_upsert_orm(rows, run_ids)


def _lumisection_apply(ls: Lumisection, row: dict[str, Any]) -> None:
    for name in LUMISECTION_FIELDS:
        setattr(ls, name, row.get(name))


def _lumisections_upsert_orm(rows: Sequence[dict[str, Any]], run_ids: dict[int, int]) -> Counts:
    ranges: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        ranges[run_ids[row["run_number"]]].append(row["number"])
    # One query: each run's lumisection range in this batch.
    condition = Q()
    for run_id, numbers in ranges.items():
        condition |= Q(run_id=run_id, number__gte=min(numbers), number__lte=max(numbers))
    return keyed_upsert(
        model=Lumisection,
        rows=rows,
        key_of=lambda row: (run_ids[row["run_number"]], row["number"]),
        existing={(ls.run_id, ls.number): ls for ls in Lumisection.objects.filter(condition)},
        make=lambda key: Lumisection(run_id=key[0], number=key[1]),
        apply=_lumisection_apply,
        fields=LUMISECTION_FIELDS,
        # No updated_at on lumisections: a year is millions of rows; the run's stamp says when.
        timestamp=False,
    )
