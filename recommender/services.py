"""Writes of the recommender app.

Certhelper pairs import
-----------------------
`reference_pairs_import` turns parsed Certhelper rows (ingestion.parsers.CerthelperPair)
into labels:
- a bare Run for each run or reference run not in the mirror yet (run_number only);
- a RunReconstruction (run, reconstruction) for both sides; the certified side gets
  the row's dataset (Certhelper is the truth for it, so an emptied dataset is
  emptied here too); the reference side's dataset is left alone;
- one ReferencePair(source=certhelper, is_positive=True) per certified run
  reconstruction (the partial unique constraint is the natural key). If Certhelper
  changed the reference, the pair is updated; `recorded_at` is the import time of
  the first import and is kept afterwards;
- Run.run_class from the dataset name for runs that have no class yet (source
  "dataset"); a class from OMS attributes is never replaced.

A row counts as created (new pair), updated (reference or dataset changed) or
unchanged.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from django.db import IntegrityError, transaction
from django.utils import timezone

from ingestion import selectors as ingestion_selectors
from ingestion.models import ApvMode, Run, RunClass, RunClassSource
from ingestion.parsers import CerthelperPair, parse_certhelper_pairs
from ingestion.run_classes import run_class_from_dataset
from ingestion.services import (
    DEFAULT_BATCH_SIZE,
    FileReport,
    ImportReport,
    UpsertCounts,
    import_job_finish,
    runs_ensure,
    tables_analyze,
)
from jobs.models import JobKind, JobStatus
from jobs.services import Counts, job_fails_on_error, job_finish, job_start

from . import selectors
from .exceptions import DecisionClosed, InvalidDeclaration, InvalidFeedback, ModelArtifactError
from .ml.declarations import RERECO_TYPES
from .models import (
    Decision,
    DeclaredReference,
    Feedback,
    LabelSource,
    ModelVersion,
    Recommendation,
    Reconstruction,
    ReferencePair,
    RunReconstruction,
)
from .pages.shown import shown_references


def _runs_classify_from_datasets(*, run_ids: dict[int, int], rows: Sequence[CerthelperPair]) -> None:
    """Give runs without a class the one their dataset names (first row wins)."""
    by_class: dict[str, set[int]] = {}
    seen: set[int] = set()
    for row in rows:
        run_class = run_class_from_dataset(row.dataset)
        if run_class and row.run_number not in seen:
            seen.add(row.run_number)
            by_class.setdefault(run_class, set()).add(run_ids[row.run_number])
    now = timezone.now()
    for run_class, ids in by_class.items():
        # Conditional update: only runs still without a class, so an OMS class set
        # meanwhile (or earlier) is never overwritten.
        Run.objects.filter(id__in=ids, run_class="").update(
            run_class=run_class, run_class_source=RunClassSource.DATASET, updated_at=now
        )


def _run_reconstructions_ensure(
    *, run_ids: dict[int, int], rows: Sequence[CerthelperPair]
) -> tuple[dict[tuple[int, str], RunReconstruction], dict[int, bool]]:
    """RunReconstructions of both sides of `rows`, keyed (run_id, reconstruction),
    created where missing. Datasets are set on creation; the caller updates them.
    Returns the objects and, per certified-side row index, whether its dataset changed."""
    wanted: dict[tuple[int, str], str | None] = {}
    for row in rows:
        wanted.setdefault((run_ids[row.reference_run_number], row.reference_run_reconstruction_type), None)
    for row in rows:
        wanted[(run_ids[row.run_number], row.run_reconstruction_type)] = row.dataset
    existing = {
        (rr.run_id, rr.reconstruction): rr
        for rr in RunReconstruction.objects.filter(run_id__in={key[0] for key in wanted})
        if (rr.run_id, rr.reconstruction) in wanted
    }
    missing = [
        RunReconstruction(run_id=run_id, reconstruction=reco, dataset=wanted[(run_id, reco)] or "")
        for (run_id, reco) in wanted
        if (run_id, reco) not in existing
    ]
    RunReconstruction.objects.bulk_create(missing)
    created_keys = {(rr.run_id, rr.reconstruction) for rr in missing}
    existing.update({(rr.run_id, rr.reconstruction): rr for rr in missing})
    # Re-read the new rows' ids where the backend did not return them.
    if any(rr.pk is None for rr in missing):
        existing.update(
            {
                (rr.run_id, rr.reconstruction): rr
                for rr in RunReconstruction.objects.filter(run_id__in={k[0] for k in created_keys})
                if (rr.run_id, rr.reconstruction) in created_keys
            }
        )
    dataset_changed: dict[int, bool] = {}
    to_update: dict[int, RunReconstruction] = {}
    for index, row in enumerate(rows):
        key = (run_ids[row.run_number], row.run_reconstruction_type)
        run_reco = existing[key]
        if key not in created_keys and run_reco.dataset != row.dataset:
            run_reco.dataset = row.dataset
            to_update[run_reco.pk] = run_reco
            dataset_changed[index] = True
    if to_update:
        now = timezone.now()
        for run_reco in to_update.values():
            run_reco.updated_at = now
        RunReconstruction.objects.bulk_update(to_update.values(), ["dataset", "updated_at"], batch_size=500)
    return existing, dataset_changed


@transaction.atomic
def reference_pairs_upsert(*, rows: Sequence[CerthelperPair], recorded_at: dt.datetime) -> UpsertCounts:
    """Write one batch of Certhelper pairs in one transaction (see module docstring)."""
    counts = UpsertCounts()
    if not rows:
        return counts
    run_ids = runs_ensure(run_numbers={r.run_number for r in rows} | {r.reference_run_number for r in rows})
    _runs_classify_from_datasets(run_ids=run_ids, rows=rows)
    run_recos, dataset_changed = _run_reconstructions_ensure(run_ids=run_ids, rows=rows)
    pairs = {
        pair.run_reconstruction_id: pair
        for pair in ReferencePair.objects.filter(
            source=LabelSource.CERTHELPER,
            run_reconstruction_id__in={rr.pk for rr in run_recos.values()},
        )
    }
    new: dict[int, ReferencePair] = {}
    changed: dict[int, ReferencePair] = {}
    for index, row in enumerate(rows):
        run_reco = run_recos[(run_ids[row.run_number], row.run_reconstruction_type)]
        reference = run_recos[(run_ids[row.reference_run_number], row.reference_run_reconstruction_type)]
        pair = pairs.get(run_reco.pk) or new.get(run_reco.pk)
        if pair is None:
            new[run_reco.pk] = ReferencePair(
                run_reconstruction=run_reco,
                reference=reference,
                source=LabelSource.CERTHELPER,
                is_positive=True,
                recorded_at=recorded_at,
            )
            counts.created += 1
            continue
        if pair.reference_id != reference.pk or not pair.is_positive:
            pair.reference_id = reference.pk
            pair.is_positive = True
            if run_reco.pk in pairs:
                changed[run_reco.pk] = pair
            counts.updated += 1
        elif dataset_changed.get(index):
            counts.updated += 1
        else:
            counts.unchanged += 1
    ReferencePair.objects.bulk_create(new.values())
    if changed:
        now = timezone.now()
        for pair in changed.values():
            pair.updated_at = now
        ReferencePair.objects.bulk_update(changed.values(), ["reference", "is_positive", "updated_at"], batch_size=500)
    return counts


def reference_pairs_import(
    *,
    rows: Iterable[CerthelperPair],
    recorded_at: dt.datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> UpsertCounts:
    """Write validated Certhelper pairs in batches, each in its own transaction, so
    an interrupted import leaves whole batches. `recorded_at` defaults to now."""
    recorded_at = recorded_at or timezone.now()
    counts = UpsertCounts()
    batch: list[CerthelperPair] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            counts += reference_pairs_upsert(rows=batch, recorded_at=recorded_at)
            if progress:
                progress(len(batch))
            batch = []
    counts += reference_pairs_upsert(rows=batch, recorded_at=recorded_at)
    if progress and batch:
        progress(len(batch))
    return counts


def certhelper_pairs_file_import(
    *,
    path: str | Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Parse a Certhelper export file and import its pairs; record a job
    (kind pairs_import). Valid rows read before a file-level error are imported."""
    path = Path(path)
    job = job_start(kind=JobKind.PAIRS_IMPORT, parameters={"path": str(path)})
    with job_fails_on_error(job.pk):
        report = ImportReport()
        file_report = FileReport(name=path.name, source="certhelper")
        report.files.append(file_report)
        parsed = parse_certhelper_pairs(path)
        for error in parsed.errors:
            file_report.reject(error)
        file_report.failure = parsed.fatal.removeprefix(f"{path.name}: ")
        if progress and parsed.errors:
            progress(len(parsed.errors))
        file_report.add("pair", reference_pairs_import(rows=parsed.rows, batch_size=batch_size, progress=progress))
        import_job_finish(job_id=job.pk, report=report)
        tables_analyze(models=[Run, RunReconstruction, ReferencePair])
    return report


