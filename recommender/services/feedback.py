"""Shifter feedback: a shifter's accept or reject, stored with its labels, and a
shift leader's reopening of a run reconstruction for a new decision."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from ingestion import selectors as ingestion_selectors
from ingestion.models import Run

from .. import selectors
from ..exceptions import DecisionClosed, InvalidFeedback, ModelArtifactError
from ..models import Decision, Feedback, LabelSource, ModelVersion, Reconstruction, ReferencePair, RunReconstruction
from ..shown import shown_references


def _run_reconstruction_ensure(*, run: Run, reconstruction: str) -> RunReconstruction:
    run_reconstruction, _ = RunReconstruction.objects.get_or_create(run=run, reconstruction=reconstruction)
    return run_reconstruction


def _run_or_error(run_number: int, role: str) -> Run:
    run = ingestion_selectors.run_get(run_number=run_number)
    if run is None:
        raise InvalidFeedback(f"{role} run {run_number} is not in RefRun; check the number or ingest it first")
    return run


def _shown_references(*, target: RunReconstruction, model_version_id: int | None, shown: str) -> list[int]:
    """The references RefRun showed for `target` with that model version: those the
    page's signed record `shown` names; without one (an API client), its stored
    ranking (ranks 1-5), or, when none is stored, the ranking computed now, provided
    the same model version (or the no-model fallback) computes it."""
    from ..recommending import recommendations_for

    if shown:
        return shown_references(
            shown,
            run_number=target.run.run_number,
            reconstruction=target.reconstruction,
            model_version_id=model_version_id,
        )
    if model_version_id is not None:
        stored = selectors.recommendations_stored_references(
            run_reconstruction=target, model_version_id=model_version_id
        )
        if stored:
            return stored
        if not selectors.model_version_is_active(pk=model_version_id):
            raise InvalidFeedback(
                "the recommendations changed since the page was shown; reload the page and decide again"
            )
    try:
        results = recommendations_for(run_number=target.run.run_number, reconstruction=target.reconstruction, limit=5)
    except ModelArtifactError as error:
        raise InvalidFeedback(f"the active model cannot be used ({error}); a shift leader should retrain") from None
    if (results[0].model_version_id if results else None) != model_version_id:
        raise InvalidFeedback("the recommendations changed since the page was shown; reload the page and decide again")
    return [r.reference_run_number for r in results]


def _same_decision(feedback: Feedback, **wanted) -> bool:
    return all(getattr(feedback, name) == value for name, value in wanted.items())


def feedback_record(
    *,
    user,
    run_number: int,
    reconstruction: str,
    decision: str,
    recommended_run_number: int,
    alternative_run_number: int | None = None,
    reason: str = "",
    model_version_id: int | None = None,
    shown: str = "",
) -> Feedback:
    """Store a shifter's accept or reject and write it back as training labels.

    Accepting labels (run → recommended). Rejecting labels the recommended
    reference as a negative example and, when the shifter names the reference
    used instead, that one as the positive label.

    Only what RefRun showed can be decided on: `recommended_run_number` must be
    among the references the page's signed record `shown` names (recommender.shown)
    or, without one, among ranks 1-5 of the stored ranking for this run
    reconstruction and `model_version_id` (or of the ranking recomputed when none
    is stored); the
    alternative must be an existing run earlier than the run. The decision policy
    (policy.decision_state) says who may decide: DecisionClosed otherwise.
    The same decision sent again by its author returns the current row unchanged
    (its `recorded_now` is False), so a double click or a race never answers 5xx.
    A replaced decision stays as the audit trail, without labels.
    """
    arguments = {
        "user": user,
        "run_number": run_number,
        "reconstruction": reconstruction,
        "decision": decision,
        "recommended_run_number": recommended_run_number,
        "alternative_run_number": alternative_run_number,
        "reason": reason,
        "model_version_id": model_version_id,
        "shown": shown,
    }
    try:
        return _feedback_record(**arguments)
    except IntegrityError:
        # PostgreSQL: two first decisions raced to create the run reconstruction or
        # the user's current row; the loser finds the winner's row on a second try.
        return _feedback_record(**arguments)


@transaction.atomic
def _feedback_record(
    *,
    user,
    run_number: int,
    reconstruction: str,
    decision: str,
    recommended_run_number: int,
    alternative_run_number: int | None,
    reason: str,
    model_version_id: int | None,
    shown: str,
) -> Feedback:
    from ..policy import decision_state

    if decision not in Decision.values:
        raise InvalidFeedback(f"unknown decision {decision!r}")
    if reconstruction not in Reconstruction.values:
        raise InvalidFeedback(f"unknown reconstruction {reconstruction!r}")
    if decision == Decision.REJECTED and not reason.strip():
        raise InvalidFeedback("a rejection needs a reason")
    if alternative_run_number is not None and decision == Decision.ACCEPTED:
        raise InvalidFeedback("an alternative reference goes with a rejection")
    if alternative_run_number is not None and alternative_run_number == recommended_run_number:
        raise InvalidFeedback("the alternative is the recommended run itself")
    run = _run_or_error(run_number, "the")
    recommended = _run_or_error(recommended_run_number, "the recommended")
    alternative = _run_or_error(alternative_run_number, "the alternative") if alternative_run_number else None
    if alternative is not None and alternative.run_number >= run.run_number:
        raise InvalidFeedback(f"the alternative must be a run earlier than run {run.run_number}")
    model_version = ModelVersion.objects.filter(pk=model_version_id).first() if model_version_id else None
    if model_version_id and model_version is None:
        raise InvalidFeedback("the model version that made these recommendations is gone; reload the page")
    # The row lock serialises all decisions on this run reconstruction (PostgreSQL;
    # SQLite's IMMEDIATE transactions serialise every write), so the policy below
    # sees every earlier decision.
    _run_reconstruction_ensure(run=run, reconstruction=reconstruction)
    target = (
        RunReconstruction.objects.select_for_update().select_related("run").get(run=run, reconstruction=reconstruction)
    )

    state = decision_state(run_reconstruction=target)
    current = state.current
    if (
        current is not None
        and current.user_id == user.pk
        and _same_decision(
            current,
            decision=decision,
            recommended_reference_id=recommended.pk,
            alternative_reference_id=alternative.pk if alternative else None,
            reason=reason.strip(),
        )
    ):
        current.recorded_now = False
        return current
    if not state.open_for(user):
        raise DecisionClosed(
            f"run {run_number} ({reconstruction}) is closed for decisions: {state.why_closed}"
            + ("; your time to change it is over" if current is not None and current.user_id == user.pk else "")
            + ". A shift leader can reopen it"
        )
    if recommended.run_number not in _shown_references(target=target, model_version_id=model_version_id, shown=shown):
        raise InvalidFeedback(
            f"run {recommended.run_number} is not among the references RefRun showed for run {run_number} "
            f"({reconstruction}); reload the page and decide on what it shows"
        )

    # Whoever decided before (the author changing their mind, or anyone before a
    # reopen) keeps the audit row; only the new decision's labels train the model.
    previous = list(Feedback.objects.filter(run_reconstruction=target, is_current=True))
    ReferencePair.objects.filter(feedback__in=previous).delete()
    Feedback.objects.filter(pk__in=[old.pk for old in previous]).update(is_current=False, updated_at=timezone.now())

    feedback = Feedback.objects.create(
        run_reconstruction=target,
        user=user,
        decision=decision,
        recommended_reference=recommended,
        alternative_reference=alternative,
        reason=reason.strip(),
        model_version=model_version,
    )
    feedback.recorded_now = True
    now = timezone.now()
    shared = {
        "run_reconstruction": target,
        "source": LabelSource.SHIFTER,
        "recorded_at": now,
        "recorded_by": user,
        "model_version": model_version,
        "feedback": feedback,
    }
    # A shifter compares like with like: the reference's reconstruction is the run's.
    ReferencePair.objects.create(
        reference=_run_reconstruction_ensure(run=recommended, reconstruction=reconstruction),
        is_positive=decision == Decision.ACCEPTED,
        **shared,
    )
    if alternative is not None:
        ReferencePair.objects.create(
            reference=_run_reconstruction_ensure(run=alternative, reconstruction=reconstruction),
            is_positive=True,
            **shared,
        )
    return feedback


def run_reconstruction_reopen(*, user, run_number: int, reconstruction: str) -> RunReconstruction:
    """A shift leader reopens a run reconstruction for a new decision (the decision
    policy); the current decision stays current until someone decides again."""
    from accounts.roles import is_shift_leader

    if not is_shift_leader(user):
        raise InvalidFeedback("only a shift leader or an admin can reopen a run for decisions")
    run = _run_or_error(run_number, "the")
    with transaction.atomic():
        target = _run_reconstruction_ensure(run=run, reconstruction=reconstruction)
        target.reopened_at, target.reopened_by = timezone.now(), user
        target.save(update_fields=["reopened_at", "reopened_by", "updated_at"])
    return target
