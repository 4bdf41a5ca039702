"""runs_sync and its chunks, against demo.fake_oms over a real socket."""

import datetime as dt

import pytest
from django.utils import timezone

from ingestion.clients import OmsTransientError
from ingestion.models import ChunkStatus, Fill, Lumisection, Run, SyncChunk, SyncState
from ingestion.services import (
    OMS_RUNS,
    ChunkBusy,
    ClaimLost,
    chunk_claim,
    chunk_ranges,
    oms_sync,
    runs_backfill_plan,
    runs_chunk_sync,
    runs_chunk_sync_for_job,
    runs_sync,
)
from jobs.models import Job, JobStatus
from tests.ingestion.clients.fakes import FIRST_RUN, oms_client, running, synthetic_data

LAST_RUN = FIRST_RUN + 24

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_oms():
    with running(synthetic_data(runs=25, lumisections=7)) as server:
        yield server


def mirror() -> dict[int, list[int]]:
    return {
        run.run_number: sorted(run.lumisections.values_list("number", flat=True))
        for run in Run.objects.prefetch_related("lumisections")
    }


def served(server) -> dict[int, list[int]]:
    return {n: [ls["lumisection_number"] for ls in rows] for n, rows in server.data.lumisections.items()}


def sync(server, **kwargs):
    return runs_sync(client=oms_client(server), use_default_sources=False, chunk_runs=10, **kwargs)


def test_it_cuts_ranges_on_aligned_chunks():
    assert chunk_ranges(315, 342, 10) == [(315, 319), (320, 329), (330, 339), (340, 342)]
    assert chunk_ranges(320, 320, 10) == [(320, 320)]


def test_it_lands_exactly_the_runs_and_lumisections_the_server_holds(fake_oms):
    job = sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)

    assert mirror() == served(fake_oms)
    assert set(Fill.objects.values_list("fill_number", flat=True)) == {7000, 7001, 7002}
    assert job.status == JobStatus.SUCCEEDED
    assert job.rows_created == 25 + 25 * 7 + 3
    assert job.progress_done == job.progress_total == 3
    run = Run.objects.get(run_number=FIRST_RUN)
    assert run.fill.fill_number == 7000
    assert run.init_lumi == 1.5 and run.instant_lumi_source_unit == "10^{34}cm^{-2}s^{-1}"
    assert run.run_class == "collisions_pp"
    assert run.pileup_mean == pytest.approx(50.4)


def test_it_changes_nothing_on_a_second_sync(fake_oms):
    sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)
    before = list(Lumisection.objects.order_by("id").values())

    job = sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)

    assert (job.rows_created, job.rows_updated) == (0, 0)
    # 25 runs, their lumisections, and fills once per chunk holding their runs (3 + 2 shared)
    assert job.rows_unchanged == 25 + 25 * 7 + 5
    assert list(Lumisection.objects.order_by("id").values()) == before


def test_it_converts_a_changed_unit_to_the_canonical_one(fake_oms):
    fake_oms.faults.arm({"fault": "unit_change", "resource": "lumisections", "run_number": FIRST_RUN + 3})
    fake_oms.faults.arm({"fault": "unit_change", "resource": "runs"})

    sync(fake_oms, run_from=FIRST_RUN, run_to=FIRST_RUN + 5)

    run = Run.objects.get(run_number=FIRST_RUN + 3)
    assert run.init_lumi == pytest.approx(1.5)
    assert run.delivered_lumi == pytest.approx(53.0)
    assert run.instant_lumi_source_unit == "10^{33}cm^{-2}s^{-1}"
    ls = run.lumisections.get(number=2)
    assert ls.init_lumi == pytest.approx(1.498)
    assert ls.delivered_lumi == pytest.approx(0.7)


