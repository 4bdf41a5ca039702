"""Faults during an OMS sync run by a real Celery worker (Redis broker, PostgreSQL),
against fake_oms. After each fault, the next sync must end with exactly the rows of
a clean sync (a canonical dump of fills, runs and lumisections), with no duplicate,
no half-written run and every shifter decision recorded before the fault intact.

- worker killed (SIGKILL) mid-sync: tests/integration/test_worker_sync.py
  (test_it_finishes_a_backfill_after_a_worker_is_killed_mid_sync), not repeated here;
- Redis restarted mid-sync (it keeps nothing on disk: queued and unacked messages go);
- PostgreSQL restarted mid-sync (every connection is cut, the sync's open
  transaction rolled back);
- each fault fake_oms can inject (demo.fake_oms.FAULT_NAMES), armed mid-sync.

These tests restart the machine's shared PostgreSQL and Redis. Each restart is in
a try/finally that starts the service again if it is down, so they are left running.
Marked `services` and `slow`: skipped without PostgreSQL (DATABASE_URL) and Redis
(REDIS_URL), except in CI (CI=true), where their absence fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models import Count
from django.utils import timezone

from demo.fake_oms import FAULT_NAMES
from ingestion.models import ChunkStatus, Fill, Lumisection, Run, SyncChunk
from ingestion.services import runs_sync
from jobs.models import Job, JobKind, JobStatus
from recommender.models import Decision, Feedback, LabelSource, ReferencePair
from recommender.services import feedback_record
from tests.conftest import IN_CI
from tests.factories import UserFactory, ranking_shown
from tests.ingestion.clients.fakes import FIRST_RUN, oms_client, running, synthetic_data
from tests.integration.test_worker_sync import Workers, _redis_url, _unavailable

RUNS = 100
LUMISECTIONS = 10
LAST_RUN = FIRST_RUN + RUNS - 1
SEEDED = 10  # runs synced cleanly before the fault, with decisions on them
CHUNK_RUNS = 20  # the worker's chunk size: 320001-320019, 320020-320039, ...
# fake_oms answers each lumisections request this late until the fault is armed,
# so the fault lands mid-sync (a few runs after ARM_AT are being fetched).
PACE_S = 0.03
ARM_AT = SEEDED + 30
# The worker's client: a short timeout so the "slow" fault is a timeout, quick retries.
WORKER_OMS_TIMEOUT_S = 1.0
SYNC_TIMEOUT_S = 60

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _cluster() -> tuple[str, str] | None:
    """(version, name) of the local PostgreSQL cluster pg_ctlcluster manages."""
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return (versions[-1], "main") if versions else None


@pytest.fixture(scope="module", autouse=True)
def services_available():
    # These tests restart the machine's PostgreSQL and Redis: on a developer's
    # machine others may be using them, so they run there only when asked.
    if not IN_CI and os.getenv("REFRUN_FAULT_TESTS", "").lower() != "true":
        pytest.skip("restarts the shared PostgreSQL and Redis: set REFRUN_FAULT_TESTS=true (CI always runs it)")
    reason = _unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the integration services are missing: {reason}")
        pytest.skip(reason)


def _need_restartable(what: str) -> None:
    missing = ""
    if what == "postgresql" and _cluster() is None:
        missing = "pg_ctlcluster and /etc/postgresql are not on this machine"
    if what == "redis" and not (shutil.which("redis-server") and shutil.which("redis-cli")):
        missing = "redis-server/redis-cli are not on this machine"
    if missing:
        if IN_CI:
            pytest.fail(f"CI=true but {what} cannot be restarted here: {missing}")
        pytest.skip(missing)


# --- services: restart, and always leave them running --------------------------------


def _pg_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False).returncode == 0


def _pg_ctl(action: str) -> None:
    version, name = _cluster()  # type: ignore[misc]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", "-m", "fast", version, name, action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _wait(predicate, *, timeout: float, what: str, workers: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n{workers.logs()}" if workers else ""))
        time.sleep(0.2)


def _postgresql_ensure_running() -> None:
    if not _pg_ready():
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", *_cluster(), "start"],  # type: ignore[misc]
            check=False,
            capture_output=True,
            timeout=60,
        )
    _wait(_pg_ready, timeout=60, what="PostgreSQL to accept connections")


REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]


def _redis_ready() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(_redis_url(), socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _redis_ensure_running() -> None:
    if not _redis_ready():
        subprocess.run(REDIS_START, check=False, capture_output=True, timeout=30)
    _wait(_redis_ready, timeout=30, what="Redis to answer")


# --- what is compared --------------------------------------------------------------------

_NOT_COMPARED = {"id", "created_at", "updated_at", "fill", "fill_id", "run", "run_id"}


def canonical_dump() -> dict[str, list[tuple]]:
    """Fills, runs and lumisections by natural key, every value but ids and timestamps."""

    def rows(model, order, extra=()):
        fields = [f.name for f in model._meta.concrete_fields if f.name not in _NOT_COMPARED]
        fields += list(extra)
        return [tuple(r) for r in model.objects.order_by(*order).values_list(*fields)]

    return {
        "fills": rows(Fill, ["fill_number"]),
        "runs": rows(Run, ["run_number"], extra=["fill__fill_number"]),
        "lumisections": rows(Lumisection, ["run__run_number", "number"], extra=["run__run_number"]),
    }


def decisions_dump() -> dict[str, list[tuple]]:
    feedback = Feedback.objects.order_by("pk").values_list(
        "pk",
        "run_reconstruction__run__run_number",
        "run_reconstruction__reconstruction",
        "user__username",
        "decision",
        "recommended_reference__run_number",
        "alternative_reference__run_number",
        "reason",
        "is_current",
        "created_at",
    )
    labels = (
        ReferencePair.objects.filter(source=LabelSource.SHIFTER)
        .order_by("pk")
        .values_list(
            "pk",
            "run_reconstruction__run__run_number",
            "reference__run__run_number",
            "is_positive",
            "feedback_id",
            "recorded_at",
        )
    )
    return {"feedback": list(feedback), "labels": list(labels)}


def assert_no_duplicates_and_whole_runs() -> None:
    assert not Run.objects.values("run_number").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not Lumisection.objects.values("run_id", "number").annotate(n=Count("id")).filter(n__gt=1).exists()
    # A run is written with all its lumisections or not at all.
    per_run = dict(Lumisection.objects.values_list("run__run_number").annotate(n=Count("id")))
    assert all(per_run.get(n, 0) == LUMISECTIONS for n in Run.objects.values_list("run_number", flat=True))


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake_oms():
    with running(synthetic_data(runs=RUNS, lumisections=LUMISECTIONS)) as server:
        yield server


@pytest.fixture(scope="module")
def clean_dump(django_db_setup, django_db_blocker, fake_oms):
    """The rows a clean sync of the whole range writes (in this process), then wiped."""
    with django_db_blocker.unblock():
        job = runs_sync(
            run_from=FIRST_RUN,
            run_to=LAST_RUN,
            client=oms_client(fake_oms),
            chunk_runs=CHUNK_RUNS,
            use_default_sources=False,
        )
        assert job.status == JobStatus.SUCCEEDED, job.message
        dump = canonical_dump()
        call_command("flush", interactive=False, verbosity=0)
    assert len(dump["runs"]) == RUNS and len(dump["lumisections"]) == RUNS * LUMISECTIONS
    return dump


@pytest.fixture(scope="module")
def broker():
    import redis
    from celery import Celery

    redis.Redis.from_url(_redis_url()).flushdb()
    app = Celery("refrun-fault-tests", broker=_redis_url())
    yield app
    if _redis_ready():
        redis.Redis.from_url(_redis_url()).flushdb()


class FaultWorkers(Workers):
    """test_worker_sync's workers, with a smaller chunk and a short OMS timeout."""

    def env(self) -> dict[str, str]:
        return {
            **super().env(),
            "OMS_SYNC_CHUNK_RUNS": str(CHUNK_RUNS),
            "OMS_TIMEOUT_S": str(WORKER_OMS_TIMEOUT_S),
        }


