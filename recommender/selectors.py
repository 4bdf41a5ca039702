"""Reads for the shifter's pages and the API."""

import dataclasses
import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from ingestion import selectors as ingestion_selectors
from ingestion.models import LUMISECTION_SECONDS, Run
from ingestion.selectors import runs_filtered

from . import queue
from .ml.dataset import (
    labels_from_rows,
    run_feature_values,
    run_features_from_rows,
    side_by_side_value,
)
from .ml.declarations import Conditions, Declaration, conditions_differ
from .ml.features import SIDE_BY_SIDE
from .models import (
    Decision,
    DeclaredReference,
    Feedback,
    LabelSource,
    ModelVersion,
    ModelVersionStatus,
    Recommendation,
    Reconstruction,
    ReferencePair,
    RunReconstruction,
)
from .results import Reason, RecommendationResult, SideBySide

# The reconstructions a shifter certifies as runs arrive; re-recos come years later.
CERTIFIED_ON_ARRIVAL = (Reconstruction.EXPRESS, Reconstruction.PROMPT)


class Status:
    AWAITING = "awaiting"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CERTIFIED = "certified"
    # Not decided, and not in the work queue either (recommender.queue): a test run,
    # the tracker out, no dataset. Shown on the runs page, not a filter.
    NOT_QUEUED = "not-queued"

    CHOICES = [
        (AWAITING, "Awaiting a decision"),
        (ACCEPTED, "Accepted in RefRun"),
        (REJECTED, "Rejected in RefRun"),
        (CERTIFIED, "Reference recorded in Certhelper"),
    ]


def _status_filter(status: str, reconstruction: str) -> Q:
    recos = [reconstruction] if reconstruction else list(CERTIFIED_ON_ARRIVAL)
    if status == Status.AWAITING:
        # The work queue (recommender.queue): awaiting the reconstruction, or either one.
        awaiting = Q()
        for reco in recos:
            awaiting |= queue.awaiting(reco)
        return awaiting
    feedback = Feedback.objects.filter(
        run_reconstruction__run=OuterRef("pk"), run_reconstruction__reconstruction__in=recos, is_current=True
    )
    certhelper = ReferencePair.objects.filter(
        run_reconstruction__run=OuterRef("pk"),
        run_reconstruction__reconstruction__in=recos,
        source=LabelSource.CERTHELPER,
    )
    if status == Status.ACCEPTED:
        return Q(Exists(feedback.filter(decision=Decision.ACCEPTED)))
    if status == Status.REJECTED:
        return Q(Exists(feedback.filter(decision=Decision.REJECTED)))
    return Q(Exists(certhelper))


def runs_for_certification(
    *,
    run_class: str = "",
    reconstruction: str = "",
    status: str = "",
    run_min: int | None = None,
    run_max: int | None = None,
) -> QuerySet[Run]:
    """Runs newest first, filtered as the runs page and the API ask; `reco_rows_for`
    reads what they show of each page of them."""
    runs = runs_filtered(run_class=run_class, run_min=run_min, run_max=run_max)
    if status:
        runs = runs.filter(_status_filter(status, reconstruction))
    elif reconstruction:
        runs = runs.filter(reconstructions__reconstruction=reconstruction)
    return runs


RUN_LIST_FIELDS = (
    "id",
    "run_number",
    "run_class",
    "fill__fill_number",
    "start_time",
    "duration",
    "last_lumisection_number",
    "b_field",
)


def runs_for_list(**filters) -> QuerySet:
    """`runs_for_certification` as the runs page shows them: one dict per run with
    RUN_LIST_FIELDS, from one query (50 model instances cost a tenth of the page)."""
    return runs_for_certification(**filters).values(*RUN_LIST_FIELDS)


@dataclass(frozen=True)
class RecoRow:
    """What the runs page shows for one reconstruction of a run."""

    reconstruction: str
    status: str
    reference_run_number: int | None
    recommended_run_number: int | None
    confidence: float | None
    decided_by: str


