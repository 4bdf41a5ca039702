"""The OMS sync: runs with their fills and lumisections, incremental or a backfill.

OMS, the path data takes:
    range of run numbers -> chunks aligned on multiples of OMS_SYNC_CHUNK_RUNS
    -> claim a chunk (conditional update, expiring) -> runs of the chunk from OMS
    -> their fills (upserted first) -> per run: lumisections from OMS, then the
    run and its lumisections in ONE transaction, which also extends the claim.

So a run is never half-written: a fault while fetching its lumisections, a
malformed row or an unknown unit rejects the whole run (logged, and recorded in
the job's errors) before anything of it is written; a killed worker leaves only
whole runs behind and its claim expires, so another worker re-does the chunk.
Upserts are on natural keys, so re-doing a chunk changes nothing that was done.

Incremental sync remembers the newest run fully ingested (SyncState "oms_runs")
and fetches everything after it, plus a look-back window of run numbers for
runs that were still open (no end_time) or failed last time.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min

from jobs.models import Job, JobKind, JobStatus
from jobs.services import Counts, JobNotFound, job_fails_on_error, job_finish, job_progress, job_start, jobs_stale_fail

from ..clients import OmsClient, OmsError, OmsRow, OmsTransientError
from ..models import ChunkStatus, Run, SyncChunk, SyncState
from ..parsers.common import RowInvalid
from ..parsers.oms import fill_data, lumisection_data, run_data
from ..sources import NO_SOURCES, RunSources, sources_from_directory
from .chunks import ChunkBusy, ClaimLost, SyncRefused, chunk_claim, chunk_ranges, claim_extend, claim_release, claim_ttl
from .precedence import SOURCE_OMS_API
from .upserts import fills_upsert, lumisections_upsert, runs_pileup_mean_refresh, runs_upsert

logger = logging.getLogger(__name__)

OMS_RUNS = "oms_runs"
# Runs whose lumisections the prefetch thread may hold ready. Enough to keep it
# fetching while the writer flushes a batch (3 left it blocked: BENCHMARKS.md,
# "Ingestion"); bounded, as each run holds all its rows.
PREFETCH_RUNS = 20


@dataclass
class ChunkOutcome:
    first_run: int
    last_run: int
    status: str  # "done", "already_done", "held"
    runs_written: list[int] = field(default_factory=list)
    runs_failed: list[int] = field(default_factory=list)
    runs_open: list[int] = field(default_factory=list)
    lumisections: int = 0
    counts: Counts = field(default_factory=Counts)


def _job_of_sync(*, parameters: dict[str, Any], job_id: int | None) -> Job:
    """The job record of a sync: the given one (queued by a command) or a new one
    (JobAlreadyRunning when a sync is running: one at a time)."""
    try:
        return job_start(kind=JobKind.OMS_SYNC, parameters=parameters, job_id=job_id)
    except JobNotFound as exc:
        raise SyncRefused(str(exc)) from exc


def _row_error(*, run_number: int | None, reason: str) -> dict[str, Any]:
    """A rejected OMS row in the job's error list (file/line/reason, as the dump imports)."""
    return {"file": SOURCE_OMS_API, "line": run_number or 0, "reason": reason}


