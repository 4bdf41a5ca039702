"""The runs the shifters certify: the runs page and the API's run list (filters by
status, one row per reconstruction), the work queue's counts and next run, and the
reads of one run for its page (decisions, labels, DQM datasets, tracker flags)."""

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models import Exists, Q, QuerySet

from ingestion import selectors as ingestion_selectors
from ingestion.models import Run
from ingestion.selectors import runs_filtered

from .. import queue
from ..changes import changes_key
from ..models import (
    Decision,
    Feedback,
    ModelVersionStatus,
    Recommendation,
    Reconstruction,
    ReferencePair,
    RunReconstruction,
)

# The reconstructions a shifter certifies as runs arrive; re-recos come years later.
CERTIFIED_ON_ARRIVAL = (Reconstruction.EXPRESS, Reconstruction.PROMPT)


class Status(models.TextChoices):
    """Where a run reconstruction stands for the shifters: the runs page's status column
    and filter, the API's `status` (the values are the query parameter's)."""

    AWAITING = "awaiting", "Awaiting a decision"
    ACCEPTED = "accepted", "Accepted in RefRun"
    REJECTED = "rejected", "Rejected in RefRun"
    CERTIFIED = "certified", "Reference recorded in Certhelper"
    # Not decided, and not in the work queue either (recommender.queue): a test run,
    # the tracker out, no dataset. Shown on the runs page, not a filter.
    NOT_QUEUED = "not-queued", "Not in the work queue"


# The statuses the runs page and the API filter by.
STATUS_FILTERS = [(status.value, status.label) for status in Status if status != Status.NOT_QUEUED]


def _status_filter(status: str, reconstruction: str) -> Q:
    recos = [reconstruction] if reconstruction else list(CERTIFIED_ON_ARRIVAL)
    if status == Status.AWAITING:
        members = work_queue().members.get(reconstruction)
        if members is not None and len(members) <= QUEUE_IDS_IN_QUERY_MAX:
            return Q(pk__in=members)
        return _awaiting_rule(recos)
    feedback, certhelper = queue.decisions_of_run(recos)
    if status == Status.ACCEPTED:
        return Q(Exists(feedback.filter(decision=Decision.ACCEPTED)))
    if status == Status.REJECTED:
        return Q(Exists(feedback.filter(decision=Decision.REJECTED)))
    return Q(Exists(certhelper))


def _awaiting_rule(recos: list[str]) -> Q:
    # The work queue (recommender.queue): awaiting the reconstruction, or either one.
    awaiting = Q()
    for reco in recos:
        awaiting |= queue.awaiting(reco)
    return awaiting


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
    queued = work_queue().members
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


def runs_awaiting(*, reconstruction: str) -> QuerySet[Run]:
    """The work queue of a reconstruction (or of either, for ""), newest first: the runs
    page's "awaiting" filter and its landing page. The rule is recommender.queue's."""
    return runs_filtered().filter(_status_filter(Status.AWAITING, reconstruction))


AWAITING_CACHE_S = 3600
# Above this many runs the queue is filtered by its rule, not by the ids: a list this
# long stays within every database's limit on query parameters.
QUEUE_IDS_IN_QUERY_MAX = 5000


@dataclass(frozen=True)
class WorkQueue:
    """Every run of the work queue (recommender.queue), by run id: per reconstruction
    certified on arrival, and under "" those awaiting either one."""

    members: dict[str, frozenset[int]]
    runs: int  # every run in the mirror


@dataclass(frozen=True)
class RunListCounts:
    runs: int  # every run in the mirror: the unfiltered runs page's length
    awaiting: dict[str, int]  # reconstruction certified on arrival -> runs in its work queue
    queue: int = 0  # runs awaiting either reconstruction: the landing page's length


def work_queue() -> WorkQueue:
    """The work queue, cached until a run, run reconstruction, label, decision or Run
    Registry state changes (their change counters, one small read) or the queue's
    threshold does. Evaluating the rule walks every run of the mirror: the queue is a
    few dozen of them, so the landing page, its counts and each page's statuses read
    the members instead (BENCHMARKS.md, "Quiet round: before and after issue 22")."""
    changes = changes_key("runs", "run_reconstructions", "labels", "feedback", "tracker_certifications")
    key = f"work-queue:{settings.REFRUN_QUEUE_MIN_LUMISECTIONS}:{changes}"
    return cache.get_or_set(key, _work_queue_compute, AWAITING_CACHE_S)


def _work_queue_compute() -> WorkQueue:
    members = {
        # a set: unordered, PostgreSQL scans the table instead of walking the run-number index
        reco: frozenset(Run.objects.filter(_awaiting_rule([reco])).order_by().values_list("id", flat=True))
        for reco in CERTIFIED_ON_ARRIVAL
    }
    members[""] = frozenset().union(*members.values())
    return WorkQueue(members=members, runs=ingestion_selectors.runs_count())


def run_list_counts() -> RunListCounts:
    """What every runs page counts: its runs, and how many await a decision per
    reconstruction certified on arrival and in either."""
    queued = work_queue()
    return RunListCounts(
        runs=queued.runs,
        awaiting={reco: len(queued.members[reco]) for reco in CERTIFIED_ON_ARRIVAL},
        queue=len(queued.members[""]),
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


# One run, for its page.


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


UNKNOWN_TRACKER_FLAGS = {"pixel": None, "strip": None, "tracking": None}


def tracker_flags_for(run_ids: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """Per run id, the Run Registry's tracker flags (runs it does not know are absent)."""
    return ingestion_selectors.tracker_flags(run_ids=run_ids)


def tracker_certification_for_page(*, run: Run, reconstruction: str):
    """The Run Registry's tracker certification the run page shows (None when unknown)."""
    return ingestion_selectors.tracker_certification_of(run_id=run.pk, reconstruction=reconstruction)
