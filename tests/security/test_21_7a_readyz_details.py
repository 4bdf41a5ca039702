"""Issue 21, finding 7a: /readyz answered anyone through the Route with the database
vendor, the active model's number and the migration state. The details now go only to
whoever may read /metrics (METRICS_ALLOWED_CIDRS, direct, or the METRICS_TOKEN);
everyone else gets the status code and a body that says ready or not, nothing more."""

import pytest
from django.db import connection

from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-7a0c2e"
# Through the OpenShift Route: REMOTE_ADDR is the router's, and it adds X-Forwarded-For.
THROUGH_THE_ROUTE = {"REMOTE_ADDR": "10.128.2.9", "HTTP_X_FORWARDED_FOR": "203.0.113.66"}
# The kubelet's probe: a node address outside the metrics networks, no proxy.
KUBELET = {"REMOTE_ADDR": "10.0.3.4"}
DETAILS = ("sqlite", "postgresql", "migrations", "applied", "model", "checks", "broker", "database")


@pytest.fixture(autouse=True)
def metrics_access(settings, monkeypatch):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_CIDRS = ["127.0.0.1/32", "::1/128"]
    monkeypatch.setattr("operations.selectors._loaded_model_key", None)


def assert_no_details(response) -> None:
    text = response.content.decode().lower()
    assert not [word for word in DETAILS if word in text], text
    assert len(response.content) < 40


@pytest.mark.parametrize("caller", [THROUGH_THE_ROUTE, KUBELET], ids=["through-the-route", "kubelet"])
def test_an_outsider_gets_the_status_alone(client, caller):
    response = client.get("/readyz", **caller)

    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    assert_no_details(response)


def a_migration_unapplied() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(name) FROM django_migrations WHERE app = 'recommender'")
        (last,) = cursor.fetchone()
        cursor.execute("DELETE FROM django_migrations WHERE app = 'recommender' AND name = %s", [last])


def an_active_model_that_cannot_load() -> None:
    ModelVersionFactory(status="active")  # its number must not be told


@pytest.mark.parametrize("breakage", [a_migration_unapplied, an_active_model_that_cannot_load])
def test_an_outsider_gets_503_alone_when_not_ready(client, breakage):
    breakage()

    response = client.get("/readyz", **THROUGH_THE_ROUTE)

    assert response.status_code == 503
    assert response.json() == {"status": "not ready"}
    assert_no_details(response)


def test_a_forwarded_loopback_address_is_not_let_in(client):
    # The rule /metrics uses: a proxied request is never let in by its address.
    response = client.get("/readyz", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert_no_details(response)


def test_a_wrong_token_gets_no_details(client):
    response = client.get("/readyz", **THROUGH_THE_ROUTE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")

    assert_no_details(response)


def test_the_metrics_token_gets_the_details_from_anywhere(client):
    response = client.get("/readyz", **THROUGH_THE_ROUTE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == {"ok": True, "detail": connection.vendor}


def test_a_metrics_network_gets_the_details(client, settings):
    settings.METRICS_ALLOWED_CIDRS = ["10.0.0.0/16"]

    response = client.get("/readyz", **KUBELET)

    assert set(response.json()["checks"]) == {"database", "migrations", "broker", "model"}
