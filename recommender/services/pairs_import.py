"""Certhelper pairs import.

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

from django.db import transaction
from django.utils import timezone

from ingestion.models import Run, RunClassSource
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
from jobs.models import JobKind
from jobs.services import job_fails_on_error, job_start

from ..models import LabelSource, ReferencePair, RunReconstruction


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
