"""The worker's liveness check, as the deployment runs it: `celery -A refrun inspect
ping -d celery@$HOSTNAME` answers only for a worker that is consuming on the broker.

Marked `services`: needs Redis (REDIS_URL); in CI its absence fails the run.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

from tests.conftest import IN_CI, REPO_ROOT

REDIS_DB = 14  # away from the database the rest of the suite and a developer's worker use

pytestmark = [pytest.mark.services, pytest.mark.slow]

QUIET = ("--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO")


def _redis_url() -> str:
    url = os.getenv("REDIS_URL", "")
    if not url:
        if IN_CI:
            pytest.fail("CI=true but REDIS_URL is not set")
        pytest.skip("REDIS_URL is not set")
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base.rstrip('/')}/{REDIS_DB}"


def _celery(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "refrun", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_pings_its_own_worker_and_fails_for_a_missing_one(tmp_path):
    env = {
        **os.environ,
        "REDIS_URL": _redis_url(),
        "DATABASE_URL": "",  # the ping needs no database: SQLite in REFRUN_VAR_DIR
        "REFRUN_VAR_DIR": str(tmp_path),
    }
    node = f"celery@liveness-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    with log.open("w") as handle:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "refrun", "worker", "--pool=solo", f"--hostname={node}", *QUIET],
            cwd=REPO_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "ready." not in log.read_text():
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)

        alive = _celery(env, "inspect", "ping", "-d", node)
        assert alive.returncode == 0, alive.stdout + alive.stderr
        assert "pong" in alive.stdout

        gone = _celery(env, "inspect", "ping", "-d", "celery@no-such-worker")
        assert gone.returncode != 0
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
