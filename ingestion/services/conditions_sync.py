"""The conditions sync: what OMS does not have, from the live services, for a run range.

The path data takes:
    runs of the mirror in [run_min, run_max] -> each step in CONDITIONS_STEPS asks
    its source (ingestion.sources) -> runs_upsert under the source's name, so the
    run-attribute precedence decides (an admin's correction stays) -> job record.

A step is one line in CONDITIONS_STEPS: a name, whether its service is configured,
how to build its source from settings, and how to apply it. DIALS serves two (the PV
means, the DQMIO dataset names); the Run Registry's tracker certification
(runregistry_sync) is the last line.

Faults. A source that answers nothing usable for one run (or one range) costs that
run (or range) only: it is an error on the job, and the job is partial. A service
that stays down (ConditionsTransientError after the client's retries) or refuses
the credentials ends its step; the next step still runs, and the job fails with the
reason. Values are written as they arrive, and only values that are there:
a missing value never blanks a stored one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from jobs.models import Job, JobKind, JobStatus
from jobs.services import Counts, job_fails_on_error, job_finish, job_progress, job_start

from ..conditions_clients import ConditionsError, ConditionsRefused, ConditionsTransientError
from ..models import Run, RunClass
from ..runregistry_client import RunRegistryClient
from ..sources import DialsDatasetSource, DialsPrimaryVertexSource, HttpApvModeSource
from .runregistry_sync import TrackerCertificationSyncError, tracker_certification_sync
from .upserts import runs_upsert

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Runs written per transaction while a slow source answers one run at a time.
APV_WRITE_EVERY = 20
# Run numbers per DIALS query: one paged query per range.
DIALS_RANGE_RUNS = 100
# Collision runs are taken in DECO mode: the APV mode matters for the other classes,
# and asking the one-request-a-second service about every collision run would cost
# hours a year for a value nobody reads.
APV_SKIPPED_CLASSES = (RunClass.COLLISIONS_PP, RunClass.HEAVY_ION)


@dataclass
class StepOutcome:
    name: str
    counts: Counts = field(default_factory=Counts)
    asked: int = 0  # runs asked about
    answered: int = 0  # runs (or, for the Run Registry, datasets) the source gave a value for
    answered_unit: str = "runs"
    errors: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = ""  # why the step ended early, if it did
    requests: int = 0

    def error(self, line: int, reason: str) -> None:
        self.errors.append({"file": self.name, "line": line, "reason": reason})


@dataclass(frozen=True)
class ConditionsStep:
    name: str
    configured: Callable[[], bool]  # its service is set up (settings)
    source: Callable[[], Any]  # the source, built from settings
    scope: Callable[[Sequence[Run]], list[Run]]  # the runs of the range it asks about
    apply: Callable[..., StepOutcome]  # (source=, runs=, job_id=) -> StepOutcome


def _write(rows: list[dict[str, Any]], *, source: str, outcome: StepOutcome) -> None:
    if rows:
        outcome.counts += runs_upsert(rows=rows, source=source)
        rows.clear()


def _unanswered_record(numbers: list[int]) -> None:
    """Note when the APV mode service knew no mode for these runs (apv_mode_scope then
    leaves them alone for APV_MODE_RETRY_HOURS). A plain update: the run's values and
    their sources are untouched."""
    if numbers:
        Run.objects.filter(run_number__in=numbers).update(apv_mode_asked_at=timezone.now())
        numbers.clear()


def apv_mode_step(*, source: Any, runs: Sequence[Run], job_id: int) -> StepOutcome:
    """Ask the APV-mode service, one run at a time, about runs with no mode yet (a
    mode once known is kept: it is never asked again). A run it knows no mode for is
    recorded as asked, so the hourly sync does not ask again at once."""
    outcome = StepOutcome(name="apv_mode")
    todo = [r.run_number for r in runs]
    rows: list[dict[str, Any]] = []
    unanswered: list[int] = []
    try:
        for index, number in enumerate(todo, start=1):
            outcome.asked += 1
            try:
                mode = source.apv_mode(number)
            except (ConditionsTransientError, ConditionsRefused):
                raise
            except ConditionsError as exc:
                outcome.error(number, str(exc))
                continue
            if mode is not None:
                outcome.answered += 1
                rows.append({"run_number": number, "apv_mode": mode})
            else:
                unanswered.append(number)
            if index % APV_WRITE_EVERY == 0:
                _write(rows, source=source.source_name, outcome=outcome)
                _unanswered_record(unanswered)
                job_progress(job_id=job_id, done=APV_WRITE_EVERY)
    except (ConditionsTransientError, ConditionsRefused) as exc:
        outcome.stopped = str(exc)
    _write(rows, source=source.source_name, outcome=outcome)
    _unanswered_record(unanswered)
    job_progress(job_id=job_id, done=len(todo) % APV_WRITE_EVERY if not outcome.stopped else 0)
    outcome.requests = getattr(getattr(source, "client", None), "requests_made", 0)
    return outcome


def _ranges(numbers: Sequence[int], width: int) -> list[tuple[int, int]]:
    """Consecutive ranges of at most `width` run numbers covering `numbers` (sorted)."""
    ranges: list[tuple[int, int]] = []
    for number in numbers:
        if ranges and number - ranges[-1][0] < width:
            ranges[-1] = (ranges[-1][0], number)
        else:
            ranges.append((number, number))
    return ranges


def pv_mean_step(*, source: Any, runs: Sequence[Run], job_id: int) -> StepOutcome:
    """PV means of the runs from DIALS, one paged query per range of run numbers.
    Asked again each time: prompt reconstruction arrives after express, and the
    preferred dataset then replaces the express value."""
    outcome = StepOutcome(name="pv_mean")
    numbers = sorted(r.run_number for r in runs)
    known = set(numbers)
    for in_range, means in _range_answers(numbers, ask=source.pv_means_in_range, outcome=outcome):
        rows = [{"run_number": n, "pv_mean": v} for n, v in sorted(means.items()) if n in known]
        outcome.answered += len(rows)
        _write(rows, source=source.source_name, outcome=outcome)
        job_progress(job_id=job_id, done=len(in_range))
    outcome.requests = getattr(getattr(source, "client", None), "requests_made", 0)
    return outcome


def dqmio_datasets_step(*, source: Any, runs: Sequence[Run], job_id: int) -> StepOutcome:
    """Each run's DQMIO datasets from DIALS's run list (the names the DQM GUI files the
    run under, recommender.dqm_datasets), one paged query per range of run numbers.
    Asked again each time, as the PV means: prompt datasets arrive after express. A
    plain update of the names only, and only where DIALS lists some: a run it no
    longer lists keeps the names it had."""
    outcome = StepOutcome(name="dqmio_datasets")
    by_number = {r.run_number: r for r in runs}
    for in_range, names in _range_answers(sorted(by_number), ask=source.datasets_in_range, outcome=outcome):
        changed = []
        for number in in_range:
            found = names.get(number)
            if not found:
                continue
            outcome.answered += 1
            run = by_number[number]
            if run.dqmio_datasets == found:
                outcome.counts += Counts(unchanged=1)
                continue
            run.dqmio_datasets = found
            changed.append(run)
        Run.objects.bulk_update(changed, ["dqmio_datasets"])
        outcome.counts += Counts(updated=len(changed))
        job_progress(job_id=job_id, done=len(in_range))
    outcome.requests = getattr(getattr(source, "client", None), "requests_made", 0)
    return outcome


def _range_answers(
    numbers: Sequence[int], *, ask: Callable[[int, int], T], outcome: StepOutcome
) -> Iterator[tuple[list[int], T]]:
    """For each range of at most DIALS_RANGE_RUNS run numbers covering `numbers`
    (sorted), the numbers in it and what `ask(first, last)` answered, counted as asked.
    A range DIALS answers unusably is an error of the step, and the next range is
    asked; DIALS unreachable or refusing stops the step there."""
    for first, last in _ranges(numbers, DIALS_RANGE_RUNS):
        in_range = [n for n in numbers if first <= n <= last]
        outcome.asked += len(in_range)
        try:
            answer = ask(first, last)
        except (ConditionsTransientError, ConditionsRefused) as exc:
            outcome.stopped = str(exc)
            return
        except ConditionsError as exc:
            outcome.error(first, f"runs {first}-{last}: {exc}")
            continue
        yield in_range, answer


def apv_mode_scope(runs: Sequence[Run]) -> list[Run]:
    """Runs with no APV mode yet (once known, a mode is kept), collisions left out, and
    runs the service knew nothing of less than APV_MODE_RETRY_HOURS ago: it learns a
    run's mode within a day, if ever, and one request a second is all it takes."""
    retry_after = timezone.now() - dt.timedelta(hours=settings.APV_MODE_RETRY_HOURS)
    return [
        r
        for r in runs
        if not r.apv_mode
        and r.run_class not in APV_SKIPPED_CLASSES
        and (r.apv_mode_asked_at is None or r.apv_mode_asked_at <= retry_after)
    ]