# --- Shifter feedback -----------------------------------------------------------------


def _run_reconstruction_ensure(*, run: Run, reconstruction: str) -> RunReconstruction:
    rr, _ = RunReconstruction.objects.get_or_create(run=run, reconstruction=reconstruction)
    return rr


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
    from .recommending import recommendations_for

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
    among the references the page's signed record `shown` names (recommender.pages.shown)
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
    from .policy import decision_state

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


# --- The shift leaders' declared references --------------------------------------------


def _leader_or_error(user) -> None:
    from accounts.roles import is_shift_leader

    if not is_shift_leader(user):
        raise InvalidDeclaration("only a shift leader or an admin can declare or end a reference")


def _rankings_set_aside(*, after_run: int) -> int:
    """Drop the stored rankings of the undecided run reconstructions from `after_run` on,
    so that no page shows a rank 1 a declaration has just changed: pages rank them in
    memory until the refresh, queued once this commits, stores them again. Decided ones
    keep what their shifter was shown."""
    decided = ReferencePair.objects.filter(is_positive=True).values("run_reconstruction_id")
    deleted, _ = (
        Recommendation.objects.filter(run_reconstruction__run__run_number__gte=after_run)
        .exclude(run_reconstruction_id__in=decided)
        .delete()
    )
    from .training import recommendations_refresh_enqueue

    transaction.on_commit(recommendations_refresh_enqueue)
    return deleted


