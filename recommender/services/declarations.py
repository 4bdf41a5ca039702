"""The shift leaders' declared references: declare one, end one, and check one
before the admin's form saves it."""

from django.db import transaction
from django.utils import timezone

from ingestion import selectors as ingestion_selectors
from ingestion.models import ApvMode, Run, RunClass

from ..exceptions import InvalidDeclaration
from ..ml.declarations import RERECO_TYPES
from ..models import DeclaredReference, Recommendation, Reconstruction, ReferencePair, RunReconstruction


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
    from ..training import recommendations_refresh_enqueue

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
        reference, _ = RunReconstruction.objects.get_or_create(run=run, reconstruction=reconstruction)
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
