"""The OMS client secret and the access tokens it buys never reach a log line,
an exception message or a job record, even at DEBUG for every logger."""

import logging

import pytest

from ingestion.clients import OmsClient, OmsError
from ingestion.services import runs_sync
from jobs.models import Job
from tests.ingestion.clients.fakes import FIRST_RUN, oms_settings, running, synthetic_data

pytestmark = pytest.mark.django_db

SECRET = "h6a-Distinctive-OMS-Secret-7d41c9e2b8"
LOGGERS = ("", "urllib3", "urllib3.connectionpool", "requests", "ingestion", "django", "celery")


@pytest.fixture
def fake_oms_with_credentials(settings):
    with running(synthetic_data(runs=12, lumisections=3), client_id="refrun-test", client_secret=SECRET) as server:
        oms_settings(settings, server)
        settings.OMS_CLIENT_SECRET = SECRET
        yield server


@pytest.fixture
def everything_logged(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _texts(caplog) -> str:
    """Every rendered log line, with its raw arguments and any traceback."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


def _job_texts() -> str:
    return "\n".join(f"{job.message} {job.errors} {job.parameters}" for job in Job.objects.all())


def test_it_never_logs_the_secret_or_the_token_during_a_sync(fake_oms_with_credentials, everything_logged, capsys):
    server = fake_oms_with_credentials
    # A token that expires mid-sync and a transient error: the renewal and retry paths log too.
    server.faults.arm({"fault": "expire_tokens"})
    server.faults.arm({"fault": "error_500", "count": 1, "resource": "lumisections"})
    client = OmsClient.from_settings(max_retries=2, backoff_base_s=0.0, sleep=lambda seconds: None)

    job = runs_sync(run_from=FIRST_RUN, run_to=FIRST_RUN + 11, client=client, use_default_sources=False)

    assert job.status == "succeeded" and server.counters["token"] >= 1
    tokens = list(server.tokens)
    logged = _texts(everything_logged)
    assert "Starting new HTTP connection" in logged  # urllib3 was captured at DEBUG
    captured = capsys.readouterr()
    for text in (logged, captured.out, captured.err, _job_texts(), repr(client)):
        assert SECRET not in text
        for token in tokens:
            assert token not in text


def test_it_keeps_the_secret_out_of_a_refused_token_request(fake_oms_with_credentials, everything_logged, settings):
    server = fake_oms_with_credentials
    server.client_secret = "the-server-expects-another-one"
    client = OmsClient.from_settings(max_retries=0, sleep=lambda seconds: None)

    with pytest.raises(OmsError) as raised:
        runs_sync(run_from=FIRST_RUN, run_to=FIRST_RUN + 1, client=client, use_default_sources=False)

    assert "refused with HTTP 401" in str(raised.value)
    for text in (_texts(everything_logged), str(raised.value), repr(raised.value), _job_texts()):
        assert SECRET not in text