def declaration_check(
    *, run_number: int, reconstruction: str, run_class: str, from_run: int, apv_mode: str, beam_energy: float | None
) -> Run:
    """The reference run of a declaration as given, or InvalidDeclaration saying what is wrong
    (the admin's form asks this before it saves)."""
    if reconstruction not in Reconstruction.values:
        raise InvalidDeclaration(f"“{reconstruction}” is not a reconstruction type")
    if run_class not in RunClass.values:
        raise InvalidDeclaration(f"“{run_class}” is not a run class")
    if apv_mode and apv_mode not in ApvMode.values:
        raise InvalidDeclaration(f"“{apv_mode}” is not an APV mode (DECO or PEAK)")
    if beam_energy is not None and not beam_energy >= 0:
        raise InvalidDeclaration("the beam energy must be a number of GeV, 0 or more")
    if from_run <= run_number and reconstruction not in RERECO_TYPES:
        raise InvalidDeclaration(
            f"a reference for {reconstruction} runs must be taken before the runs it is for: "
            f"from run {from_run} is not after run {run_number}"
        )
    run = ingestion_selectors.run_get(run_number=run_number)
    if run is None:
        raise InvalidDeclaration(f"run {run_number} is not in RefRun; check the number or ingest it first")
    return run


def declared_reference_declare(
    *,
    user,
    run_number: int,
    reconstruction: str,
    run_class: str,
    from_run: int,
    note: str = "",
    b_field_on: bool | None = None,
    apv_mode: str = "",
    beam: str = "",
    beam_energy: float | None = None,
    period: str = "",
) -> DeclaredReference:
    """A shift leader declares run `run_number` (`reconstruction`) the reference of the
    `run_class` runs of that reconstruction from run `from_run` on, under the conditions
    given (blank: any). It is rank 1 for those runs at once."""
    _leader_or_error(user)
    run = declaration_check(
        run_number=run_number,
        reconstruction=reconstruction,
        run_class=run_class,
        from_run=from_run,
        apv_mode=apv_mode,
        beam_energy=beam_energy,
    )
    with transaction.atomic():
        reference = _run_reconstruction_ensure(run=run, reconstruction=reconstruction)
        declaration = DeclaredReference.objects.create(
            run_reconstruction=reference,
            run_class=run_class,
            reconstruction=reconstruction,
            b_field_on=b_field_on,
            apv_mode=apv_mode,
            beam=beam.strip().upper(),
            beam_energy=beam_energy,
            from_run=from_run,
            note=note.strip(),
            period=period.strip(),
            declared_by=user,
        )
        _rankings_set_aside(after_run=from_run)
    return declaration


