import datetime as dt

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs.models import Job, JobKind, JobStatus
from recommender.models import Decision, Feedback, Recommendation
from tests.factories import ModelVersionFactory, RunFactory, RunReconstructionFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-4f1e9a"


@pytest.fixture(autouse=True)
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_CIDRS = ["127.0.0.1/32", "::1/128"]


def _samples(response) -> dict[tuple[str, tuple], float]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


# --- Who may read it -------------------------------------------------------------


def test_it_refuses_an_outside_address_without_a_token(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    assert b"refrun_" not in response.content


def test_it_refuses_a_wrong_or_malformed_token(client):
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=header)
        assert response.status_code == 403, header


def test_it_refuses_any_token_when_none_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_it_lets_the_token_in_from_anywhere(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200


def test_it_lets_loopback_in_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


def test_it_lets_a_configured_network_in(client, settings):
    settings.METRICS_ALLOWED_CIDRS = ["10.128.0.0/14"]
    assert client.get("/metrics", REMOTE_ADDR="10.129.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.132.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_it_never_trusts_the_address_of_a_proxied_request(client):
    # Through the router REMOTE_ADDR is the router's own; only the token counts then.
    for header in ({"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, {"HTTP_FORWARDED": "for=127.0.0.1"}):
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", **header).status_code == 403
    proxied = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert proxied.status_code == 200


def test_it_serves_scrapers_on_the_pod_address(client, settings):
    settings.ALLOWED_HOSTS = ["refrun.web.cern.ch"]
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics", HTTP_HOST="10.128.4.17:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200


# --- What it says ----------------------------------------------------------------


def test_it_exports_requests_and_database_metrics(client):
    client.get("/healthz")
    client.get("/login/")
    names = {name for name, _ in _samples(client.get("/metrics"))}
    assert "django_http_requests_total_by_method_total" in names
    assert "django_http_responses_total_by_status_view_method_total" in names
    assert "django_db_execute_total" in names


def test_it_exports_refruns_figures_from_the_database(client):
    sam, kim = UserFactory(username="sam"), UserFactory(username="kim")
    runs = [RunFactory(run_number=n) for n in (381001, 381002, 381007)]
    active = ModelVersionFactory(status="active")
    ModelVersionFactory(status="retired")
    target = RunReconstructionFactory(run=runs[-1])
    for rank, reference in enumerate(runs[:2], start=1):
        Recommendation.objects.create(
            run_reconstruction=target, reference=reference, model_version=active, rank=rank, score=0.5
        )
    older = RunReconstructionFactory(run=runs[1])
    Recommendation.objects.create(run_reconstruction=older, reference=runs[0], model_version=None, rank=1, score=0.4)
    common = {"run_reconstruction": target, "recommended_reference": runs[0]}
    Feedback.objects.create(user=sam, decision=Decision.REJECTED, reason="noisy", is_current=False, **common)
    Feedback.objects.create(user=sam, decision=Decision.ACCEPTED, model_version=active, **common)
    Feedback.objects.create(user=kim, decision=Decision.REJECTED, reason="old", model_version=None, **common)
    synced = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.create(kind=JobKind.OMS_SYNC, status=JobStatus.SUCCEEDED, finished_at=synced)
    Job.objects.create(kind=JobKind.OMS_SYNC, status=JobStatus.FAILED, finished_at=timezone.now())
    Job.objects.create(kind=JobKind.TRAINING, status=JobStatus.FAILED)
    Job.objects.create(kind=JobKind.TRAINING, status=JobStatus.FAILED)

    samples = _samples(client.get("/metrics"))

    assert samples[("refrun_business_metrics_up", ())] == 1
    assert samples[("refrun_rankings_stored_total", ())] == 2
    assert samples[("refrun_decisions_total", (("decision", "accepted"),))] == 1
    assert samples[("refrun_decisions_total", (("decision", "rejected"),))] == 2
    assert samples[("refrun_decisions_current", (("decision", "rejected"),))] == 1
    assert samples[("refrun_first_choice_acceptance_ratio", (("model", "all"),))] == 0.5
    assert samples[("refrun_first_choice_acceptance_ratio", (("model", "active"),))] == 1.0
    assert samples[("refrun_first_choice_decisions", (("model", "active"),))] == 1
    assert samples[("refrun_newest_run_number", ())] == 381007
    assert samples[("refrun_oms_sync_last_success_timestamp_seconds", ())] == pytest.approx(synced.timestamp())
    assert 600 <= samples[("refrun_oms_sync_age_seconds", ())] < 660
    assert samples[("refrun_active_model_version", ())] == active.pk
    assert samples[("refrun_job_failures_total", (("kind", JobKind.TRAINING),))] == 2
    assert samples[("refrun_job_failures_total", (("kind", JobKind.OMS_SYNC),))] == 1
    assert samples[("refrun_job_failures_total", (("kind", JobKind.CERTHELPER_SYNC),))] == 0


def test_it_exports_an_empty_site_without_gaps_that_break_alerts(client):
    samples = _samples(client.get("/metrics"))
    assert samples[("refrun_active_model_version", ())] == 0  # persistence serves
    assert samples[("refrun_decisions_total", (("decision", "accepted"),))] == 0
    assert ("refrun_newest_run_number", ()) not in samples  # no run mirrored yet
    assert ("refrun_oms_sync_age_seconds", ()) not in samples  # never synced


def test_it_says_so_when_the_database_cannot_be_read(client, monkeypatch):
    from django.db import OperationalError

    def unreadable():
        raise OperationalError("connection refused")

    # Standing in for a database that went away between the request and the scrape.
    monkeypatch.setattr("operations.metrics.business_figures", unreadable)
    samples = _samples(client.get("/metrics"))
    assert samples[("refrun_business_metrics_up", ())] == 0
    assert not any(name.startswith("refrun_decisions") for name, _ in samples)


def test_it_reads_the_merged_worker_files_in_multiprocess_mode(client, tmp_path, monkeypatch):
    # What gunicorn's workers share when PROMETHEUS_MULTIPROC_DIR is set.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = _samples(client.get("/metrics"))
    assert samples[("refrun_business_metrics_up", ())] == 1
    assert not any(name.startswith("python_gc_") for name, _ in samples)  # this process's own registry is not read