def pv_mean_scope(runs: Sequence[Run]) -> list[Run]:
    """Every run but cosmics (no vertices to count)."""
    return [r for r in runs if r.run_class != RunClass.COSMICS]


def tracker_certification_step(*, source: Any, runs: Sequence[Run], job_id: int) -> StepOutcome:
    """The Run Registry's tracker flags, good lumisections and dataset states of the
    range's runs: one paged query for the range; every page stored before a failure stays."""
    outcome = StepOutcome(name="tracker_certification", answered_unit="datasets")
    if not runs:
        return outcome
    outcome.asked = len(runs)
    try:
        counts = tracker_certification_sync(run_min=runs[0].run_number, run_max=runs[-1].run_number, client=source)
    except TrackerCertificationSyncError as exc:
        counts, outcome.stopped = exc.counts, str(exc)
    outcome.answered = counts.datasets
    outcome.counts += Counts(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)
    outcome.requests = counts.pages
    job_progress(job_id=job_id, done=len(runs))
    return outcome


# The steps, in order.
CONDITIONS_STEPS: tuple[ConditionsStep, ...] = (
    ConditionsStep("apv_mode", lambda: bool(settings.APV_MODE_URL), HttpApvModeSource, apv_mode_scope, apv_mode_step),
    ConditionsStep(
        "pv_mean",
        lambda: bool(settings.DIALS_API_URL and settings.DIALS_CLIENT_ID),
        DialsPrimaryVertexSource,
        pv_mean_scope,
        pv_mean_step,
    ),
    ConditionsStep(
        "dqmio_datasets",
        lambda: bool(settings.DIALS_API_URL and settings.DIALS_CLIENT_ID),
        DialsDatasetSource,
        list,
        dqmio_datasets_step,
    ),
    ConditionsStep(
        "tracker_certification",
        lambda: bool(settings.RUNREGISTRY_API_URL and settings.RUNREGISTRY_CLIENT_ID),
        RunRegistryClient.from_settings,
        list,
        tracker_certification_step,
    ),
)