def declared_reference_end(*, user, declaration_id: int, until_run: int) -> DeclaredReference:
    """A shift leader ends a declaration: `until_run` is the last run it applies to.
    Nothing is deleted; who ended it and when are kept."""
    _leader_or_error(user)
    with transaction.atomic():
        declaration = DeclaredReference.objects.select_for_update().filter(pk=declaration_id).first()
        if declaration is None:
            raise InvalidDeclaration(f"no declared reference with id {declaration_id}")
        if declaration.until_run is not None:
            raise InvalidDeclaration(f"that declaration already ended with run {declaration.until_run}")
        if until_run < declaration.from_run:
            raise InvalidDeclaration(
                f"it cannot end before it began: run {until_run} is before its first run {declaration.from_run}"
            )
        declaration.until_run, declaration.ended_by, declaration.ended_at = until_run, user, timezone.now()
        declaration.save(update_fields=["until_run", "ended_by", "ended_at", "updated_at"])
        _rankings_set_aside(after_run=until_run + 1)
    return declaration


# --- Stored recommendations ----------------------------------------------------------


def recommendations_store(*, run_number: int, reconstruction: str, limit: int = 5) -> list:
    """Compute the recommendations of a run reconstruction and keep them, with
    the model version that made them, unless that version's are already stored
    as they are computed now. Returns what was computed.

    Only the refresh task and an explicit POST call this: pages and GET APIs read
    what is stored (ranking_reads.recommendations_shown) and never write.
    """
    return _recommendations_store(run_number=run_number, reconstruction=reconstruction, limit=limit)[0]


def _recommendations_store(*, run_number: int, reconstruction: str, limit: int) -> tuple[list, bool]:
    from .recommending import recommendations_for

    results = recommendations_for(run_number=run_number, reconstruction=reconstruction, limit=limit)
    if not results or results[0].model_version_id is None:
        return results, False  # persistence fallback: nothing learned to record
    run = ingestion_selectors.run_get(run_number=run_number)
    version_id = results[0].model_version_id
    wanted = [(r.reference_run_number, r.score) for r in results]
    target = _run_reconstruction_ensure(run=run, reconstruction=reconstruction)
    # Scores too: the runs page shows the stored first choice and score, and the run page
    # the stored ranking; both follow the label history at the next refresh.
    if selectors.recommendations_stored_with_scores(run_reconstruction=target, model_version_id=version_id) == wanted:
        return results, False
    references = ingestion_selectors.run_ids(run_numbers=[r.reference_run_number for r in results])
    with transaction.atomic():
        # The row lock serialises two refreshes of one run reconstruction (PostgreSQL);
        # the unique (run reconstruction, model version, rank) constraint backs it.
        RunReconstruction.objects.select_for_update().filter(pk=target.pk).first()
        Recommendation.objects.filter(run_reconstruction=target, model_version_id=version_id).delete()
        Recommendation.objects.bulk_create(
            Recommendation(
                run_reconstruction=target,
                reference_id=references[r.reference_run_number],
                model_version_id=version_id,
                rank=r.rank,
                score=r.score,
                reasons=[{"feature": x.feature, "description": x.description, "effect": x.effect} for x in r.reasons],
            )
            for r in results
        )
    return results, True


# --- Training as a recorded job ------------------------------------------------------


def model_retrain(*, force: bool = False):
    """Retrain (see training.model_train) as a job of kind training, so shift
    leaders follow it on the jobs page like a sync."""
    from .training import model_train

    job = job_start(kind=JobKind.TRAINING, parameters={"force": force})
    with job_fails_on_error(job.pk):
        result = model_train(force=force)
    version = result.model_version
    if result.status == "trained":
        kept = "activated" if result.activated else "kept as candidate: worse than the active model"
        job_finish(
            job_id=job.pk, status=JobStatus.SUCCEEDED, message=f"model #{version.pk} {kept}", counts=Counts(created=1)
        )
    else:
        job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED, message=f"{result.status}: {result.message}")
    return result


def recommendations_refresh(*, newest_runs: int = 200) -> int:
    """Store the active model's recommendations for the newest runs that still
    await a reference, so the pages show them without computing them: new ones, and
    those the label history changed since they were stored. Returns how many run
    reconstructions got new or changed stored recommendations."""
    version = selectors.model_version_active()
    if version is None:
        return 0
    runs = ingestion_selectors.runs_newest(limit=newest_runs, exclude_run_classes=["", RunClass.SPECIAL])
    labelled = selectors.labelled_keys(run_ids=[run_id for run_id, _ in runs])
    stored_now = 0
    for run_id, run_number in runs:
        for reconstruction in selectors.CERTIFIED_ON_ARRIVAL:
            if (run_id, reconstruction) in labelled:
                continue
            _, written = _recommendations_store(run_number=run_number, reconstruction=reconstruction, limit=5)
            stored_now += written
    return stored_now
