import pytest
from django.db import connection

from recommender.models import ModelArtifact, ModelVersionStatus
from recommender.training import model_version_train
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db

# A probe calls the pod's own address over plain HTTP.
POD = {"HTTP_HOST": "10.128.4.17:8000"}


@pytest.fixture(autouse=True)
def fresh_model_memory(monkeypatch):
    # Which model this process already loaded is per process; each test starts without.
    monkeypatch.setattr("operations.selectors._loaded_model_key", None)


@pytest.fixture
def production_like(settings):
    settings.ALLOWED_HOSTS = ["refrun.web.cern.ch"]
    settings.SECURE_SSL_REDIRECT = True


def test_it_answers_liveness_without_touching_the_database(client, production_like, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz", **POD)
    assert response.status_code == 200
    assert response.content == b"ok\n"


def test_it_answers_probes_on_the_pod_address_where_pages_are_refused(client, production_like):
    assert client.get("/", **POD).status_code == 400  # not an allowed host
    assert client.get("/readyz", **POD).status_code == 200


def test_it_is_ready_without_an_active_model_because_persistence_serves(client):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ready"
    assert body["checks"]["model"] == {"ok": True, "detail": "no active model: persistence ranking serves"}
    assert body["checks"]["migrations"]["ok"]
    assert body["checks"]["database"]["ok"]


def test_it_is_ready_with_a_loadable_model_and_not_with_a_tampered_one(client, tmp_path, settings):
    settings.MODEL_DIR = tmp_path
    make_labels(pair_rows(make_runs(40)))
    version = model_version_train().model_version
    assert version.status == ModelVersionStatus.ACTIVE

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["model"]["detail"] == f"model #{version.pk}"

    # A new active version (same id, other hash) whose artifact was altered.
    ModelArtifact.objects.filter(model_version=version).update(data=b"altered")
    version.sha256 = "1" * 64
    version.save(update_fields=["sha256"])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["model"] == {"ok": False, "detail": f"active model #{version.pk} cannot be loaded"}


def test_it_is_not_ready_while_a_migration_is_unapplied(client):
    # As if the code were newer than the database: its last migration not recorded.
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(name) FROM django_migrations WHERE app = 'recommender'")
        (last,) = cursor.fetchone()
        cursor.execute("DELETE FROM django_migrations WHERE app = 'recommender' AND name = %s", [last])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == {"ok": False, "detail": "1 not applied"}


def test_it_is_not_ready_when_the_configured_broker_is_unreachable(client, settings):
    # Nothing listens on this port of the range reserved for these tests.
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:19401/14"
    settings.READINESS_TIMEOUT_S = 0.5
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "detail": "unreachable"}
    assert response.json()["checks"]["database"]["ok"]


@pytest.mark.services
def test_it_is_ready_with_the_running_redis(client, settings):
    import os

    if not os.getenv("REDIS_URL"):
        pytest.skip("REDIS_URL is not set")
    settings.REDIS_URL = settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    response = client.get("/readyz")
    assert response.json()["checks"]["broker"] == {"ok": True, "detail": "redis"}


def test_it_refuses_writes_to_the_probes(client):
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_it_is_not_ready_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import OperationalError

    def refused(*args, **kwargs):
        raise OperationalError("connection refused")

    # Standing in for a database outage: the shared PostgreSQL is never stopped here.
    monkeypatch.setattr(connection, "cursor", refused)
    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "detail": "unreachable"}
    assert checks["migrations"] == checks["model"] == {"ok": False, "detail": "database unreachable"}
    assert checks["broker"]["ok"]