def _parse_fills(rows: Iterable[OmsRow], errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parsed = []
    for row in rows:
        try:
            parsed.append(fill_data(row.attributes, row.units))
        except RowInvalid as exc:
            errors.append(_row_error(run_number=None, reason=f"fill {row.attributes.get('fill_number')}: {exc}"))
    return parsed


def _lumisections_of(client: OmsClient, run_number: int) -> list[dict[str, Any]]:
    """All lumisections of a run, parsed; raises RowInvalid for the first bad row."""
    rows = []
    for row in client.lumisections(run_number):
        data = lumisection_data(row.attributes, row.units)
        if data["run_number"] != run_number:
            raise RowInvalid(f"lumisection {data['number']} belongs to run {data['run_number']}")
        rows.append(data)
    numbers = [r["number"] for r in rows]
    if len(set(numbers)) != len(numbers):
        raise RowInvalid("duplicate lumisection numbers")
    return rows


def _enrich(run_numbers: list[int], sources: RunSources) -> None:
    """APV mode and PV mean from their sources, for the runs a source knows. Each
    is written under the source's own name, so the run-attribute precedence in
    ingestion.services (and an admin's correction) decides what is kept."""
    apv_source, pv_source = sources
    if apv_source is not None:
        modes = apv_source.apv_modes(run_numbers)
        rows = [{"run_number": n, "apv_mode": mode} for n, mode in modes.items()]
        if rows:
            runs_upsert(rows=rows, source=apv_source.source_name)
    if pv_source is not None:
        means = pv_source.pv_means(run_numbers)
        rows = [{"run_number": n, "pv_mean": mean} for n, mean in means.items()]
        if rows:
            runs_upsert(rows=rows, source=pv_source.source_name)


def default_sources() -> RunSources:
    return sources_from_directory(settings.REFRUN_DATA)


def _lumisections_or_error(client: OmsClient, run_row: dict[str, Any]) -> list[dict[str, Any]] | Exception:
    """A run's parsed lumisections, or the (non-transient) error that rejects the run.
    Transient errors propagate: OMS is down, the chunk is retried later."""
    try:
        return _lumisections_of(client, run_row["run_number"])
    except OmsTransientError:
        raise
    except (RowInvalid, OmsError) as exc:
        return exc


def _prefetched(items: list[Any], fetch: Callable[[Any], Any], *, depth: int = 3) -> Iterator[tuple[Any, Any]]:
    """(item, fetch(item)) in order, fetched by one helper thread up to `depth`
    items ahead, so waiting for OMS overlaps with writing to the database. The
    thread only does HTTP and parsing (no database access); an exception it
    raises comes out here, at the item that raised it."""
    if len(items) <= 1:
        for item in items:
            yield item, fetch(item)
        return
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        for item in items:
            if stop.is_set():
                return
            try:
                outcome: tuple[str, Any] = ("ok", fetch(item))
            except BaseException as exc:  # handed to the consumer, which re-raises it
                outcome = ("raised", exc)
            while not stop.is_set():
                try:
                    results.put((item, *outcome), timeout=0.5)
                    break
                except queue.Full:
                    continue
            if outcome[0] == "raised":
                return

    thread = threading.Thread(target=produce, name="oms-prefetch", daemon=True)
    thread.start()
    try:
        for _ in items:
            item, kind, value = results.get()
            if kind == "raised":
                raise value
            yield item, value
    finally:
        stop.set()
        thread.join(timeout=60)


class _WriteBatch:
    """Whole runs (a run and all its lumisections) written several per transaction.

    A transaction holds whole runs only, so "never a half-written run" holds, and
    a batch saves the per-query cost of writing runs one by one. The claim is
    extended in the same transaction: a worker that lost its claim writes nothing.
    """

    def __init__(self, *, chunk: SyncChunk, token: str, outcome: ChunkOutcome, on_run: Callable[[int], None] | None):
        self.chunk, self.token, self.outcome, self.on_run = chunk, token, outcome, on_run
        self.max_lumisections = settings.OMS_SYNC_WRITE_BATCH_LS
        self.max_runs = 50
        self.runs: list[dict[str, Any]] = []
        self.lumisections: list[dict[str, Any]] = []

    def add(self, run_row: dict[str, Any], lumisections: list[dict[str, Any]]) -> None:
        self.runs.append(run_row)
        self.lumisections.extend(lumisections)
        if len(self.lumisections) >= self.max_lumisections or len(self.runs) >= self.max_runs:
            self.flush()

    def flush(self) -> None:
        if not self.runs:
            return
        outcome = self.outcome
        with transaction.atomic():
            outcome.counts += runs_upsert(rows=self.runs, source=SOURCE_OMS_API)
            if self.lumisections:
                outcome.counts += lumisections_upsert(rows=self.lumisections)
                # Derived from the lumisections just written; not counted as rows.
                runs_pileup_mean_refresh(run_numbers={ls["run_number"] for ls in self.lumisections})
            claim_extend(self.chunk, self.token, runs_done=len(self.runs))
        outcome.lumisections += len(self.lumisections)
        for run_row in self.runs:
            number = run_row["run_number"]
            outcome.runs_written.append(number)
            if run_row.get("end_time") is None:
                outcome.runs_open.append(number)
            if self.on_run is not None:
                self.on_run(number)
        self.runs, self.lumisections = [], []


def runs_chunk_sync(
    *,
    first_run: int,
    last_run: int,
    job_id: int | None = None,
    client: OmsClient | None = None,
    sources: RunSources = NO_SOURCES,
    on_run: Callable[[int], None] | None = None,
) -> ChunkOutcome:
    """Sync the runs in [first_run, last_run] under a claim. See the module docstring.

    Raises ChunkBusy (another worker holds it), OmsTransientError (OMS is down;
    the chunk is released for a retry) or OmsError.
    """
    claim = chunk_claim(kind=OMS_RUNS, first_run=first_run, last_run=last_run, job_id=job_id)
    if claim is None:
        return ChunkOutcome(first_run, last_run, status="already_done")
    chunk, token = claim
    client = client or OmsClient.from_settings()
    outcome = ChunkOutcome(first_run, last_run, status="done")
    errors: list[dict[str, Any]] = []
    try:
        run_rows: list[dict[str, Any]] = []
        for row in client.runs(run_from=first_run, run_to=last_run):
            try:
                run_rows.append(run_data(row.attributes, row.units))
            except RowInvalid as exc:
                number = row.attributes.get("run_number")
                errors.append(_row_error(run_number=number if isinstance(number, int) else None, reason=str(exc)))
                if isinstance(number, int):
                    outcome.runs_failed.append(number)
                logger.error("OMS run %s rejected: %s", number, exc)
        run_rows = [r for r in run_rows if first_run <= r["run_number"] <= last_run]

        fill_numbers = sorted({r["fill_number"] for r in run_rows if r.get("fill_number")})
        if fill_numbers:
            fills = [
                f
                for f in _parse_fills(client.fills(fill_from=fill_numbers[0], fill_to=fill_numbers[-1]), errors)
                if f["fill_number"] in set(fill_numbers)
            ]
            if fills:
                with transaction.atomic():
                    outcome.counts += fills_upsert(rows=fills, source=SOURCE_OMS_API)
                    claim_extend(chunk, token)

        batch = _WriteBatch(chunk=chunk, token=token, outcome=outcome, on_run=on_run)
        try:
            for run_row, lumisections in _prefetched(
                run_rows, lambda r: _lumisections_or_error(client, r), depth=PREFETCH_RUNS
            ):
                number = run_row["run_number"]
                if isinstance(lumisections, Exception):
                    errors.append(_row_error(run_number=number, reason=f"run {number} lumisections: {lumisections}"))
                    outcome.runs_failed.append(number)
                    logger.error("OMS run %s not written: its lumisections were rejected: %s", number, lumisections)
                    continue
                batch.add(run_row, lumisections)
        except OmsError:
            # OMS went down: keep the whole runs fetched before it did (nothing of
            # the run being fetched is in the batch), then let the chunk be retried.
            batch.flush()
            raise
        batch.flush()
        if outcome.runs_written:
            with transaction.atomic():
                _enrich(outcome.runs_written, sources)
                claim_extend(chunk, token)
    except (ChunkBusy, ClaimLost):
        raise
    except Exception as exc:
        claim_release(chunk, token, status=ChunkStatus.FAILED, error=str(exc))
        if job_id is not None and errors:
            job_progress(job_id=job_id, errors=errors)
        raise
    outcome.counts.skipped += len(outcome.runs_failed)
    if not claim_release(chunk, token, status=ChunkStatus.DONE):
        raise ClaimLost(f"lost the claim on chunk {first_run}-{last_run} before finishing it")
    if job_id is not None:
        job_progress(job_id=job_id, counts=outcome.counts, errors=errors)
    logger.info(
        "OMS chunk %d-%d: %d runs written (%d lumisections), %d rejected",
        first_run,
        last_run,
        len(outcome.runs_written),
        outcome.lumisections,
        len(outcome.runs_failed),
    )
    return outcome


def oms_high_water() -> int | None:
    """The newest run fully ingested: the stored mark, else the newest closed run in the mirror."""
    state = SyncState.objects.filter(key=OMS_RUNS).first()
    if state and state.high_water_run is not None:
        return state.high_water_run
    return Run.objects.filter(end_time__isnull=False).aggregate(n=Max("run_number"))["n"]


def incremental_range(client: OmsClient) -> tuple[int, int] | None:
    """The run range an incremental sync covers, or None when OMS has no runs."""
    newest = client.newest_run_number()
    if newest is None:
        return None
    lookback = settings.OMS_SYNC_LOOKBACK_RUNS
    high_water = oms_high_water()
    if high_water is None:
        start = newest - lookback + 1
    else:
        start = high_water - lookback + 1
        # Runs still open when last seen, however far back (bounded: a run stuck
        # open for ever in OMS must not drag every sync back to it).
        oldest_open = Run.objects.filter(
            end_time__isnull=True, run_number__gt=high_water - 10 * lookback, run_number__lte=high_water
        ).aggregate(n=Min("run_number"))["n"]
        if oldest_open is not None:
            start = min(start, oldest_open)
    return max(1, start), max(newest, start)


def runs_sync(
    *,
    run_from: int | None = None,
    run_to: int | None = None,
    job_id: int | None = None,
    client: OmsClient | None = None,
    chunk_runs: int | None = None,
    sources: RunSources | None = None,
    use_default_sources: bool = True,
    on_run: Callable[[int], None] | None = None,
) -> Job:
    """Sync OMS runs in this process, chunk after chunk.

    Without run_from: incremental (high-water mark minus a look-back, to the newest
    run), and the mark moves on. With a range: a backfill; the mark is untouched.
    A chunk another worker holds is skipped (that worker writes it).
    """
    incremental = run_from is None
    client = client or OmsClient.from_settings()
    if sources is None:
        sources = default_sources() if use_default_sources else NO_SOURCES
    # A sync's worker extends its chunk claims every few seconds: a sync silent for
    # a few claim lifetimes lost its worker, long before the generic JOB_STALE_S.
    jobs_stale_fail(kind=JobKind.OMS_SYNC, older_than=max(3 * claim_ttl(), dt.timedelta(minutes=30)))
    job = _job_of_sync(
        parameters={"mode": "incremental" if incremental else "range", "run_from": run_from, "run_to": run_to},
        job_id=job_id,
    )
    old_mark = oms_high_water() if incremental else None
    with job_fails_on_error(job.pk):
        if incremental:
            window = incremental_range(client)
            if window is None:
                job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED, message="OMS has no runs")
                job.refresh_from_db()
                return job
            run_from, run_to = window
        elif run_to is None:
            run_to = client.newest_run_number() or run_from
        assert run_from is not None and run_to is not None
        ranges = chunk_ranges(run_from, run_to, chunk_runs)
        job_progress(job_id=job.pk, total=len(ranges), parameters={"window": [run_from, run_to]})
        outcomes: list[ChunkOutcome] = []
        for first, last in ranges:
            try:
                outcome = runs_chunk_sync(
                    first_run=first, last_run=last, job_id=job.pk, client=client, sources=sources, on_run=on_run
                )
            except ChunkBusy as exc:
                logger.warning("%s; skipped in this sync", exc)
                outcome = ChunkOutcome(first, last, status="held")
            outcomes.append(outcome)
            job_progress(job_id=job.pk, done=1)
        message = _summary(outcomes)
        if incremental:
            mark = _new_high_water(outcomes, newest=run_to, old=old_mark)
            SyncState.objects.update_or_create(key=OMS_RUNS, defaults={"high_water_run": mark})
            message += f"; newest run fully ingested: {mark}"
        job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED, message=message)
    job.refresh_from_db()
    return job


