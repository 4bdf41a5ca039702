"""A real Celery worker on the running Redis and PostgreSQL, syncing from fake_oms.

Marked `services`: skipped without DATABASE_URL (PostgreSQL) and REDIS_URL, except
in CI (CI=true), where their absence fails the run.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from ingestion.models import ChunkStatus, Lumisection, Run, SyncChunk
from ingestion.services import runs_backfill_plan
from jobs.models import Job, JobStatus
from tests.conftest import IN_CI, REPO_ROOT
from tests.ingestion.clients.fakes import CLIENT_SECRET, FIRST_RUN, running, synthetic_data

RUNS = 300
LUMISECTIONS = 20
LAST_RUN = FIRST_RUN + RUNS - 1
REDIS_DB = 11  # away from the db a developer's own worker uses

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _unavailable() -> str:
    if not os.getenv("DATABASE_URL", "").startswith("postgres"):
        return "DATABASE_URL does not name a PostgreSQL database"
    if not os.getenv("REDIS_URL"):
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(_redis_url(), socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis unreachable: {exc}"
    return ""


def _redis_url() -> str:
    base = (
        os.environ["REDIS_URL"].rsplit("/", 1)[0] if os.environ["REDIS_URL"].count("/") > 2 else os.environ["REDIS_URL"]
    )
    return f"{base.rstrip('/')}/{REDIS_DB}"


@pytest.fixture(scope="module", autouse=True)
def services_available():
    reason = _unavailable()
    if reason:
        if IN_CI:
            pytest.fail(f"CI=true but the integration services are missing: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def fake_oms():
    with running(synthetic_data(runs=RUNS, lumisections=LUMISECTIONS)) as server:
        yield server


@pytest.fixture
def broker():
    import redis
    from celery import Celery

    redis.Redis.from_url(_redis_url()).flushdb()
    app = Celery("refrun-tests", broker=_redis_url())
    yield app
    redis.Redis.from_url(_redis_url()).flushdb()


class Workers:
    """Celery worker processes started by a test; each is killed by its own pid."""

    def __init__(self, fake_oms, log_dir: Path):
        self.fake_oms = fake_oms
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def env(self) -> dict[str, str]:
        db = connection.settings_dict
        database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        url = self.fake_oms.url
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": _redis_url(),
            "OMS_API_URL": f"{url}/agg/api",
            "OMS_TOKEN_URL": f"{url}/auth/realms/cern/api-access/token",
            "OMS_CLIENT_ID": "refrun-integration",
            "OMS_CLIENT_SECRET": CLIENT_SECRET,
            "CERTHELPER_URL": f"{url}/certify/allRunsRefRuns/",
            "REFRUN_DATA": "",
        }

    def start(self) -> subprocess.Popen:
        log = self.log_dir / f"worker-{len(self.processes)}.log"
        with log.open("w") as handle:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "refrun",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                    f"--hostname=it-{len(self.processes)}@%h",
                ],
                cwd=REPO_ROOT,
                env=self.env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while "ready." not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-4000:] for p in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture
def workers(fake_oms, tmp_path):
    pool = Workers(fake_oms, tmp_path)
    yield pool
    pool.stop_all()


def wait_for(predicate, *, timeout: float, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")
        time.sleep(0.25)


def finished_jobs():
    return Job.objects.filter(status__in=[JobStatus.SUCCEEDED, JobStatus.FAILED]).order_by("id")


def mirror() -> dict[int, list[int]]:
    numbers: dict[int, list[int]] = {}
    for run_number, number in Lumisection.objects.values_list("run__run_number", "number").order_by(
        "run__run_number", "number"
    ):
        numbers.setdefault(run_number, []).append(number)
    for run_number in Run.objects.values_list("run_number", flat=True):
        numbers.setdefault(run_number, [])
    return numbers


def served(server) -> dict[int, list[int]]:
    return {n: [ls["lumisection_number"] for ls in rows] for n, rows in server.data.lumisections.items()}


def test_it_syncs_exactly_the_servers_runs_and_a_second_sync_changes_nothing(fake_oms, broker, workers):
    workers.start()

    broker.send_task("ingestion.tasks.runs_sync", kwargs={"run_from": FIRST_RUN, "run_to": LAST_RUN})
    wait_for(lambda: finished_jobs().count() == 1, timeout=60, what="the first sync", workers=workers)

    first = finished_jobs().get()
    assert first.status == JobStatus.SUCCEEDED, first.message
    assert mirror() == served(fake_oms)
    assert Lumisection.objects.count() == RUNS * LUMISECTIONS
    snapshot = list(Run.objects.order_by("id").values_list("id", "updated_at"))

    broker.send_task("ingestion.tasks.runs_sync", kwargs={"run_from": FIRST_RUN, "run_to": LAST_RUN})
    wait_for(lambda: finished_jobs().count() == 2, timeout=60, what="the second sync", workers=workers)

    second = finished_jobs().last()
    assert second.status == JobStatus.SUCCEEDED
    assert (second.rows_created, second.rows_updated) == (0, 0)
    assert second.rows_unchanged >= RUNS * (LUMISECTIONS + 1)
    assert list(Run.objects.order_by("id").values_list("id", "updated_at")) == snapshot


def test_it_finishes_a_backfill_after_a_worker_is_killed_mid_sync(fake_oms, broker, workers):
    # Slow OMS down so the kill lands mid-chunk.
    fake_oms.faults.arm({"fault": "slow", "seconds": 0.03, "count": RUNS, "resource": "lumisections"})
    job, ranges = runs_backfill_plan(run_from=FIRST_RUN, run_to=LAST_RUN, chunk_runs=25)
    for first, last in ranges:
        broker.send_task("ingestion.tasks.runs_chunk_sync", args=[job.pk, first, last])
    worker = workers.start()

    # A chunk's runs commit together, so "a third of the runs" can be seen in the moment
    # between one chunk's end and the next claim: wait for a chunk in hand as well.
    wait_for(
        lambda: Run.objects.count() >= RUNS // 3 and SyncChunk.objects.filter(status=ChunkStatus.RUNNING).exists(),
        timeout=60,
        what="a third of the runs and a chunk in hand",
        workers=workers,
    )
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    written_at_kill = Run.objects.count()
    assert 0 < written_at_kill < RUNS
    assert SyncChunk.objects.filter(status=ChunkStatus.RUNNING).count() == 1  # the one it held
    # Whatever was written is whole: every run has all its lumisections.
    assert all(numbers == list(range(1, LUMISECTIONS + 1)) for numbers in mirror().values())

    fake_oms.faults.clear()
    workers.start()
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status != JobStatus.RUNNING,
        timeout=75,
        what="the backfill to finish after the restart",
        workers=workers,
    )

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.message, job.errors)
    assert job.progress_done == job.progress_total == len(ranges)
    assert mirror() == served(fake_oms)
    assert Lumisection.objects.count() == RUNS * LUMISECTIONS
    assert set(SyncChunk.objects.values_list("status", flat=True)) == {ChunkStatus.DONE}
    # The chunk the killed worker held was claimed again once its claim expired.
    assert SyncChunk.objects.filter(attempts__gte=2).exists()