@pytest.fixture
def worker(fake_oms, tmp_path):
    pool = FaultWorkers(fake_oms, tmp_path)
    pool.start()
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def shared_worker(django_db_setup, fake_oms, tmp_path_factory):
    """One worker for the fake_oms faults (which leave the worker alone). After
    django_db_setup, so the worker is given the test database's name."""
    pool = FaultWorkers(fake_oms, tmp_path_factory.mktemp("fault-workers"))
    pool.start()
    yield pool
    pool.stop_all()


@pytest.fixture
def seeded(fake_oms, clean_dump):
    """The first SEEDED runs synced cleanly, and decisions of two shifters on them."""
    fake_oms.faults.clear()
    job = runs_sync(
        run_from=FIRST_RUN, run_to=FIRST_RUN + SEEDED - 1, client=oms_client(fake_oms), use_default_sources=False
    )
    assert job.status == JobStatus.SUCCEEDED, job.message
    sam, kim = UserFactory(username="sam"), UserFactory(username="kim")
    # Decisions name what RefRun showed: a stored ranking per run reconstruction.
    version = ranking_shown(run_number=FIRST_RUN + 1, reconstruction="express", references=[FIRST_RUN])
    ranking_shown(run_number=FIRST_RUN + 3, reconstruction="express", references=[FIRST_RUN], version=version)
    ranking_shown(run_number=FIRST_RUN + 3, reconstruction="prompt", references=[FIRST_RUN + 2], version=version)
    feedback_record(
        user=sam,
        run_number=FIRST_RUN + 1,
        reconstruction="express",
        decision=Decision.ACCEPTED,
        recommended_run_number=FIRST_RUN,
        model_version_id=version.pk,
    )
    feedback_record(
        user=kim,
        run_number=FIRST_RUN + 3,
        reconstruction="express",
        decision=Decision.REJECTED,
        recommended_run_number=FIRST_RUN,
        alternative_run_number=FIRST_RUN + 2,
        reason="APV mode differs",
        model_version_id=version.pk,
    )
    feedback_record(
        user=sam,
        run_number=FIRST_RUN + 3,
        reconstruction="prompt",
        decision=Decision.ACCEPTED,
        recommended_run_number=FIRST_RUN + 2,
        model_version_id=version.pk,
    )
    # A second decision: the first stays as the audit trail, no longer current.
    feedback_record(
        user=sam,
        run_number=FIRST_RUN + 3,
        reconstruction="prompt",
        decision=Decision.REJECTED,
        recommended_run_number=FIRST_RUN + 2,
        reason="pileup far off",
        model_version_id=version.pk,
    )
    decisions = decisions_dump()
    assert len(decisions["feedback"]) == 4 and len(decisions["labels"]) == 4  # the replaced decision's label went
    return decisions


