"""ingestion.services.conditions_sync over real HTTP to the doubles in demo.fake_conditions:
values set, a mode once known kept, an admin's value kept, and each source's faults."""

import datetime as dt
import socket

import pytest
import requests

from demo.fake_conditions import ConditionsData
from ingestion.models import Run, RunClass
from ingestion.services import conditions_sync
from ingestion.services.conditions_sync import CONDITIONS_STEPS
from jobs.models import JobStatus
from tests.factories import RunFactory
from tests.ingestion.clients.fakes import conditions_settings, running, synthetic_data

COSMICS = [330001, 330002, 330003]
COLLISIONS = [330010, 330011]


@pytest.fixture
def server(db, settings):
    data = synthetic_data(runs=0)
    data.conditions = ConditionsData(
        apv_modes={330001: "PEAK", 330002: "DECO", 330003: "DECO", 330010: "DECO"},
        pv_means={
            330010: {"/ZeroBias/Run2021A-PromptReco-v1/DQMIO": 21.5, "/StreamExpress/Run2021A-Express-v1/DQMIO": 20.0},
            330011: {"/StreamExpress/Run2021A-Express-v1/DQMIO": 33.25},
        },
        lumisections={330010: 7, 330011: 120},
    )
    for number in COSMICS:
        RunFactory(run_number=number, run_class=RunClass.COSMICS, l1_hlt_mode="cosmics2021")
    for number in COLLISIONS:
        RunFactory(run_number=number)
    with running(data) as fake:
        conditions_settings(settings, fake)
        yield fake


def arm(server, **fault):
    assert requests.post(f"{server.url}/_faults", json=fault, timeout=5).status_code == 200


def values():
    return dict((n, (m, p)) for n, m, p in Run.objects.values_list("run_number", "apv_mode", "pv_mean"))


def test_it_sets_the_modes_of_the_runs_that_need_one_and_the_preferred_pv_means(server):
    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.SUCCEEDED, job.message
    got = values()
    assert [got[n][0] for n in COSMICS] == ["PEAK", "DECO", "DECO"]
    assert got[330010] == ("", pytest.approx(21.5, rel=1e-9))  # collisions: not asked for a mode; ZeroBias prompt wins
    assert got[330011][1] == pytest.approx(33.25, rel=1e-9)  # 120 LS, three DIALS pages
    # APV: the 3 cosmics; PV means: the 2 collisions; DQMIO names: all 5 (none listed here).
    assert job.rows_updated == 5 and job.progress_done == job.progress_total == 3 + 2 + 5
    assert server.counters["apv"] == 3


def test_it_never_asks_again_for_a_mode_it_knows(server):
    conditions_sync(run_min=330000, run_max=330100)
    asked = server.counters["apv"]

    again = conditions_sync(run_min=330000, run_max=330100)

    assert server.counters["apv"] == asked and again.rows_updated == 0 and again.status == JobStatus.SUCCEEDED


def test_an_admins_value_stays(server):
    run = Run.objects.get(run_number=330011)
    run.pv_mean, run.sources = 40.0, {**run.sources, "pv_mean": "admin"}
    run.save()

    conditions_sync(run_min=330000, run_max=330100)

    assert Run.objects.get(run_number=330011).pv_mean == 40.0


def test_it_does_not_blank_what_a_source_no_longer_knows(server):
    conditions_sync(run_min=330000, run_max=330100)
    server.data.conditions.pv_means.clear()

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.SUCCEEDED and values()[330011][1] == pytest.approx(33.25)


# --- faults ------------------------------------------------------------------------------


def test_the_apv_service_down_fails_the_job_and_keeps_what_was_read(server):
    conditions_sync(run_min=330000, run_max=330100)
    before = values()
    Run.objects.filter(run_number=330003).update(apv_mode="")
    arm(server, fault="error_500", count=50, resource="apv")

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.FAILED
    assert (
        "apv_mode: 0 runs known of 1 runs asked, 0 changed; STOPPED: APV mode service: HTTP 500 after 2 attempts"
        in job.message
    )
    assert "pv_mean: 2 runs known of 2 runs asked" in job.message  # the next step still ran
    after = values()
    assert {n: v for n, v in after.items() if n != 330003} == {n: v for n, v in before.items() if n != 330003}


def test_a_slow_apv_service_times_out_into_a_failed_job(server, settings):
    settings.APV_MODE_TIMEOUT_S = 0.3
    arm(server, fault="slow", count=2, seconds=1.5, resource="apv")

    job = conditions_sync(run_min=330000, run_max=330001)

    assert job.status == JobStatus.FAILED and "ReadTimeout after 2 attempts" in job.message