def reco_rows_for(run_ids: Iterable[int]) -> dict[int, list[RecoRow]]:
    """Per run id, express and prompt always and any other reconstruction it has: its
    status (awaiting: in the work queue), label, decision and the active model's stored
    first choice. Six flat queries for a page of runs, whatever its length: a page
    of 50 runs built as model instances through prefetches cost more than the rest
    of the runs page together."""
    run_ids = list(run_ids)
    if not run_ids:
        return {}
    reconstructions = {
        pk: (run_id, reco)
        for pk, run_id, reco in RunReconstruction.objects.filter(run_id__in=run_ids).values_list(
            "id", "run_id", "reconstruction"
        )
    }
    # Newest first, so the first one seen per run reconstruction is the one shown.
    labels: dict[int, int] = {}
    for rr_id, reference in (
        ReferencePair.objects.filter(is_positive=True, run_reconstruction_id__in=reconstructions)
        .order_by("-recorded_at")
        .values_list("run_reconstruction_id", "reference__run__run_number")
    ):
        labels.setdefault(rr_id, reference)
    decisions: dict[int, tuple[str, str]] = {}
    for rr_id, decision, username in (
        Feedback.objects.filter(is_current=True, run_reconstruction_id__in=reconstructions)
        .order_by("-created_at")
        .values_list("run_reconstruction_id", "decision", "user__username")
    ):
        decisions.setdefault(rr_id, (decision, username or ""))
    # Only the active model's stored first choice: the run page shows that one, with that score.
    tops: dict[int, tuple[int, float]] = {}
    for rr_id, reference, score in (
        Recommendation.objects.filter(
            rank=1, model_version__status=ModelVersionStatus.ACTIVE, run_reconstruction_id__in=reconstructions
        )
        .order_by("-created_at")
        .values_list("run_reconstruction_id", "reference__run_number", "score")
    ):
        tops.setdefault(rr_id, (reference, score))
    queued = {
        reco: set(runs_filtered().filter(pk__in=run_ids).filter(queue.awaiting(reco)).values_list("id", flat=True))
        for reco in CERTIFIED_ON_ARRIVAL
    }
    by_run: dict[int, dict[str, int]] = defaultdict(dict)
    for pk, (run_id, reco) in reconstructions.items():
        by_run[run_id][reco] = pk
    rows: dict[int, list[RecoRow]] = {}
    for run_id in run_ids:
        by_reco = by_run.get(run_id, {})
        names = list(CERTIFIED_ON_ARRIVAL) + sorted(set(by_reco) - set(CERTIFIED_ON_ARRIVAL))
        rows[run_id] = []
        for name in names:
            rr_id = by_reco.get(name)
            decision, label, top = decisions.get(rr_id), labels.get(rr_id), tops.get(rr_id)
            if decision:
                status = Status.ACCEPTED if decision[0] == Decision.ACCEPTED else Status.REJECTED
            elif label:
                status = Status.CERTIFIED
            elif name in queued and run_id not in queued[name]:
                status = Status.NOT_QUEUED
            else:
                status = Status.AWAITING
            rows[run_id].append(
                RecoRow(
                    reconstruction=name,
                    status=status,
                    reference_run_number=label,
                    recommended_run_number=top[0] if top else None,
                    confidence=top[1] if top else None,
                    decided_by=decision[1] if decision else "",
                )
            )
    return rows


def run_for_page(*, run_number: int) -> Run | None:
    return ingestion_selectors.run_for_page(run_number=run_number)


def run_reconstruction_for_page(*, run: Run, reconstruction: str) -> RunReconstruction | None:
    return RunReconstruction.objects.filter(run=run, reconstruction=reconstruction).first()


def decisions_for(*, run_reconstruction: RunReconstruction | None) -> list[Feedback]:
    """Every decision on a run reconstruction, newest first: the audit trail (none
    for a run reconstruction RefRun does not have yet, without a query)."""
    if run_reconstruction is None:
        return []
    return list(
        Feedback.objects.filter(run_reconstruction_id=run_reconstruction.pk)
        .select_related("user", "recommended_reference", "alternative_reference")
        .order_by("-created_at", "-id")
    )


