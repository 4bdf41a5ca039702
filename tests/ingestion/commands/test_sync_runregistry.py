"""manage.py sync_runregistry: thin, over the service, against the double over HTTP."""

import io

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import TrackerCertification
from tests.factories import RunFactory
from tests.ingestion.clients.fakes import running
from tests.ingestion.runregistry_fakes import FIRST_RUN, runregistry_settings, synthetic_runregistry

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_rr(settings):
    with running(synthetic_runregistry(runs=4)) as server:
        runregistry_settings(settings, server)
        settings.RUNREGISTRY_MAX_RETRIES = 0
        yield server


def test_it_syncs_the_mirrored_runs_by_default(fake_rr):
    for number in range(FIRST_RUN, FIRST_RUN + 4):
        RunFactory(run_number=number)
    out = io.StringIO()

    call_command("sync_runregistry", stdout=out)

    assert f"Run Registry {FIRST_RUN}-{FIRST_RUN + 3}: datasets 8, created 8" in out.getvalue()
    assert TrackerCertification.objects.count() == 8


def test_it_says_what_failed_and_what_was_stored(fake_rr):
    RunFactory(run_number=FIRST_RUN)
    fake_rr.faults.arm({"fault": "error_500", "resource": "runregistry"})

    with pytest.raises(CommandError, match=r"HTTP 500 after 1 attempts .*stored before it failed: \{'datasets': 0"):
        call_command("sync_runregistry", "--from", str(FIRST_RUN), "--to", str(FIRST_RUN + 3), stdout=io.StringIO())


def test_it_needs_runs_or_a_range():
    with pytest.raises(CommandError, match="no runs mirrored yet"):
        call_command("sync_runregistry", stdout=io.StringIO())
