import datetime as dt

import pytest
from django.utils import timezone

from ingestion.clients import CerthelperTransientError
from ingestion.models import SyncState
from ingestion.services import CERTHELPER
from jobs.models import JobStatus
from recommender.certhelper_sync import certhelper_sync
from tests.ingestion.clients.fakes import certhelper_client, running, synthetic_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_oms():
    with running(synthetic_data(runs=25, lumisections=7)) as server:
        yield server


class PairsImport:
    def __init__(self):
        self.calls = []

    def __call__(self, *, rows, progress=None):
        rows = list(rows)
        self.calls.append(rows)
        if progress:
            progress(len(rows))

        class Counts:
            created, updated, unchanged = len(rows), 0, 0

        return Counts()


def run(server, pairs_import, **kwargs):
    return certhelper_sync(pairs_import=pairs_import, client=certhelper_client(server), **kwargs)


def test_it_hands_the_pairs_to_the_label_writer(fake_oms):
    fake_oms.data.certhelper_pairs.append({"run_number": 5, "reference_run_number": 4})  # 2021 format: no reco
    writer = PairsImport()

    job = run(fake_oms, writer)

    assert [(p.run_number, p.reference_run_number) for p in writer.calls[0]] == [(320002, 320001)]
    assert job.status == JobStatus.SUCCEEDED
    assert (job.rows_created, job.rows_skipped) == (1, 1)
    assert "no reconstruction type" in job.errors[0]["reason"]
    assert job.progress_done == job.progress_total == 2


def test_it_calls_certhelper_at_most_once_a_day(fake_oms):
    writer = PairsImport()
    run(fake_oms, writer)

    job = run(fake_oms, writer)

    assert fake_oms.counters["certhelper"] == 1
    assert job.status == JobStatus.SUCCEEDED and job.message.startswith("skipped")

    SyncState.objects.filter(key=CERTHELPER).update(
        last_attempt_at=timezone.now() - dt.timedelta(hours=24), last_success_at=timezone.now() - dt.timedelta(hours=24)
    )
    run(fake_oms, writer)
    assert fake_oms.counters["certhelper"] == 2


def test_it_never_calls_twice_within_an_hour_even_when_forced(fake_oms, settings):
    settings.CERTHELPER_MIN_INTERVAL_S = 60  # a schedule or setting asking for more
    writer = PairsImport()
    run(fake_oms, writer, force=True)

    run(fake_oms, writer, force=True)
    assert fake_oms.counters["certhelper"] == 1

    SyncState.objects.filter(key=CERTHELPER).update(last_attempt_at=timezone.now() - dt.timedelta(minutes=61))
    run(fake_oms, writer, force=True)
    assert fake_oms.counters["certhelper"] == 2


def test_it_lets_a_failed_call_be_retried_after_an_hour(fake_oms):
    fake_oms.faults.arm({"fault": "error_500", "resource": "certhelper"})
    writer = PairsImport()

    with pytest.raises(CerthelperTransientError):
        run(fake_oms, writer)
    assert run(fake_oms, writer).message.startswith("skipped")

    SyncState.objects.filter(key=CERTHELPER).update(last_attempt_at=timezone.now() - dt.timedelta(minutes=61))
    job = run(fake_oms, writer)
    assert job.status == JobStatus.SUCCEEDED and len(writer.calls) == 1
    assert fake_oms.counters["certhelper"] == 2