def _new_high_water(outcomes: list[ChunkOutcome], *, newest: int, old: int | None) -> int:
    blockers = [n for o in outcomes for n in (*o.runs_failed, *o.runs_open)]
    blockers += [o.first_run for o in outcomes if o.status == "held"]
    mark = min(blockers) - 1 if blockers else newest
    return max(mark, old or 0)


def _summary(outcomes: list[ChunkOutcome]) -> str:
    written = sum(len(o.runs_written) for o in outcomes)
    failed = sum(len(o.runs_failed) for o in outcomes)
    lumisections = sum(o.lumisections for o in outcomes)
    held = sum(1 for o in outcomes if o.status == "held")
    text = f"{written} runs ({lumisections} lumisections) synced, {failed} rejected"
    if held:
        text += f", {held} chunks left to the worker holding them"
    return text


def runs_backfill_plan(*, run_from: int, run_to: int, chunk_runs: int | None = None) -> tuple[Job, list]:
    """A job and its chunk ranges for workers (`sync_oms --async`). The caller
    queues one `runs_chunk_sync` task per range in transaction.on_commit."""
    ranges = chunk_ranges(run_from, run_to, chunk_runs)
    job = job_start(
        kind=JobKind.OMS_SYNC,
        parameters={"mode": "async", "run_from": run_from, "run_to": run_to, "chunks": len(ranges)},
    )
    job = job_progress(job_id=job.pk, total=len(ranges))
    return job, ranges


