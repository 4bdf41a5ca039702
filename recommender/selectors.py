"""Reads for the shifter's pages and the API."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from ingestion.models import Run
from ingestion.selectors import runs_filtered

from .models import (
    Decision,
    Feedback,
    LabelSource,
    ModelVersion,
    ModelVersionStatus,
    Recommendation,
    Reconstruction,
    ReferencePair,
    RunReconstruction,
)

# The reconstructions a shifter certifies as runs arrive; re-recos come years later.
CERTIFIED_ON_ARRIVAL = (Reconstruction.EXPRESS, Reconstruction.PROMPT)


class Status:
    AWAITING = "awaiting"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CERTIFIED = "certified"

    CHOICES = [
        (AWAITING, "Awaiting a decision"),
        (ACCEPTED, "Accepted in RefRun"),
        (REJECTED, "Rejected in RefRun"),
        (CERTIFIED, "Reference recorded in Certhelper"),
    ]


def _status_filter(status: str, reconstruction: str) -> Q:
    recos = [reconstruction] if reconstruction else list(CERTIFIED_ON_ARRIVAL)
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
    if status == Status.CERTIFIED:
        return Q(Exists(certhelper))
    # Awaiting: no decision and no Certhelper label yet for (one of) the reconstruction(s).
    return ~Q(Exists(feedback)) & ~Q(Exists(certhelper))


def runs_for_certification(
    *,
    run_class: str = "",
    reconstruction: str = "",
    status: str = "",
    run_min: int | None = None,
    run_max: int | None = None,
) -> QuerySet[Run]:
    """Runs newest first, each with its reconstructions, their labels, current
    decisions and latest top recommendation, in a fixed number of queries."""
    labels = ReferencePair.objects.filter(is_positive=True).select_related("reference__run").order_by("-recorded_at")
    decisions = Feedback.objects.filter(is_current=True).select_related("user").order_by("-created_at")
    top = Recommendation.objects.filter(rank=1).select_related("reference").order_by("-created_at")
    reconstructions = RunReconstruction.objects.prefetch_related(
        Prefetch("labels", queryset=labels),
        Prefetch("feedback", queryset=decisions, to_attr="current_feedback"),
        Prefetch("recommendations", queryset=top, to_attr="top_recommendations"),
    )
    runs = runs_filtered(run_class=run_class, run_min=run_min, run_max=run_max)
    if status:
        runs = runs.filter(_status_filter(status, reconstruction))
    elif reconstruction:
        runs = runs.filter(reconstructions__reconstruction=reconstruction)
    return runs.prefetch_related(Prefetch("reconstructions", queryset=reconstructions))


@dataclass(frozen=True)
class RecoRow:
    """What the runs page shows for one reconstruction of a run."""

    reconstruction: str
    status: str
    reference_run_number: int | None
    recommended_run_number: int | None
    confidence: float | None
    decided_by: str


def reco_rows(run: Run) -> list[RecoRow]:
    """Express and prompt always (a new run awaits both), and any other reconstruction it has."""
    by_reco = {rr.reconstruction: rr for rr in run.reconstructions.all()}
    names = list(CERTIFIED_ON_ARRIVAL) + sorted(set(by_reco) - set(CERTIFIED_ON_ARRIVAL))
    rows = []
    for name in names:
        rr = by_reco.get(name)
        decision = rr.current_feedback[0] if rr and rr.current_feedback else None
        label = next(iter(rr.labels.all()), None) if rr else None
        top = rr.top_recommendations[0] if rr and rr.top_recommendations else None
        if decision:
            status = Status.ACCEPTED if decision.decision == Decision.ACCEPTED else Status.REJECTED
        elif label:
            status = Status.CERTIFIED
        else:
            status = Status.AWAITING
        rows.append(
            RecoRow(
                reconstruction=name,
                status=status,
                reference_run_number=label.reference.run.run_number if label else None,
                recommended_run_number=top.reference.run_number if top else None,
                confidence=top.score if top else None,
                decided_by=decision.user.username if decision and decision.user else "",
            )
        )
    return rows


def run_for_page(*, run_number: int) -> Run | None:
    return Run.objects.select_related("fill").filter(run_number=run_number).first()


def run_reconstruction_for_page(*, run: Run, reconstruction: str) -> RunReconstruction | None:
    return RunReconstruction.objects.filter(run=run, reconstruction=reconstruction).first()


def decisions_for(*, run: Run, reconstruction: str) -> list[Feedback]:
    """Every decision on a run reconstruction, newest first: the audit trail."""
    return list(
        Feedback.objects.filter(run_reconstruction__run=run, run_reconstruction__reconstruction=reconstruction)
        .select_related("user", "recommended_reference", "alternative_reference", "model_version")
        .order_by("-created_at")
    )


def labels_for(*, run: Run, reconstruction: str) -> list[ReferencePair]:
    return list(
        ReferencePair.objects.filter(run_reconstruction__run=run, run_reconstruction__reconstruction=reconstruction)
        .select_related("reference__run", "recorded_by")
        .order_by("-recorded_at")
    )


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()


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


# --- Decision policy (SHARED_DECISIONS) ----------------------------------------------


@dataclass(frozen=True)
class DecisionState:
    """Whether a run reconstruction takes a decision now, and why not.

    `is_open`: anyone with a shifter role may decide. Otherwise only the author of
    the current decision may still replace it, until `change_until`.
    """

    is_open: bool
    why_closed: str
    current: Feedback | None
    certified_in_certhelper: bool
    reopened_at: object = None
    reopened_by: object = None
    change_until: object = None

    def open_for(self, user, *, now=None) -> bool:
        from django.utils import timezone

        if self.is_open:
            return True
        now = now or timezone.now()
        return bool(
            self.current is not None
            and user is not None
            and self.current.user_id == user.pk
            and self.change_until is not None
            and now < self.change_until
        )


def decision_state(*, run_reconstruction: RunReconstruction) -> DecisionState:
    """The decision policy: open when there is no positive Certhelper label and no
    current decision, or when a shift leader reopened it after the current decision;
    the author of the current decision may replace it for DECISION_CHANGE_HOURS."""
    import datetime as dt

    from django.conf import settings

    current = (
        Feedback.objects.filter(run_reconstruction=run_reconstruction, is_current=True)
        .select_related("user", "recommended_reference", "alternative_reference")
        .order_by("-created_at", "-id")
        .first()
    )
    certified = ReferencePair.objects.filter(
        run_reconstruction=run_reconstruction, source=LabelSource.CERTHELPER, is_positive=True
    ).exists()
    reopened_at = run_reconstruction.reopened_at
    reopened = reopened_at is not None and (current is None or reopened_at > current.created_at)
    change_until = current.created_at + dt.timedelta(hours=settings.DECISION_CHANGE_HOURS) if current else None
    if reopened:
        why = ""
    elif current is not None:
        who = current.user.get_username() if current.user else "a former user"
        why = f"{who} already decided ({current.decision}, {current.created_at:%Y-%m-%d %H:%M} UTC)"
    elif certified:
        why = "Certhelper already records its reference"
    else:
        why = ""
    return DecisionState(
        is_open=not why,
        why_closed=why,
        current=current,
        certified_in_certhelper=certified,
        reopened_at=reopened_at,
        reopened_by=run_reconstruction.reopened_by if reopened_at else None,
        change_until=change_until,
    )