def conditions_configured() -> bool:
    """Whether any conditions service is configured (else the sync has nothing to do)."""
    return any(step.configured() for step in CONDITIONS_STEPS)


def conditions_range_default() -> tuple[int, int] | None:
    """The beat's range: CONDITIONS_LOOKBACK_RUNS run numbers below the newest run in the mirror."""
    newest = Run.objects.aggregate(n=Max("run_number"))["n"]
    if newest is None:
        return None
    return max(1, newest - settings.CONDITIONS_LOOKBACK_RUNS + 1), newest


def conditions_sync(
    *,
    run_min: int | None = None,
    run_max: int | None = None,
    job_id: int | None = None,
    sources: dict[str, Any] | None = None,
    steps: Sequence[ConditionsStep] = CONDITIONS_STEPS,
) -> Job:
    """Apply every configured conditions source to the mirror's runs in [run_min, run_max].

    Without a range: the newest CONDITIONS_LOOKBACK_RUNS run numbers. `sources`
    replaces a step's source by step name (tests, benchmarks). Raises
    JobAlreadyRunning when a conditions sync is running.
    """
    if run_min is None or run_max is None:
        window = conditions_range_default()
        run_min = run_min if run_min is not None else (window[0] if window else 1)
        run_max = run_max if run_max is not None else (window[1] if window else 0)
    job = job_start(kind=JobKind.CONDITIONS_SYNC, parameters={"run_min": run_min, "run_max": run_max}, job_id=job_id)
    sources = sources or {}
    with job_fails_on_error(job.pk):
        runs = list(
            Run.objects.filter(run_number__gte=run_min, run_number__lte=run_max)
            .only("run_number", "apv_mode", "apv_mode_asked_at", "run_class", "dqmio_datasets")
            .order_by("run_number")
        )
        active = [s for s in steps if s.name in sources or s.configured()]
        scoped = {s.name: s.scope(runs) for s in active}
        total = sum(len(scoped[s.name]) for s in active)
        job_progress(job_id=job.pk, total=total, parameters={"steps": [s.name for s in active], "runs": len(runs)})
        outcomes: list[StepOutcome] = []
        for step in active:
            source = sources[step.name] if step.name in sources else step.source()
            outcome = step.apply(source=source, runs=scoped[step.name], job_id=job.pk)
            if outcome.stopped:
                outcome.error(run_min, f"{step.name} stopped: {outcome.stopped}")
                logger.error("conditions sync, %s stopped: %s", step.name, outcome.stopped)
            job_progress(job_id=job.pk, counts=outcome.counts, errors=outcome.errors)
            outcomes.append(outcome)
        status, message = _summary(outcomes, runs=len(runs), run_min=run_min, run_max=run_max)
        job_finish(job_id=job.pk, status=status, message=message)
    job.refresh_from_db()
    return job


def _summary(outcomes: list[StepOutcome], *, runs: int, run_min: int, run_max: int) -> tuple[str, str]:
    if not outcomes:
        return JobStatus.SUCCEEDED, f"no conditions source configured; {runs} runs in {run_min}-{run_max} untouched"
    parts = []
    for o in outcomes:
        changed = o.counts.updated + o.counts.created
        text = f"{o.name}: {o.answered} {o.answered_unit} known of {o.asked} runs asked, {changed} changed"
        if o.stopped:
            text += f"; STOPPED: {o.stopped}"
        elif o.errors:
            text += f"; partial: {len(o.errors)} not read (see errors)"
        parts.append(text)
    failed = any(o.stopped for o in outcomes)
    head = f"runs {run_min}-{run_max} ({runs} in the mirror)"
    if failed:
        head = "FAILED, values read before the fault are kept; " + head
    elif any(o.errors for o in outcomes):
        head = "partial; " + head
    return (JobStatus.FAILED if failed else JobStatus.SUCCEEDED), f"{head}: " + "; ".join(parts)