def test_it_rejects_a_run_with_a_malformed_lumisection_whole(fake_oms, caplog):
    bad = FIRST_RUN + 4
    fake_oms.faults.arm({"fault": "malformed_row", "resource": "lumisections", "run_number": bad})

    job = sync(fake_oms, run_from=FIRST_RUN, run_to=FIRST_RUN + 9)

    assert bad not in mirror()
    assert not Lumisection.objects.filter(run__run_number=bad).exists()
    assert len(mirror()) == 9
    assert any(str(bad) in e["reason"] and "lumisection_number" in e["reason"] for e in job.errors)
    assert f"OMS run {bad} not written" in caplog.text
    assert job.rows_skipped == 1


def test_it_rejects_a_malformed_run_row_and_logs_it(fake_oms, caplog):
    fake_oms.faults.arm({"fault": "malformed_row", "resource": "runs"})

    job = sync(fake_oms, run_from=FIRST_RUN, run_to=FIRST_RUN + 9)

    assert len(mirror()) == 9
    assert job.errors and "run_number" in job.errors[0]["reason"]
    assert "rejected" in caplog.text


def test_it_rejects_an_unknown_unit_with_a_clear_error(fake_oms):
    bad = FIRST_RUN + 2
    fake_oms.faults.arm({"fault": "unknown_unit", "resource": "lumisections", "run_number": bad})

    job = sync(fake_oms, run_from=FIRST_RUN, run_to=FIRST_RUN + 9)

    assert bad not in mirror()
    assert any("unknown" in e["reason"] and "furlongs" in e["reason"] for e in job.errors)


def test_it_survives_transient_faults_by_retrying(fake_oms):
    for fault in ("error_500", "error_429", "cut_body", "short_page"):
        fake_oms.faults.arm({"fault": fault, "resource": "lumisections"})
    fake_oms.faults.arm({"fault": "expire_tokens"})

    sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)

    assert mirror() == served(fake_oms)


def test_it_never_half_writes_a_run_when_oms_goes_down_mid_run(fake_oms):
    down = FIRST_RUN + 6
    fake_oms.faults.arm({"fault": "error_500", "count": 100, "resource": "lumisections", "run_number": down})

    with pytest.raises(OmsTransientError):
        sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)

    assert sorted(mirror()) == list(range(FIRST_RUN, down))
    chunk = SyncChunk.objects.get(first_run=FIRST_RUN)
    assert chunk.status == ChunkStatus.FAILED and "HTTP 500" in chunk.last_error
    assert Job.objects.get().status == JobStatus.FAILED

    fake_oms.faults.clear()
    sync(fake_oms, run_from=FIRST_RUN, run_to=LAST_RUN)
    assert mirror() == served(fake_oms)


def test_it_does_not_touch_a_chunk_another_worker_holds(fake_oms):
    SyncChunk.objects.create(
        kind=OMS_RUNS,
        first_run=FIRST_RUN,
        last_run=FIRST_RUN + 8,
        status=ChunkStatus.RUNNING,
        claimed_by="other",
        claimed_until=timezone.now() + dt.timedelta(minutes=5),
    )

    with pytest.raises(ChunkBusy):
        runs_chunk_sync(first_run=FIRST_RUN, last_run=FIRST_RUN + 8, client=oms_client(fake_oms))

    assert Run.objects.count() == 0


def test_it_reclaims_the_chunk_of_a_worker_that_died(fake_oms):
    SyncChunk.objects.create(
        kind=OMS_RUNS,
        first_run=FIRST_RUN,
        last_run=FIRST_RUN + 8,
        status=ChunkStatus.RUNNING,
        claimed_by="dead",
        claimed_until=timezone.now() - dt.timedelta(seconds=1),
    )

    outcome = runs_chunk_sync(first_run=FIRST_RUN, last_run=FIRST_RUN + 8, client=oms_client(fake_oms))

    assert outcome.status == "done" and len(outcome.runs_written) == 9
    assert SyncChunk.objects.get().status == ChunkStatus.DONE


