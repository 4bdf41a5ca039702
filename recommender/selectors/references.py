"""The references page, which replaces the shift leaders' Twiki table (the reference in use
per run class and reconstruction, the declared ones, the timeline of the last months),
and the shift leaders' declared references as the serving cache, the API and the run
page's conditions warning read them."""

import dataclasses
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from ingestion import selectors as ingestion_selectors
from ingestion.models import Run

from ..changes import changes_key
from ..ml.declarations import Conditions, Declaration, conditions_differ
from ..models import DeclaredReference, Reconstruction, ReferencePair, RunReconstruction

TIMELINE_MONTHS = 6


@dataclass(frozen=True)
class ReferenceInUse:
    run_class: str
    reconstruction: str
    reference_run_number: int
    is_current: bool  # persistence's pick: the group's newest label used it
    is_declared: bool  # declared by the shift leaders, in use
    since_run: int | None  # first run of the group's current streak with it (declared: its first run)
    since: object  # datetime of that run's start
    runs_used: int  # runs of the group that used it, all time
    note: str
    declaration_id: int | None  # for the leaders' "edit in admin" link
    dataset: str


@dataclass(frozen=True)
class TimelineSegment:
    reference_run_number: int
    first_run: int
    last_run: int
    runs: int


@dataclass(frozen=True)
class ReferencesOverview:
    in_use: list[ReferenceInUse]
    timeline: dict[tuple[str, str], list[TimelineSegment]]  # (run class, reco) -> segments in run order
    window_start: object  # datetime the timeline starts
    window_end: object
    run_range: tuple[int, int] | None


REFERENCES_CACHE_S = 3600


def references_in_use(*, months: int = TIMELINE_MONTHS) -> ReferencesOverview:
    """Per run class x reconstruction, the reference in use now (the newest label's) and the
    curated active ones, with since when and how often each was used; and which reference
    each group used across the run numbers of the last `months` months of runs.

    Cached until a label, a declaration or a run changes (their change counters
    tell); a recomputation asks the database for the boundaries of each group's
    streaks only (window functions), not for every label."""
    key = f"references-in-use:{months}:{changes_key('labels', 'declarations', 'runs')}"
    return cache.get_or_set(key, lambda: _references_compute(months=months), REFERENCES_CACHE_S)