# --- driving syncs ---------------------------------------------------------------------------


def sync_start(broker) -> int:
    """Queue a backfill of the whole range on the worker; its job is created here, so
    the test waits for exactly this sync (not a retry of an earlier one)."""
    job = Job.objects.create(
        kind=JobKind.OMS_SYNC,
        status=JobStatus.PENDING,
        parameters={"mode": "range", "run_from": FIRST_RUN, "run_to": LAST_RUN},
    )
    broker.send_task("ingestion.tasks.runs_sync", kwargs={"run_from": FIRST_RUN, "run_to": LAST_RUN, "job_id": job.pk})
    return job.pk


def sync_wait(job_id: int, workers: Workers, *, timeout: float = SYNC_TIMEOUT_S) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        try:
            job = Job.objects.get(pk=job_id)
            if job.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}:
                return job
        except Exception:  # the database may be restarting: reconnect and ask again
            connections.close_all()
        if time.monotonic() > deadline:
            raise AssertionError(f"sync job #{job_id} did not finish in {timeout:.0f} s\n{workers.logs()}")
        time.sleep(0.25)


def wait_for_runs(n: int, workers: Workers) -> None:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while Run.objects.count() < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {n} runs after {SYNC_TIMEOUT_S} s\n{workers.logs()}")
        time.sleep(0.05)


def tasks_ended(workers: Workers) -> int:
    """Sync tasks the workers have finished (succeeded or raised), from their logs."""
    text = "".join(log.read_text() for log in workers.log_dir.glob("worker-*.log"))
    return len(re.findall(r"Task ingestion\.tasks\.runs_sync\[\S+\] (?:succeeded|raised)", text))


def claims_expired() -> bool:
    """No chunk is held by a live claim (a sync cut off mid-chunk holds one until it expires)."""
    return not SyncChunk.objects.filter(status=ChunkStatus.RUNNING, claimed_until__gt=timezone.now()).exists()


def next_sync_matches_clean(broker, workers: Workers, clean_dump, decisions) -> Job:
    """The check after every fault: one more sync, then the mirror equals a clean sync's."""
    _wait(claims_expired, timeout=30, what="the cut-off sync's chunk claim to expire")
    job = sync_wait(sync_start(broker), workers)
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.errors, workers.logs())
    assert job.rows_skipped == 0, job.errors
    assert_no_duplicates_and_whole_runs()
    dump = canonical_dump()
    for table in ("fills", "runs", "lumisections"):
        assert dump[table] == clean_dump[table], f"{table} differ from a clean sync's"
    assert decisions_dump() == decisions
    return job


def pace(fake_oms) -> None:
    fake_oms.faults.clear()
    fake_oms.faults.arm({"fault": "slow", "seconds": PACE_S, "count": 10 * RUNS, "resource": "lumisections"})


# --- infrastructure faults -------------------------------------------------------------------