def test_it_claims_a_chunk_once_per_job():
    job = Job.objects.create(kind="oms_sync")
    claim = chunk_claim(kind=OMS_RUNS, first_run=1, last_run=9, job_id=job.pk)
    assert claim is not None

    with pytest.raises(ChunkBusy):
        chunk_claim(kind=OMS_RUNS, first_run=1, last_run=9, job_id=job.pk)
    SyncChunk.objects.update(status=ChunkStatus.DONE)

    assert chunk_claim(kind=OMS_RUNS, first_run=1, last_run=9, job_id=job.pk) is None
    other_job = Job.objects.create(kind="oms_sync")
    assert chunk_claim(kind=OMS_RUNS, first_run=1, last_run=9, job_id=other_job.pk) is not None


def test_it_rolls_back_the_run_it_was_writing_when_its_claim_was_taken(fake_oms, monkeypatch):
    real_upsert = oms_sync.lumisections_upsert

    def upsert_then_lose_claim(**kwargs):
        result = real_upsert(**kwargs)
        SyncChunk.objects.update(claimed_by="thief")
        return result

    monkeypatch.setattr(oms_sync, "lumisections_upsert", upsert_then_lose_claim)

    with pytest.raises(ClaimLost):
        runs_chunk_sync(first_run=FIRST_RUN, last_run=FIRST_RUN + 8, client=oms_client(fake_oms))

    assert Run.objects.count() == 0 and Lumisection.objects.count() == 0


def test_it_syncs_incrementally_from_the_high_water_mark(fake_oms, settings):
    settings.OMS_SYNC_LOOKBACK_RUNS = 5
    sync(fake_oms)  # empty mirror: the newest runs only, one look-back window
    assert sorted(mirror()) == list(range(LAST_RUN - 4, LAST_RUN + 1))
    assert SyncState.objects.get(key=OMS_RUNS).high_water_run == LAST_RUN

    new = LAST_RUN + 1
    fake_oms.data.runs[new] = {**fake_oms.data.runs[LAST_RUN], "run_number": new, "end_time": None}
    fake_oms.data.lumisections[new] = [{**ls, "run_number": new} for ls in fake_oms.data.lumisections[LAST_RUN]]
    job = sync(fake_oms)

    assert job.parameters["window"] == [LAST_RUN - 4, new]
    assert Run.objects.get(run_number=new).end_time is None
    # The open run is not "fully ingested": the mark stays below it.
    assert SyncState.objects.get(key=OMS_RUNS).high_water_run == LAST_RUN

    fake_oms.data.runs[new]["end_time"] = "2018-09-01T00:00:00Z"
    sync(fake_oms)
    assert Run.objects.get(run_number=new).end_time is not None
    assert SyncState.objects.get(key=OMS_RUNS).high_water_run == new


def test_it_runs_a_backfill_chunk_by_chunk_and_closes_the_job(fake_oms, monkeypatch):
    monkeypatch.setattr("ingestion.services.oms_sync.default_sources", lambda: (None, None))
    client = oms_client(fake_oms)
    job, ranges = runs_backfill_plan(run_from=FIRST_RUN, run_to=LAST_RUN, chunk_runs=10)
    assert ranges == [(FIRST_RUN, FIRST_RUN + 8), (FIRST_RUN + 9, FIRST_RUN + 18), (FIRST_RUN + 19, LAST_RUN)]

    statuses = [runs_chunk_sync_for_job(job_id=job.pk, first_run=a, last_run=b, client=client) for a, b in ranges]
    # A message delivered twice (acks_late after a lost ack) does nothing the second time.
    again = runs_chunk_sync_for_job(job_id=job.pk, first_run=ranges[0][0], last_run=ranges[0][1], client=client)

    job.refresh_from_db()
    assert mirror() == served(fake_oms)
    assert "already done" in again and all("runs" in s for s in statuses)
    assert job.status == JobStatus.SUCCEEDED and job.progress_done == job.progress_total == 3
    assert job.finished_at is not None
