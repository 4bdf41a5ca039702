"""The production-shaped run: the image built with podman, then the migrate,
web (gunicorn, 2 workers), worker and beat containers with REFRUN_PRODUCTION=true
against this machine's PostgreSQL and Redis (host network), read-only root
filesystems, the secret key from a file. A shifter logs in, accepts a
recommendation, and the Feedback row is in PostgreSQL.

Runs in CI (CI=true, .ci/run) or when REFRUN_CONTAINER_TESTS=true; it takes
minutes (deploy/README.md gives the figures), so it is skipped otherwise. The
rootful podman settings this kind of host needs (runc, ulimits) are in PODMAN
and RUN below and explained in deploy/README.md. Nothing is mocked; the OMS and
Certhelper URLs point at a closed local port, as the containers must not reach out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import requests

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"

pytestmark = [
    pytest.mark.container,
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.skipif(
        os.getenv("CI", "").lower() != "true" and os.getenv("REFRUN_CONTAINER_TESTS", "").lower() != "true",
        reason="builds and runs the containers: CI=true or REFRUN_CONTAINER_TESTS=true",
    ),
]

IMAGE = os.getenv("REFRUN_CONTAINER_IMAGE", "localhost/refrun:ci")
PORT = int(os.getenv("REFRUN_CONTAINER_PORT", "18080"))
DATABASE = os.getenv("REFRUN_CONTAINER_DATABASE", "refrun_container")
REDIS_DB = int(os.getenv("REFRUN_CONTAINER_REDIS_DB", "14"))
PG = "postgres://postgres@127.0.0.1:5432"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NAMES = {role: f"refrun-ci-{role}" for role in ("web", "worker", "beat")}
# crun 1.8 refuses this host's hybrid cgroups; podman's default ulimits for root
# are above what the host lets a process set (deploy/README.md).
PODMAN = ["podman", "--runtime", os.getenv("REFRUN_PODMAN_RUNTIME", "runc")]
RUN = ["--network", "host", "--read-only", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
# Database migrated, broker reachable, active model loadable (operations/).
READY_PATH = "/readyz"
SHIFTER, PASSWORD = "container-shifter", "container-shifter-password-not-secret"


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])}... failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


class TlsEndedSession(requests.Session):
    """The router ends TLS in production, so cookies are Secure; the test talks plain
    HTTP on loopback (saying so with X-Forwarded-Proto) and must send them back,
    which requests will not do for Secure cookies over http."""

    def prepare_request(self, request):
        prepared = super().prepare_request(request)
        if self.cookies:
            prepared.headers["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return prepared


@pytest.fixture(scope="module")
def timings():
    marks: dict[str, float] = {}
    yield marks
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "container-stack-timings.json").write_text(json.dumps(marks, indent=2))


@pytest.fixture(scope="module")
def image(timings):
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: .ci/run installs it (apt-get install podman runc mmdebstrap)")
    started = time.monotonic()
    subprocess.run(["bash", str(REPO / "deploy" / "local" / "base-image.sh")], check=True, timeout=900)
    timings["base image (s)"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    secret = ["--secret", f"id=ca-bundle,src={CA_BUNDLE}"] if CA_BUNDLE.exists() else []
    podman("build", *secret, "-t", IMAGE, "-f", str(REPO / "Containerfile"), str(REPO), timeout=1200)
    timings["build (s)"] = round(time.monotonic() - started, 1)
    return IMAGE


@pytest.fixture(scope="module")
def stack(image, timings):
    """migrate, data, then web, worker and beat; everything removed afterwards."""
    for name in NAMES.values():
        podman("rm", "--force", "--time", "5", name, check=False)
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{DATABASE}"')
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}").flushdb()
    # Readable by the image's user (10001): the secret key as a file, as Kubernetes mounts it.
    shared = Path(tempfile.mkdtemp(prefix="refrun-container-"))
    shared.chmod(0o755)
    (shared / "secrets").mkdir(mode=0o755)
    (shared / "secrets" / "secret-key").write_text(uuid.uuid4().hex * 2)
    (shared / "secrets" / "secret-key").chmod(0o644)
    closed = "http://127.0.0.1:9"  # nothing listens: no container reaches outside the machine
    environment = {
        "REFRUN_PRODUCTION": "true",
        "SECRET_KEY_FILE": "/run/secrets/refrun/secret-key",
        "DATABASE_URL": f"{PG}/{DATABASE}",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEB_CONCURRENCY": "2",
        "PORT": str(PORT),
        # Artifacts live in PostgreSQL (MODEL_STORE=database): the pods share no disk.
        "OMS_API_URL": f"{closed}/agg/api",
        "OMS_TOKEN_URL": f"{closed}/token",
        "CERTHELPER_URL": f"{closed}/certify/allRunsRefRuns/",
    }
    common = [
        *RUN,
        "-v",
        f"{shared / 'secrets'}:/run/secrets/refrun:ro",
    ]
    for key, value in environment.items():
        common += ["-e", f"{key}={value}"]
    try:
        started = time.monotonic()
        podman("run", "--rm", *common, image, "migrate", "-v", "0", timeout=300)
        timings["migrate (s)"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        create_shifter = (
            "from django.contrib.auth import get_user_model; from accounts.roles import SHIFTERS, role_group; "
            f"u = get_user_model().objects.create_user({SHIFTER!r}, password={PASSWORD!r}); "
            "u.groups.add(role_group(SHIFTERS))"
        )
        # The simulation is a test double the image does not carry (demo/): it fills
        # the stack's database from this checkout, as the demo's would be.
        host = {
            **{k: v for k, v in os.environ.items() if k not in {"REFRUN_PRODUCTION", "REFRUN_DEMO_APP"}},
            "DATABASE_URL": f"{PG}/{DATABASE}",
            "REDIS_URL": "",
            "REFRUN_VAR_DIR": str(shared / "host-var"),
        }
        subprocess.run(
            [sys.executable, "manage.py", "simulate", "--seed", "7", "--runs", "700",
             "--lumisections-for-last", "40", "-v", "0"],
            cwd=REPO, env=host, check=True, timeout=600,
        )  # fmt: skip
        podman(
            "run", "--rm", *common, image, "sh", "-c",
            "python manage.py train"
            f' && python manage.py shell --no-imports -c "{create_shifter}"',
            timeout=600,
        )  # fmt: skip
        timings["simulate 700 runs + train (s)"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        for role, name in NAMES.items():
            podman("run", "--detach", "--name", name, "--hostname", name, *common, image, role)
        yield {"base": f"http://127.0.0.1:{PORT}", "started": started}
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        for name in NAMES.values():
            logs = podman("logs", name, check=False)
            (ARTIFACTS / f"{name}.log").write_text(logs.stdout + logs.stderr)
            podman("rm", "--force", "--time", "10", name, check=False)
        shutil.rmtree(shared, ignore_errors=True)
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def test_it_keeps_the_build_only_ca_bundle_out_of_the_image(image):
    """The build got the host's bundle (with the TLS-intercepting proxy's CA) as a secret."""
    local = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if not local:
        pytest.skip("this host trusts no CA of its own: nothing that could leak")
    shipped = podman("run", "--rm", *RUN, image, "cat", "/etc/ssl/certs/ca-certificates.crt").stdout
    for path in local:
        body = "".join(line for line in path.read_text().splitlines() if "CERTIFICATE" not in line)
        assert body[:200] not in shipped.replace("\n", ""), f"{path.name} is baked into the image"


def browser(base: str) -> requests.Session:
    session = TlsEndedSession()
    # As the OpenShift router forwards a request: TLS ended there.
    session.headers.update({"X-Forwarded-Proto": "https", "Origin": base.replace("http://", "https://")})
    return session


def wait_ready(session: requests.Session, base: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if session.get(base + READY_PATH, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{READY_PATH} not 200 within {seconds} s"
        time.sleep(1)


def test_it_serves_a_decision_end_to_end_from_the_production_containers(stack, timings):
    base = stack["base"]
    session = browser(base)
    wait_ready(session, base)
    timings["web ready after start (s)"] = round(time.monotonic() - stack["started"], 1)

    # gunicorn with 2 workers, as asked, in the web container.
    processes = podman("top", NAMES["web"], "args").stdout
    assert sum("bin/gunicorn" in line for line in processes.splitlines()) == 3, processes  # arbiter + 2 workers

    # Log in through the login form.
    page = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{base}/login/",
        data={"username": SHIFTER, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    cookie = next(c for c in session.cookies if c.name == "sessionid")
    assert cookie.secure, "production cookies must be Secure"

    # The static files: hashed names, compressed, served by gunicorn (whitenoise).
    runs_page = session.get(f"{base}/", timeout=60)
    assert runs_page.status_code == 200
    css = re.search(r'href="(/static/refrun\.[0-9a-f]{12}\.css)"', runs_page.text)
    assert css, "the stylesheet is not linked under its hashed name"
    style = session.get(base + css.group(1), headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert style.status_code == 200 and style.headers["Content-Encoding"] == "gzip"
    assert "immutable" in style.headers["Cache-Control"]

    # The newest run awaiting an express decision, its first choice accepted.
    runs = session.get(f"{base}/api/runs/?status=awaiting&reconstruction=express", timeout=60).json()["results"]
    run_number = runs[0]["run_number"]
    assert session.get(f"{base}/runs/{run_number}/express/", timeout=60).status_code == 200
    ranking = session.get(f"{base}/api/runs/{run_number}/express/recommendations/", timeout=60).json()
    first = next(r for r in ranking if r["rank"] == 1)
    assert first["model_version_id"] is not None, "the trained model did not rank this run"
    answer = session.post(
        f"{base}/runs/{run_number}/express/feedback/",
        data={
            "decision": "accepted",
            "recommended_run_number": first["reference_run_number"],
            "model_version_id": first["model_version_id"],
        },
        headers={"X-CSRFToken": session.cookies.get("csrftoken")},
        allow_redirects=False,  # requests drops Secure cookies on the redirect it follows
        timeout=60,
    )
    assert answer.status_code == 302, answer.text[:2000]
    run_page = session.get(base + answer.headers["Location"], timeout=60)
    assert "is recorded" in run_page.text, run_page.text[:2000]

    with psycopg.connect(f"{PG}/{DATABASE}") as connection:
        rows = connection.execute(
            """SELECT f.decision, reference.run_number, f.model_version_id
                 FROM recommender_feedback f
                 JOIN auth_user u ON u.id = f.user_id
                 JOIN recommender_runreconstruction rr ON rr.id = f.run_reconstruction_id
                 JOIN ingestion_run run ON run.id = rr.run_id
                 JOIN ingestion_run reference ON reference.id = f.recommended_reference_id
                WHERE u.username = %s AND run.run_number = %s AND rr.reconstruction = 'express'""",
            (SHIFTER, run_number),
        ).fetchall()
    assert rows == [("accepted", first["reference_run_number"], first["model_version_id"])]

    # Prometheus scrapes from the machine itself (METRICS_ALLOWED_CIDRS' loopback default):
    # RefRun's figures count the decision just made.
    metrics = session.get(f"{base}/metrics", timeout=30)
    assert metrics.status_code == 200, metrics.text[:500]
    assert 'refrun_decisions_current{decision="accepted"} 1.0' in metrics.text, metrics.text[-2000:]

    # The worker's liveness probe, as Kubernetes runs it, and beat up on its schedule.
    deadline = time.monotonic() + 90
    while podman("exec", NAMES["worker"], "refrun", "worker-ping", check=False, timeout=60).returncode != 0:
        assert time.monotonic() < deadline, "the worker never answered `celery inspect ping`"
        time.sleep(3)
    beat = podman("logs", NAMES["beat"])
    assert "beat: Starting" in beat.stdout + beat.stderr
    timings["stack checks done after start (s)"] = round(time.monotonic() - stack["started"], 1)