def runs_chunk_sync_for_job(*, job_id: int, first_run: int, last_run: int, client: OmsClient | None = None) -> str:
    """One chunk of an async backfill; the last chunk to finish closes the job."""
    sources = default_sources()
    try:
        outcome = runs_chunk_sync(first_run=first_run, last_run=last_run, job_id=job_id, client=client, sources=sources)
    except (ChunkBusy, OmsTransientError):
        raise  # the task retries
    except Exception as exc:
        job_chunk_failed(job_id=job_id, first_run=first_run, last_run=last_run, error=f"{type(exc).__name__}: {exc}")
        raise
    if outcome.status == "already_done":
        return f"chunk {first_run}-{last_run} already done"
    _chunk_counted(job_id)
    return f"chunk {first_run}-{last_run}: {_summary([outcome])}"


def job_chunk_failed(*, job_id: int, first_run: int, last_run: int, error: str) -> None:
    """A chunk gave up (non-transient error, or retries exhausted): count it, note why."""
    _chunk_counted(
        job_id, failure={"file": SOURCE_OMS_API, "line": first_run, "reason": f"chunk {first_run}-{last_run}: {error}"}
    )


def _chunk_counted(job_id: int, *, failure: dict[str, Any] | None = None) -> None:
    """One more chunk of the job is over; the last one closes the job."""
    with transaction.atomic():
        current = Job.objects.select_for_update().get(pk=job_id)
        failed = current.parameters.get("chunks_failed", 0) + (failure is not None)
        job = job_progress(
            job_id=job_id,
            done=1,
            errors=[failure] if failure is not None else (),
            parameters={"chunks_failed": failed} if failure is not None else None,
        )
    if job.progress_total is not None and job.progress_done >= job.progress_total:
        failed = job.parameters.get("chunks_failed", 0)
        runs = sum(SyncChunk.objects.filter(job_id=job_id).values_list("runs_done", flat=True))
        status = JobStatus.FAILED if failed else JobStatus.SUCCEEDED
        job_finish(
            job_id=job_id, status=status, message=f"{runs} runs synced in {job.progress_total} chunks, {failed} failed"
        )
