"""The OMS dump import: recognise the files, stream their records through the
upserts in batches, and report per file what was created, updated, unchanged or
rejected. The report goes to the command's output and to the job record."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from jobs.models import JobKind, JobStatus
from jobs.services import MAX_JOB_ERRORS, Counts, job_fails_on_error, job_finish, job_progress, job_start

from ..models import Fill, Lumisection, Run
from ..parsers import (
    FILL,
    LUMISECTION,
    RUN,
    DumpFileError,
    DumpSource,
    RowError,
    SkippedFile,
    expand_paths,
    recognise_dump,
)
from .tables import tables_analyze
from .upserts import DEFAULT_BATCH_SIZE, fills_upsert, lumisections_upsert, runs_pileup_mean_refresh, runs_upsert

logger = logging.getLogger(__name__)

ERRORS_PRINTED_PER_FILE = 20


@dataclass
class FileReport:
    """What happened to one file: counts per entity, rejected rows, or why it was
    skipped or failed."""

    name: str
    source: str = ""
    counts: dict[str, Counts] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)  # the first MAX_JOB_ERRORS rejected rows
    errors_dropped: int = 0  # rejected rows beyond those, counted only
    failure: str = ""  # the file (or its remainder) could not be read
    skipped_reason: str = ""  # not imported at all: not an importable file

    def add(self, entity: str, counts: Counts) -> None:
        self.counts.setdefault(entity, Counts())
        self.counts[entity] += counts

    def reject(self, error: RowError) -> None:
        # Kept rows are bounded: a file of millions of bad rows must not hold them all in memory.
        if len(self.errors) < MAX_JOB_ERRORS:
            self.errors.append(error)
        else:
            self.errors_dropped += 1

    @property
    def rejected(self) -> int:
        return len(self.errors) + self.errors_dropped

    @property
    def all_rejected(self) -> bool:
        """Rows were read and every one was rejected: nothing of the file is in the mirror."""
        written = sum(c.created + c.updated + c.unchanged for c in self.counts.values())
        return self.rejected > 0 and written == 0 and not self.skipped_reason

    def lines(self, *, max_errors: int = ERRORS_PRINTED_PER_FILE) -> list[str]:
        if self.skipped_reason:
            return [f"{self.name}: skipped, {self.skipped_reason}"]
        label = f"{self.name} [{self.source}]" if self.source else self.name
        parts = [
            f"{entity}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for entity, c in self.counts.items()
        ]
        lines = [f"{label}: {'; '.join(parts) or 'nothing imported'}; {self.rejected} rows skipped"]
        lines += [f"  {error}" for error in self.errors[:max_errors]]
        if self.rejected > max_errors:
            lines.append(f"  ... and {self.rejected - max_errors} more")
        if self.failure:
            lines.append(f"  FAILED: {self.failure}")
        return lines


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)
    job_id: int | None = None

    @property
    def failed(self) -> bool:
        return any(f.failure for f in self.files)

    @property
    def all_rejected(self) -> list[str]:
        """The files of which no row could be imported."""
        return [f.name for f in self.files if f.all_rejected]

    def totals(self) -> tuple[Counts, int]:
        total = Counts()
        for report in self.files:
            for counts in report.counts.values():
                total += counts
        return total, sum(f.rejected for f in self.files)

    def lines(self) -> list[str]:
        lines = [line for report in self.files for line in report.lines()]
        total, skipped = self.totals()
        failed = [f.name for f in self.files if f.failure]
        lines.append(
            f"Total: {total.created} created, {total.updated} updated, {total.unchanged} unchanged, "
            f"{skipped} rows skipped; {len(failed)} files failed" + (f" ({', '.join(failed)})" if failed else "")
        )
        if self.job_id is not None:
            lines.append(f"Ingestion job #{self.job_id}")
        return lines


def import_job_finish(*, job_id: int, report: ImportReport) -> None:
    """Store the report's counts and every rejected row (and file failure) on the job."""
    total, skipped = report.totals()
    errors: list[dict[str, Any]] = []
    for file_report in report.files:
        errors.extend(error.as_dict() for error in file_report.errors)
        if file_report.failure:
            errors.append({"file": file_report.name, "line": None, "reason": file_report.failure})
    job_finish(
        job_id=job_id,
        status=JobStatus.FAILED if report.failed else JobStatus.SUCCEEDED,
        message="\n".join(line for f in report.files for line in f.lines(max_errors=0)),
        counts=Counts(created=total.created, updated=total.updated, unchanged=total.unchanged, skipped=skipped),
        errors=errors,
    )
    report.job_id = job_id


