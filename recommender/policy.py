"""The decision policy (SHARED_DECISIONS): who may decide on a run reconstruction now,
and why not. A rule, not a read: services enforce it, the run page shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from .models import Feedback, LabelSource, ReferencePair, RunReconstruction


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
    current = (
        Feedback.objects.filter(run_reconstruction=run_reconstruction, is_current=True)
        .select_related("user", "recommended_reference", "alternative_reference")
        .order_by("-created_at", "-id")
        .first()
    )
    reference = (
        ReferencePair.objects.filter(
            run_reconstruction=run_reconstruction, source=LabelSource.CERTHELPER, is_positive=True
        )
        .values_list("reference__run__run_number", flat=True)
        .first()
    )
    return _decision_state(run_reconstruction=run_reconstruction, current=current, certified_reference=reference)


def decision_state_shown(
    *, run_reconstruction: RunReconstruction, decisions: list[Feedback], labels: list[ReferencePair]
) -> DecisionState:
    """`decision_state` from the decisions and labels the run page reads anyway
    (`decisions_for`, `labels_for`): the same policy without three more queries."""
    current = next((d for d in decisions if d.is_current), None)
    reference = next(
        (
            label.reference.run.run_number
            for label in labels
            if label.source == LabelSource.CERTHELPER and label.is_positive
        ),
        None,
    )
    return _decision_state(run_reconstruction=run_reconstruction, current=current, certified_reference=reference)


def _decision_state(
    *, run_reconstruction: RunReconstruction, current: Feedback | None, certified_reference: int | None
) -> DecisionState:

    certified = certified_reference is not None
    reopened_at = run_reconstruction.reopened_at
    reopened = reopened_at is not None and (current is None or reopened_at > current.created_at)
    change_until = current.created_at + dt.timedelta(hours=settings.DECISION_CHANGE_HOURS) if current else None
    if reopened:
        why = ""
    elif current is not None:
        who = current.user.get_username() if current.user else "a former user"
        why = f"{who} {current.decision} it on {current.created_at:%Y-%m-%d %H:%M} UTC"
    elif certified:
        why = f"certified in Certhelper with reference {certified_reference}"
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