def _streak_boundaries() -> list[tuple]:
    """(run class, reconstruction, run, run start, reference, reference dataset, position,
    starts a streak, ends a streak) for the first and last label of every streak of one
    reference in a group, in label order (run number, then recording time)."""
    pair, runreco, run = ReferencePair._meta.db_table, RunReconstruction._meta.db_table, Run._meta.db_table
    sql = f"""
        WITH ordered AS (
            SELECT r.run_class AS cls, rr.reconstruction AS reco, r.run_number AS run, r.start_time AS start,
                   ref.run_number AS ref, refrr.dataset AS ref_dataset,
                   ROW_NUMBER() OVER w AS pos,
                   LAG(ref.run_number) OVER w AS prev,
                   LEAD(ref.run_number) OVER w AS next
            FROM {pair} p
            JOIN {runreco} rr ON rr.id = p.run_reconstruction_id
            JOIN {run} r ON r.id = rr.run_id
            JOIN {runreco} refrr ON refrr.id = p.reference_id
            JOIN {run} ref ON ref.id = refrr.run_id
            WHERE p.is_positive = %s
            WINDOW w AS (PARTITION BY r.run_class, rr.reconstruction ORDER BY r.run_number, p.recorded_at, p.id)
        )
        SELECT cls, reco, run, start, ref, ref_dataset, pos,
               CASE WHEN prev IS NULL OR prev <> ref THEN 1 ELSE 0 END,
               CASE WHEN next IS NULL OR next <> ref THEN 1 ELSE 0 END
        FROM ordered
        WHERE prev IS NULL OR next IS NULL OR prev <> ref OR next <> ref
        ORDER BY cls, reco, pos
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [True])
        return cursor.fetchall()


def _references_compute(*, months: int) -> ReferencesOverview:
    # (group) -> [(reference, first run, first start, first position, last run, last start, runs, dataset)]
    streaks: dict[tuple[str, str], list[list]] = defaultdict(list)
    for cls, reco, number, start, ref, ref_dataset, pos, starts, ends in _streak_boundaries():
        if isinstance(start, str):  # SQLite returns raw text for a raw query
            start = dt.datetime.fromisoformat(start)
        if start is not None and timezone.is_naive(start):
            start = timezone.make_aware(start, dt.UTC)
        key = (cls or "", reco)
        if starts:
            streaks[key].append([ref, number, start, pos, number, start, 1, ref_dataset or ""])
        if ends:
            streak = streaks[key][-1]
            streak[4], streak[5], streak[6] = number, start, pos - streak[3] + 1

    newest_start = max((s[5] for group in streaks.values() for s in group if s[5] is not None), default=None)
    window_start = newest_start - dt.timedelta(days=30.44 * months) if newest_start else None
    window_first_run = ingestion_selectors.first_run_since(start_time=window_start) if window_start else None

    declared = list(
        DeclaredReference.objects.filter(until_run__isnull=True)
        .order_by("from_run", "created_at")
        .values_list(
            "pk",
            "run_class",
            "note",
            "from_run",
            "run_reconstruction__reconstruction",
            "run_reconstruction__run__run_number",
            "run_reconstruction__dataset",
        )
    )
    wanted = {group[-1][0] for group in streaks.values()} | {row[5] for row in declared}
    counts = {
        (cls or "", reco, ref): n
        for cls, reco, ref, n in ReferencePair.objects.filter(is_positive=True, reference__run__run_number__in=wanted)
        .values_list(
            "run_reconstruction__run__run_class", "run_reconstruction__reconstruction", "reference__run__run_number"
        )
        .annotate(n=Count("run_reconstruction", distinct=True))
        .order_by()
    }
    in_use: list[ReferenceInUse] = []
    timeline: dict[tuple[str, str], list[TimelineSegment]] = {}
    for key, group in streaks.items():
        ref, first_run, first_start, _, _, _, _, dataset = group[-1]
        in_use.append(
            ReferenceInUse(
                key[0], key[1], ref, True, False, first_run, first_start, counts.get((*key, ref), 0), "", None, dataset
            )
        )
        segments = [
            TimelineSegment(s[0], max(s[1], window_first_run or s[1]), s[4], s[6])
            for s in group
            if window_first_run is None or s[4] >= window_first_run
        ]
        if segments:
            timeline[key] = segments

    by_key = {(u.run_class, u.reconstruction, u.reference_run_number): i for i, u in enumerate(in_use)}
    starts = ingestion_selectors.run_starts(run_numbers={row[3] for row in declared})
    for pk, run_class, note, from_run, reco, ref, dataset in declared:
        key = (run_class, reco, ref)
        if key in by_key:
            current = in_use[by_key[key]]
            in_use[by_key[key]] = dataclasses.replace(current, is_declared=True, note=note or "", declaration_id=pk)
            continue
        by_key[key] = len(in_use)
        in_use.append(
            ReferenceInUse(
                run_class,
                reco,
                ref,
                False,
                True,
                from_run,
                starts.get(from_run),
                counts.get(key, 0),
                note or "",
                pk,
                dataset,
            )
        )
    order = {value: i for i, value in enumerate(Reconstruction.values)}
    in_use.sort(key=lambda u: (u.run_class, order.get(u.reconstruction, 99), not u.is_current, -u.reference_run_number))
    numbers = [n for segments in timeline.values() for s in segments for n in (s.first_run, s.last_run)]
    return ReferencesOverview(
        in_use=in_use,
        timeline=dict(sorted(timeline.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99)))),
        window_start=window_start,
        window_end=newest_start,
        run_range=(min(numbers), max(numbers)) if numbers else None,
    )


def declarations_read() -> list[Declaration]:
    """Every declaration as plain data, for the serving cache (recommender.serving)."""
    rows = DeclaredReference.objects.order_by("pk").values_list(
        "pk",
        "run_reconstruction__run__run_number",
        "run_reconstruction__reconstruction",
        "run_class",
        "reconstruction",
        "b_field_on",
        "apv_mode",
        "beam",
        "beam_energy",
        "from_run",
        "until_run",
        "note",
        "declared_by__username",
        "created_at",
    )
    return [
        Declaration(
            pk=pk,
            reference=reference,
            reference_reconstruction=reference_reconstruction,
            run_class=run_class,
            reconstruction=reconstruction,
            b_field_on=b_field_on,
            apv_mode=apv_mode,
            beam=beam,
            beam_energy=beam_energy,
            from_run=from_run,
            until_run=until_run,
            note=note,
            declared_by=declared_by or "",
            declared_at=declared_at,
        )
        for (
            pk,
            reference,
            reference_reconstruction,
            run_class,
            reconstruction,
            b_field_on,
            apv_mode,
            beam,
            beam_energy,
            from_run,
            until_run,
            note,
            declared_by,
            declared_at,
        ) in rows
    ]


def declared_references(*, run_class: str = "", in_use: bool | None = None) -> QuerySet[DeclaredReference]:
    """The shift leaders' declarations, newest first run first, with who declared and ended them."""
    references = DeclaredReference.objects.select_related("run_reconstruction__run", "declared_by", "ended_by")
    if run_class:
        references = references.filter(run_class=run_class)
    if in_use is not None:
        references = references.filter(until_run__isnull=in_use)
    return references.order_by("-from_run", "-created_at")


def declared_reference_get(*, pk: int) -> DeclaredReference | None:
    return DeclaredReference.objects.select_related("run_reconstruction__run").filter(pk=pk).first()


def conditions_conflicting(*, run: Run, reconstruction: str, reference_run_number: int) -> list[str]:
    """The conditions ("B field", "APV mode", "beam", "beam energy") in which the run
    differs from a reference, for the run page's warning."""
    reference = Run.objects.filter(run_number=reference_run_number).first()
    if reference is None:
        return []
    return conditions_differ(
        _run_conditions(run=run, reconstruction=reconstruction), _run_conditions(run=reference, reconstruction="")
    )


def _run_conditions(*, run: Run, reconstruction: str, run_class: str | None = None) -> Conditions:
    """What a declaration's scope is matched against, from the run's OMS values."""
    return Conditions(
        run_class=run.run_class if run_class is None else run_class,
        reconstruction=reconstruction,
        b_field=math.nan if run.b_field is None else float(run.b_field),
        apv_mode=run.apv_mode or "",
        beam=run.fill_type_runtime or "",
        energy=math.nan if run.energy is None else float(run.energy),
    )