def labels_for(*, run_reconstruction: RunReconstruction | None) -> list[ReferencePair]:
    if run_reconstruction is None:
        return []
    return list(
        ReferencePair.objects.filter(run_reconstruction_id=run_reconstruction.pk)
        .select_related("reference__run", "recorded_by")
        .order_by("-recorded_at")
    )


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()


def model_version_for(*, pk: int | None) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=pk).first() if pk else None


def model_versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-created_at")


@dataclass(frozen=True)
class MonthlyAccuracy:
    month: str
    n: int
    top1: float


def model_accuracy_by_month(*, months: int = 12) -> list[MonthlyAccuracy]:
    """How often the stored first choice equals the reference finally used, by month of the run.

    Only run reconstructions that have both a stored recommendation and a
    positive label count; the newest recommendation of each is the one judged.
    """
    first_choices = (
        Recommendation.objects.filter(rank=1)
        .order_by("run_reconstruction_id", "-created_at")
        .values_list("run_reconstruction_id", "reference__run_number", "run_reconstruction__run__start_time")
    )
    newest: dict[int, tuple[int, object]] = {}
    for rr_id, reference, start in first_choices:
        newest.setdefault(rr_id, (reference, start))
    used = dict(
        ReferencePair.objects.filter(is_positive=True, run_reconstruction_id__in=newest)
        .order_by("run_reconstruction_id", "recorded_at")
        .values_list("run_reconstruction_id", "reference__run__run_number")
    )
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for rr_id, (reference, start) in newest.items():
        if rr_id in used and start is not None:
            month = start.strftime("%Y-%m")
            tally[month][0] += 1
            tally[month][1] += int(used[rr_id] == reference)
    recent = sorted(tally)[-months:]
    return [MonthlyAccuracy(m, tally[m][0], tally[m][1] / tally[m][0]) for m in recent]


@dataclass(frozen=True)
class AcceptanceRate:
    decisions: int
    accepted: int

    @property
    def rate(self) -> float | None:
        return self.accepted / self.decisions if self.decisions else None


def first_choice_acceptance(*, model_version: ModelVersion | None = None) -> AcceptanceRate:
    """Current decisions on a recommendation, and how many accepted the first choice."""
    decisions = Feedback.objects.filter(is_current=True)
    if model_version is not None:
        decisions = decisions.filter(model_version=model_version)
    return AcceptanceRate(decisions.count(), decisions.filter(decision=Decision.ACCEPTED).count())


def runs_awaiting(*, reconstruction: str) -> QuerySet[Run]:
    """The work queue of a reconstruction (or of either, for ""), newest first: the runs
    page's "awaiting" filter and its landing page. The rule is recommender.queue's."""
    return runs_filtered().filter(_status_filter(Status.AWAITING, reconstruction))


AWAITING_CACHE_S = 3600


@dataclass(frozen=True)
class RunListCounts:
    runs: int  # every run in the mirror: the unfiltered runs page's length
    awaiting: dict[str, int]  # reconstruction certified on arrival -> runs in its work queue
    queue: int = 0  # runs awaiting either reconstruction: the landing page's length


def run_list_counts() -> RunListCounts:
    """What every runs page counts: its runs, and how many await a decision per
    reconstruction certified on arrival and in either (the work queue,
    recommender.queue). Counting took a third of the page (20 ms with 11,000 runs),
    so they are cached until a run, run reconstruction, label or decision changes
    (their change counters, one small read) or the queue's threshold does."""

    changes = changes_key("runs", "run_reconstructions", "labels", "feedback")
    key = f"run-list-counts:{settings.REFRUN_QUEUE_MIN_LUMISECTIONS}:{changes}"
    return cache.get_or_set(key, _run_list_count, AWAITING_CACHE_S)


def _run_list_count() -> RunListCounts:
    return RunListCounts(
        runs=ingestion_selectors.runs_count(),
        awaiting={reco: runs_awaiting(reconstruction=reco).count() for reco in CERTIFIED_ON_ARRIVAL},
        queue=runs_awaiting(reconstruction="").count(),
    )