def test_a_redis_restart_mid_sync_loses_nothing_and_the_next_sync_is_clean(
    fake_oms, clean_dump, seeded, broker, worker
):
    _need_restartable("redis")
    pace(fake_oms)
    job_id = sync_start(broker)
    wait_for_runs(ARM_AT, worker)
    try:
        subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False, capture_output=True, timeout=30)
        _wait(lambda: not _redis_ready(), timeout=15, what="Redis to stop")
        time.sleep(1.0)  # the worker sees its broker gone while the sync goes on
        subprocess.run(REDIS_START, check=True, capture_output=True, timeout=30)
    finally:
        _redis_ensure_running()
    fake_oms.faults.clear()

    # The sync in progress does not need the broker: it finishes its job.
    first = sync_wait(job_id, worker)
    assert first.status == JobStatus.SUCCEEDED, (first.message, worker.logs())
    assert worker.processes[0].poll() is None, "the worker died with its broker\n" + worker.logs()
    # The worker reconnected to the new Redis and takes the next sync.
    next_sync_matches_clean(broker, worker, clean_dump, seeded)


def test_a_postgresql_restart_mid_sync_loses_nothing_and_the_next_sync_is_clean(
    fake_oms, clean_dump, seeded, broker, worker
):
    _need_restartable("postgresql")
    pace(fake_oms)
    job_id = sync_start(broker)
    wait_for_runs(ARM_AT, worker)
    try:
        _pg_ctl("restart")
    finally:
        _postgresql_ensure_running()
        # This process's connection died with the server: open a new one.
        connections.close_all()
    fake_oms.faults.clear()

    written = Run.objects.count()
    assert ARM_AT <= written <= RUNS
    assert_no_duplicates_and_whole_runs()  # the cut transaction was rolled back whole
    assert decisions_dump() == seeded
    # The sync cut off by the restart ends (as failed, or succeeded if the restart fell
    # between two of its transactions), or stays "running" for a dead transaction.
    _wait(
        lambda: Job.objects.get(pk=job_id).status != JobStatus.PENDING,
        timeout=10,
        what="the cut-off sync to have started",
    )
    # Let the worker finish with the cut-off task (it fails on its dead connection).
    _wait(lambda: tasks_ended(worker) >= 1, timeout=30, what="the cut-off task to end", workers=worker)
    assert worker.processes[0].poll() is None, "the worker died with the database\n" + worker.logs()
    next_sync_matches_clean(broker, worker, clean_dump, seeded)


# --- fake_oms faults -------------------------------------------------------------------------

FAULTS = {
    "error_500": {"fault": "error_500", "count": 2},
    "error_429": {"fault": "error_429", "count": 2},
    "slow": {"fault": "slow", "count": 1, "seconds": WORKER_OMS_TIMEOUT_S + 0.5},
    "expire_tokens": {"fault": "expire_tokens"},
    "reject_tokens": {"fault": "reject_tokens", "count": 2},
    "malformed_row": {"fault": "malformed_row", "count": 1},
    "unit_change": {"fault": "unit_change", "count": 5},
    "unknown_unit": {"fault": "unknown_unit", "count": 1},
    "short_page": {"fault": "short_page", "count": 1},
    "cut_body": {"fault": "cut_body", "count": 1},
}
# Faults after which the run being fetched is rejected (not written) by the faulty sync.
REJECTS_A_RUN = {"reject_tokens", "malformed_row", "unknown_unit"}


def test_every_fake_oms_fault_is_exercised():
    assert set(FAULTS) == FAULT_NAMES


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_after_a_fake_oms_fault_mid_sync_the_next_sync_is_clean(
    name, fake_oms, clean_dump, seeded, broker, shared_worker
):
    pace(fake_oms)
    job_id = sync_start(broker)
    wait_for_runs(ARM_AT, shared_worker)
    fake_oms.faults.clear()  # no more pacing: only the fault under test is armed
    fake_oms.faults.arm({**FAULTS[name], "resource": "lumisections"})
    faulty = sync_wait(job_id, shared_worker)
    left = [f for f in fake_oms.faults.listing() if f["fault"] == name]
    assert name == "expire_tokens" or not left, f"the {name} fault was never hit: {left}"
    fake_oms.faults.clear()
    if name in REJECTS_A_RUN:
        assert faulty.status == JobStatus.SUCCEEDED, faulty.message
        assert faulty.rows_skipped >= 1 and faulty.errors, (faulty.message, faulty.errors)
        assert Run.objects.count() < RUNS
    else:  # retried, or a valid answer in other units: the faulty sync itself is complete
        assert faulty.status == JobStatus.SUCCEEDED, (faulty.message, faulty.errors, shared_worker.logs())
        assert faulty.rows_skipped == 0, faulty.errors
    assert_no_duplicates_and_whole_runs()
    next_sync_matches_clean(broker, shared_worker, clean_dump, seeded)
