"""The model versions and what the shifters' decisions say of them: the active one, the
model page's accuracy by month and first-choice acceptance, and the decisions the
API lists."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from ..models import Decision, Feedback, ModelVersion, ModelVersionStatus, Recommendation, ReferencePair


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()


def model_version_for(*, pk: int | None) -> ModelVersion | None:
    return ModelVersion.objects.filter(pk=pk).first() if pk else None


def model_versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-created_at")


def model_version_is_active(*, pk: int) -> bool:
    return ModelVersion.objects.filter(pk=pk, status=ModelVersionStatus.ACTIVE).exists()


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