def next_awaiting_run(*, reconstruction: str, after_run_number: int) -> int | None:
    """The run a shifter goes on to after deciding one: the first run of the
    reconstruction's work queue in its order, newest first, so a run synced since
    the shifter started comes before the older ones still waiting."""
    return (
        runs_awaiting(reconstruction=reconstruction)
        .exclude(run_number=after_run_number)
        .values_list("run_number", flat=True)
        .first()
    )


def _year_of(era: str) -> str:
    found = re.search(r"(20\d\d)", era or "")
    return found.group(1) if found else ""


def run_conditions_known(run: Run) -> bool:
    """False for a run RefRun knows only from Certhelper: no OMS start, duration, field or fill."""
    return any(value is not None for value in (run.start_time, run.duration, run.b_field, run.fill_id))


def datasets_for(*, run_numbers: list[int], reconstruction: str) -> dict[int, str]:
    """The DQM dataset of each run's reconstruction: the one Certhelper named, else (a run
    not certified yet) the dataset of the newest earlier run of the same class, era and
    reconstruction, which is the dataset name the DQM GUI files the run under."""
    known = dict(
        RunReconstruction.objects.filter(run__run_number__in=run_numbers, reconstruction=reconstruction)
        .exclude(dataset__in=["", "To Be Defined"])
        .values_list("run__run_number", "dataset")
    )
    missing = [n for n in run_numbers if n not in known]
    if not missing:
        return known
    named = RunReconstruction.objects.filter(reconstruction=reconstruction).exclude(dataset__in=["", "To Be Defined"])
    for number, run_class, era, start in ingestion_selectors.run_conditions(run_numbers=missing):
        year = str(start.year) if start else _year_of(era)
        # The newest earlier run of the class with a dataset, one index walk back from the
        # run each: the same era first; else the same year (cosmics datasets are named by
        # year: Cosmics2024). Grouping every dataset of the class cost half the run page.
        earlier = named.filter(run__run_class=run_class, run__run_number__lte=number).order_by("-run__run_number")
        match = earlier.filter(run__era=era).values_list("dataset", flat=True).first() if era else None
        if match is None and year:
            match = next(
                (
                    ds
                    for e, ds in earlier.filter(run__era__contains=year).values_list("run__era", "dataset")[:50]
                    if _year_of(e) == year
                ),
                None,
            )
        if match:
            known[number] = match
    return known


# --- The references page: what replaces the shift leaders' Twiki table ---------------------

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


def changes_key(*names: str) -> str:
    """A cache key that changes whenever one of these change counters does
    (recommender.changes: a trigger rewrites them on every write to their tables)."""
    from .changes import change_counters

    counters = change_counters()
    return "|".join(str(counters.get(name)) for name in names)


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
    first_use: dict[tuple[str, str, int], tuple[int, object]] = {}
    for key, group in streaks.items():
        for streak in group:
            first_use.setdefault((*key, streak[0]), (streak[1], streak[2]))

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


# --- The recommender's frames, read from the database ----------------------------------


UNKNOWN_TRACKER_FLAGS = {"pixel": None, "strip": None, "tracking": None}