def test_a_refused_apv_service_stops_at_the_first_run(server):
    arm(server, fault="reject_tokens", count=10, resource="apv")

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.FAILED and "HTTP 403 (access refused)" in job.message
    assert server.counters["apv"] == 1


def test_an_apv_answer_never_whole_stops_the_step_and_a_malformed_one_costs_its_run(server):
    arm(server, fault="malformed_row", count=1, resource="apv", run_number=330002)
    arm(server, fault="cut_body", count=5, resource="apv", run_number=330003)

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.FAILED  # 330003 never came whole: the service counts as down
    assert values()[330001][0] == "PEAK" and values()[330002][0] == ""
    reasons = [e["reason"] for e in job.errors]
    assert any("unreadable answer for run 330002" in r for r in reasons)


def test_a_malformed_apv_answer_is_a_partial_job(server):
    arm(server, fault="malformed_row", count=1, resource="apv", run_number=330002)

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.SUCCEEDED and job.message.startswith("partial; ")
    assert values()[330003][0] == "DECO"


def test_refused_dials_credentials_fail_the_job_and_keep_the_stored_means(server, settings):
    conditions_sync(run_min=330000, run_max=330100)
    server.client_id, server.client_secret = "the-real-one", "other"

    job = conditions_sync(run_min=330000, run_max=330100)

    assert (
        job.status == JobStatus.FAILED
        and "DIALS token request" in job.message
        and "refused with HTTP 401" in job.message
    )
    assert values()[330011][1] == pytest.approx(33.25)


def test_dials_tokens_rejected_fail_the_job(server):
    arm(server, fault="reject_tokens", count=10, resource="dials")

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.FAILED and "HTTP 401 even with a fresh token" in job.message


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("malformed_row", "a histogram without a usable 'data'"), ("short_page", "has 50 bins, x_bin says 100")],
)
def test_a_malformed_or_truncated_dials_page_is_a_partial_job(server, fault, reason):
    Run.objects.filter(run_number=330011).update(pv_mean=12.0)
    arm(server, fault=fault, count=1, resource="dials")

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.SUCCEEDED and job.message.startswith("partial; ")
    assert any(reason in e["reason"] for e in job.errors), job.errors
    assert values()[330011][1] == 12.0  # the range was not read: nothing overwritten, nothing blanked


def test_dials_5xx_and_cut_bodies_are_retried(server, settings):
    settings.CONDITIONS_MAX_RETRIES = 2
    arm(server, fault="error_500", count=1, resource="dials")
    arm(server, fault="cut_body", count=1, resource="dials")

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.SUCCEEDED and not job.errors, job.message


def test_dials_down_for_good_fails_the_job(server, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    settings.DIALS_API_URL = f"http://127.0.0.1:{free_port}/dials/api/v1"

    job = conditions_sync(run_min=330000, run_max=330100)

    assert job.status == JobStatus.FAILED and "DIALS: ConnectionError after 2 attempts" in job.message


def test_no_configured_service_is_a_quiet_job(db, settings):
    settings.APV_MODE_URL = ""
    settings.DIALS_API_URL = ""

    job = conditions_sync(run_min=1, run_max=10)

    assert job.status == JobStatus.SUCCEEDED and "no conditions source configured" in job.message


def test_the_steps_are_a_list_a_new_source_joins_with_one_line():
    assert [step.name for step in CONDITIONS_STEPS] == [
        "apv_mode",
        "pv_mean",
        "dqmio_datasets",
        "tracker_certification",
    ]


# --- runs the APV mode service does not know ----------------------------------------------


def test_a_run_the_apv_service_does_not_know_is_asked_again_only_after_the_retry_window(server, settings):
    RunFactory(run_number=330004, run_class=RunClass.COSMICS, l1_hlt_mode="cosmics2021")
    settings.APV_MODE_RETRY_HOURS = 24

    first = conditions_sync(run_min=330000, run_max=330100)
    assert server.counters["apv"] == 4 and first.status == JobStatus.SUCCEEDED, first.message
    unknown = Run.objects.get(run_number=330004)
    assert unknown.apv_mode == "" and unknown.apv_mode_asked_at is not None

    again = conditions_sync(run_min=330000, run_max=330100)
    assert server.counters["apv"] == 4  # not asked within the window
    assert again.rows_updated == 0 and again.status == JobStatus.SUCCEEDED

    # A day later the service has learnt the mode; the run is asked again and gets it.
    Run.objects.filter(run_number=330004).update(apv_mode_asked_at=unknown.apv_mode_asked_at - dt.timedelta(hours=25))
    server.data.conditions.apv_modes[330004] = "PEAK"
    later = conditions_sync(run_min=330000, run_max=330100)
    assert server.counters["apv"] == 5, later.message
    assert Run.objects.get(run_number=330004).apv_mode == "PEAK"