_UPSERTS: dict[str, Callable[..., Counts]] = {
    FILL: lambda rows, source: fills_upsert(rows=rows, source=source),
    RUN: lambda rows, source: runs_upsert(rows=rows, source=source),
    LUMISECTION: lambda rows, source: lumisections_upsert(rows=rows),
}
_ENTITY_ORDER = (FILL, RUN, LUMISECTION)  # parents first within a batch


def _import_dump(
    dump: DumpSource, report: FileReport, *, job_id: int, batch_size: int, progress: Callable[[int], None]
) -> None:
    pending: dict[str, list[dict[str, Any]]] = {entity: [] for entity in _ENTITY_ORDER}
    touched_runs: set[int] = set()

    def flush() -> None:
        # One transaction per batch: a killed process leaves whole batches only.
        with transaction.atomic():
            for entity in _ENTITY_ORDER:
                if pending[entity]:
                    report.add(entity, _UPSERTS[entity](pending[entity], dump.source))
        done = sum(len(rows) for rows in pending.values())
        for rows in pending.values():
            rows.clear()
        # Also the job's heartbeat: an import longer than JOB_STALE_S is alive while batches land.
        job_progress(job_id=job_id, done=done)
        progress(done)

    try:
        for item in dump.read():
            if isinstance(item, RowError):
                report.reject(item)
                progress(1)
                continue
            pending[item.entity].append(item.data)
            if item.entity == LUMISECTION:
                touched_runs.add(item.data["run_number"])
            if len(pending[item.entity]) >= batch_size:
                flush()
    except DumpFileError as exc:
        report.failure = exc.reason
    flush()  # the valid rows read before any damage are imported
    if touched_runs:
        # The aggregate below joins the lumisections just loaded: give the planner their statistics first.
        tables_analyze(models=[Lumisection, Run])
        report.add("run pileup_mean", runs_pileup_mean_refresh(run_numbers=touched_runs))


def oms_dump_import(
    *,
    paths: Sequence[str | Path],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import OMS dump files (or directories of them) into Fill, Run and Lumisection.

    Files are processed in a fixed order (by source rank, then name) whatever the
    order given; a job (kind oms_dump_import) records the outcome.
    """
    progress = progress or (lambda n: None)
    report = ImportReport()
    job = job_start(kind=JobKind.OMS_DUMP_IMPORT, parameters={"paths": [str(p) for p in paths]})
    with job_fails_on_error(job.pk):
        dumps: list[tuple[DumpSource, FileReport]] = []
        for path in expand_paths([Path(p) for p in paths]):
            file_report = FileReport(name=path.name)
            report.files.append(file_report)
            if not path.exists():
                file_report.failure = "no such file"
                continue
            try:
                recognised = recognise_dump(path)
            except DumpFileError as exc:
                file_report.failure = exc.reason
                continue
            if isinstance(recognised, SkippedFile):
                file_report.skipped_reason = recognised.reason
                continue
            file_report.source = recognised.source
            dumps.append((recognised, file_report))
        for dump, file_report in sorted(dumps, key=lambda item: (item[0].rank, item[0].path.name)):
            logger.info("importing %s as %s", dump.path.name, dump.source)
            _import_dump(dump, file_report, job_id=job.pk, batch_size=batch_size, progress=progress)
        import_job_finish(job_id=job.pk, report=report)
        tables_analyze(models=[Fill, Run, Lumisection])
    return report