def tracker_flags_for(run_ids: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """Per run id, the Run Registry's tracker flags (runs it does not know are absent)."""
    return ingestion_selectors.tracker_flags(run_ids=run_ids)


def tracker_certification_for_page(*, run: Run, reconstruction: str):
    """The Run Registry's tracker certification the run page shows (None when unknown)."""
    return ingestion_selectors.tracker_certification_of(run_id=run.pk, reconstruction=reconstruction)


def run_features_frame(*, run_numbers: Iterable[int] | None = None) -> pd.DataFrame:
    """Run features from the OMS mirror in one query (runs joined with their fill), with
    the Run Registry's certified-good lumisections."""
    rows = ingestion_selectors.run_feature_rows(run_numbers=run_numbers)
    frame = run_features_from_rows(
        rows, list(ingestion_selectors.RUN_FEATURE_FIELDS), lumisection_seconds=LUMISECTION_SECONDS
    )
    # Certified-good lumisections from the Run Registry; the certification masks, where
    # REFRUN_DATA has them, replace these for the runs they cover (ml.certification).
    good = ingestion_selectors.good_lumisections_by_run(run_numbers=run_numbers)
    if good:
        frame["good_ls"] = frame.index.map(good).astype(float)
    return frame


_LABEL_FIELDS = (
    "run_reconstruction__run__run_number",
    "run_reconstruction__reconstruction",
    "reference__run__run_number",
    "reference__reconstruction",
    "run_reconstruction__dataset",
    "run_reconstruction__run__run_class",
    "is_positive",
    "source",
    "id",
    "recorded_at",
    "run_reconstruction_id",
    "reference_id",
)


def labels_frame() -> pd.DataFrame:
    """Labels from the database (Certhelper and shifter feedback), in one query."""
    return labels_read()[0]


def labels_read(*, after_id: int = 0) -> tuple[pd.DataFrame, tuple[int, ...], int]:
    """The labels with a row id above `after_id` (all by default): their frame, their
    fingerprint (`labels_fingerprint` of just these rows) and their highest row id."""
    rows = list(ReferencePair.objects.filter(id__gt=after_id).values_list(*_LABEL_FIELDS))
    return labels_from_rows(rows), _rows_fingerprint(rows), max((row[8] for row in rows), default=after_id)


def _rows_fingerprint(rows: list[tuple]) -> tuple[int, ...]:
    """`labels_fingerprint` of these rows (of _LABEL_FIELDS), in the order of _FINGERPRINT."""
    return (
        len(rows),
        sum(row[8] for row in rows),
        sum(row[8] * row[11] for row in rows),
        sum(row[8] * row[10] for row in rows),
        sum(row[8] for row in rows if row[6]),
        sum(row[8] for row in rows if row[7] == LabelSource.SHIFTER),
    )


def _product(a: str, b: str):
    return ExpressionWrapper(F(a) * F(b), output_field=BigIntegerField())


# Sums over the rows that change when a row is added, removed, or moved to another
# reference, run reconstruction, sign or source (weighted by the row id, so that two
# rows swapping references change them too).
_FINGERPRINT = {
    "n": Count("id"),
    "ids": Sum("id"),
    "references": Sum(_product("id", "reference_id")),
    "run_reconstructions": Sum(_product("id", "run_reconstruction_id")),
    "positive": Sum(Case(When(is_positive=True, then=F("id")), default=Value(0), output_field=BigIntegerField())),
    "shifter": Sum(
        Case(When(source=LabelSource.SHIFTER, then=F("id")), default=Value(0), output_field=BigIntegerField())
    ),
}


def labels_fingerprint() -> tuple[int, ...]:
    """The label table's fingerprint in one aggregate (no join): the serving cache
    checks that it equals that of the labels it holds plus those it has just read,
    i.e. that no label was removed or changed in place."""
    sums = ReferencePair.objects.aggregate(**_FINGERPRINT)
    return tuple(int(sums[name] or 0) for name in _FINGERPRINT)


def run_reconstruction_dataset(*, run_number: int, reconstruction: str) -> str | None:
    return (
        RunReconstruction.objects.filter(run__run_number=run_number, reconstruction=reconstruction)
        .values_list("dataset", flat=True)
        .first()
    )


def side_by_side_for(*, run_number: int, reference_run_numbers: list[int]) -> dict[int, list[SideBySide]]:
    """Per reference, the run's and the reference's values of the side-by-side quantities,
    as `recommendations_for` gives them, from one query for all of them (no data frame:
    building one for six runs cost more than the rest of the run page's reads)."""
    if not reference_run_numbers:
        return {}
    rows = ingestion_selectors.run_feature_rows(run_numbers={run_number, *reference_run_numbers})
    values = run_feature_values(
        rows, list(ingestion_selectors.RUN_FEATURE_FIELDS), lumisection_seconds=LUMISECTION_SECONDS
    )
    missing: dict[str, object] = {}

    def shown(run: int, name: str):
        return side_by_side_value(values.get(run, missing).get(name))

    return {
        reference: [
            SideBySide(name, label, shown(run_number, name), shown(reference, name)) for name, label in SIDE_BY_SIDE
        ]
        for reference in reference_run_numbers
    }


def recommendations_stored(
    *, run_number: int, reconstruction: str, model_version: ModelVersion | None, limit: int = 5
) -> list[RecommendationResult]:
    """The stored ranking of `model_version` for a run reconstruction, best first, as
    `recommending.recommendations_for` returns it; [] when none is stored."""
    if model_version is None:
        return []
    stored = list(
        Recommendation.objects.filter(
            run_reconstruction__run__run_number=run_number,
            run_reconstruction__reconstruction=reconstruction,
            model_version=model_version,
            rank__lte=limit,
        )
        .order_by("rank")
        .values_list("reference__run_number", "rank", "score", "reasons")
    )
    if not stored:
        return []
    side_by_side = side_by_side_for(run_number=run_number, reference_run_numbers=[row[0] for row in stored])
    return [
        RecommendationResult(
            reference_run_number=reference,
            rank=rank,
            score=score,
            reasons=[Reason(r["feature"], r["description"], r["effect"]) for r in reasons or []],
            side_by_side=side_by_side[reference],
            model_version_id=model_version.pk,
        )
        for reference, rank, score, reasons in stored
    ]


def recommendations_stored_references(*, run_reconstruction: RunReconstruction, model_version_id: int) -> list[int]:
    """The references of ranks 1-5 stored for a run reconstruction by one model version."""
    return list(
        Recommendation.objects.filter(
            run_reconstruction=run_reconstruction, model_version_id=model_version_id, rank__lte=5
        )
        .order_by("rank")
        .values_list("reference__run_number", flat=True)
    )


def recommendations_stored_keys(*, model_version: ModelVersion, run_ids: list[int]) -> set[tuple[int, str]]:
    """(run id, reconstruction) of the run reconstructions with a stored ranking of `model_version`."""
    return set(
        Recommendation.objects.filter(model_version=model_version, run_reconstruction__run_id__in=run_ids).values_list(
            "run_reconstruction__run_id", "run_reconstruction__reconstruction"
        )
    )


def recommendations_stored_with_scores(*, run_reconstruction: RunReconstruction, model_version_id: int) -> list:
    """(reference run number, score) of a stored ranking, best first."""
    return list(
        Recommendation.objects.filter(run_reconstruction=run_reconstruction, model_version_id=model_version_id)
        .order_by("rank")
        .values_list("reference__run_number", "score")
    )


def labelled_keys(*, run_ids: list[int]) -> set[tuple[int, str]]:
    """(run id, reconstruction) of the run reconstructions with a positive label."""
    return set(
        ReferencePair.objects.filter(is_positive=True, run_reconstruction__run_id__in=run_ids).values_list(
            "run_reconstruction__run_id", "run_reconstruction__reconstruction"
        )
    )


def model_version_is_active(*, pk: int) -> bool:
    return ModelVersion.objects.filter(pk=pk, status=ModelVersionStatus.ACTIVE).exists()


def feedback_list() -> QuerySet[Feedback]:
    """Every decision, newest first, with what the API shows of each."""
    return Feedback.objects.select_related(
        "run_reconstruction__run", "user", "recommended_reference", "alternative_reference"
    ).order_by("-created_at")


def feedback_get(*, pk: int) -> Feedback | None:
    return (
        Feedback.objects.select_related(
            "run_reconstruction__run", "user", "recommended_reference", "alternative_reference"
        )
        .filter(pk=pk)
        .first()
    )


# --- The shift leaders' declared references --------------------------------------------


def declarations_read() -> list[Declaration]:
    """Every declaration as plain data, for the serving cache (recommender.recommending)."""
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
        run_conditions(run=run, reconstruction=reconstruction), run_conditions(run=reference, reconstruction="")
    )


def run_conditions(*, run: Run, reconstruction: str, run_class: str | None = None) -> Conditions:
    """What a declaration's scope is matched against, from the run's OMS values."""
    return Conditions(
        run_class=run.run_class if run_class is None else run_class,
        reconstruction=reconstruction,
        b_field=math.nan if run.b_field is None else float(run.b_field),
        apv_mode=run.apv_mode or "",
        beam=run.fill_type_runtime or "",
        energy=math.nan if run.energy is None else float(run.energy),
    )
