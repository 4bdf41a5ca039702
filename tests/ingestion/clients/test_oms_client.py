"""OmsClient against demo.fake_oms over a real socket."""

import logging

import pytest

from ingestion.clients import OmsClient, OmsError, OmsTransientError
from ingestion.http import RateLimiter
from tests.ingestion.clients.fakes import CLIENT_SECRET, FIRST_RUN, oms_client


def arm(server, **fault):
    server.faults.arm(fault)


def test_it_pages_through_runs_oldest_first(fake_oms):
    client = oms_client(fake_oms)

    runs = list(client.runs(run_from=FIRST_RUN, page_size=10))

    assert [r.attributes["run_number"] for r in runs] == list(range(FIRST_RUN, FIRST_RUN + 25))
    assert fake_oms.counters["runs"] == 3


def test_it_filters_a_run_range_and_projects_fields(fake_oms):
    client = oms_client(fake_oms)

    runs = list(client.runs(run_from=FIRST_RUN + 3, run_to=FIRST_RUN + 5, fields=("run_number", "fill_number")))

    assert [r.attributes for r in runs] == [
        {"run_number": n, "fill_number": 7000} for n in range(FIRST_RUN + 3, FIRST_RUN + 6)
    ]


def test_it_reads_the_units_of_each_row(fake_oms):
    client = oms_client(fake_oms)
    arm(fake_oms, fault="unit_change", resource="lumisections")

    changed, normal = (list(client.lumisections(FIRST_RUN + i)) for i in (0, 1))

    assert changed[0].units["init_lumi"] == "10^{33}cm^{-2}s^{-1}"
    assert changed[0].attributes["init_lumi"] == pytest.approx(10 * normal[0].attributes["init_lumi"], rel=1e-3)
    assert normal[0].units["init_lumi"] == "10^{34}cm^{-2}s^{-1}"
    assert normal[0].units["delivered_lumi"] == "pb^{-1}"


def test_it_returns_the_lumisections_of_one_run_in_order(fake_oms):
    client = oms_client(fake_oms)

    rows = list(client.lumisections(FIRST_RUN + 2))

    assert [(r.attributes["run_number"], r.attributes["lumisection_number"]) for r in rows] == [
        (FIRST_RUN + 2, n) for n in range(1, 8)
    ]


def test_it_finds_the_newest_run(fake_oms):
    assert oms_client(fake_oms).newest_run_number() == FIRST_RUN + 24


def test_it_caches_the_token(fake_oms):
    client = oms_client(fake_oms)

    list(client.runs())
    list(client.lumisections(FIRST_RUN))
    list(client.fills())

    assert fake_oms.counters["token"] == 1


def test_it_renews_the_token_before_it_expires(fake_oms):
    now = [1000.0]
    client = oms_client(fake_oms, clock=lambda: now[0])
    list(client.runs(run_to=FIRST_RUN))

    now[0] += 600 - 30  # inside the expiry margin of a 600 s token

    list(client.runs(run_to=FIRST_RUN))
    assert fake_oms.counters["token"] == 2


def test_it_renews_an_old_token_once_on_401(fake_oms):
    client = oms_client(fake_oms)
    list(client.runs(run_to=FIRST_RUN))
    arm(fake_oms, fault="expire_tokens")

    runs = list(client.runs(run_to=FIRST_RUN))

    assert len(runs) == 1
    assert fake_oms.counters["token"] == 2


def test_it_fails_clearly_when_a_fresh_token_is_refused_too(fake_oms):
    client = oms_client(fake_oms)
    arm(fake_oms, fault="reject_tokens", count=2)

    with pytest.raises(OmsError, match="401 even with a fresh token") as excinfo:
        list(client.runs())

    assert not isinstance(excinfo.value, OmsTransientError)
    assert fake_oms.counters["token"] == 2


@pytest.mark.parametrize("fault", ["error_500", "error_429", "cut_body"])
def test_it_retries_a_transient_failure(fake_oms, fault):
    delays = []
    client = oms_client(fake_oms, sleep=delays.append, backoff_base_s=0.5)
    arm(fake_oms, fault=fault, count=2, resource="runs")

    runs = list(client.runs())

    assert len(runs) == 25
    assert len(delays) == 2


def test_it_backs_off_exponentially_with_jitter(fake_oms):
    delays = []
    client = oms_client(fake_oms, sleep=delays.append, backoff_base_s=1.0, max_retries=3)
    arm(fake_oms, fault="error_500", count=10, resource="runs")

    with pytest.raises(OmsTransientError, match="HTTP 500 after 4 attempts"):
        list(client.runs())

    assert len(delays) == 3
    assert all(0 <= d <= cap for d, cap in zip(delays, (1, 2, 4), strict=True))
    assert fake_oms.counters["runs"] == 4


def test_it_retries_an_answer_slower_than_its_timeout(fake_oms):
    client = oms_client(fake_oms, timeout_s=0.3)
    arm(fake_oms, fault="slow", seconds=1.0, resource="runs")

    runs = list(client.runs())

    assert len(runs) == 25
    assert fake_oms.counters["runs"] == 2


def test_it_refetches_a_page_that_ended_early(fake_oms):
    client = oms_client(fake_oms)
    arm(fake_oms, fault="short_page", resource="runs")

    runs = list(client.runs(page_size=10))

    assert [r.attributes["run_number"] for r in runs] == list(range(FIRST_RUN, FIRST_RUN + 25))


def test_it_fails_when_pages_keep_ending_early(fake_oms):
    client = oms_client(fake_oms, max_retries=2)
    arm(fake_oms, fault="short_page", count=10, resource="runs")

    with pytest.raises(OmsTransientError, match="ended early"):
        list(client.runs(page_size=10))


def test_it_does_not_retry_a_client_error(fake_oms):
    client = oms_client(fake_oms)

    with pytest.raises(OmsError, match="HTTP 400") as excinfo:
        list(client.iter_pages("runs", filters={("run_number", "BETWEEN"): 1}))

    assert not isinstance(excinfo.value, OmsTransientError)
    assert fake_oms.counters["runs"] == 1


def test_it_needs_credentials(fake_oms):
    client = oms_client(fake_oms, client_secret="")

    with pytest.raises(OmsError, match="OMS_CLIENT_ID and OMS_CLIENT_SECRET"):
        list(client.runs())


def test_it_never_logs_the_secret_or_the_token(fake_oms, caplog):
    caplog.set_level(logging.DEBUG)
    client = oms_client(fake_oms)
    arm(fake_oms, fault="expire_tokens")
    arm(fake_oms, fault="error_500", count=1)
    list(client.runs())
    token = client.token.value

    with pytest.raises(OmsError) as excinfo:
        oms_client(fake_oms, client_id="").runs().__next__()

    assert token and token not in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert CLIENT_SECRET not in repr(client) and CLIENT_SECRET not in str(excinfo.value)


def test_it_builds_from_settings(settings):
    settings.OMS_API_URL = "https://oms.example/agg/api/"
    settings.OMS_MAX_REQUESTS_PER_S = 0

    client = OmsClient.from_settings()

    assert client.base_url == "https://oms.example/agg/api/v1"
    assert client.transport.rate_limiter.min_interval == 0


def test_it_honours_the_request_rate(fake_oms):
    client = oms_client(fake_oms, max_requests_per_s=1000)
    slept = []
    client.transport.rate_limiter = RateLimiter(4, clock=lambda: 0.0, sleep=slept.append)

    for run in range(FIRST_RUN, FIRST_RUN + 3):
        list(client.lumisections(run))

    # token + 3 calls at one instant: each waits a quarter second more than the last
    assert slept == pytest.approx([0.25, 0.5, 0.75])


def test_it_spaces_real_requests_by_the_rate(fake_oms):
    import time

    client = oms_client(fake_oms, max_requests_per_s=20, sleep=time.sleep)
    started = time.monotonic()

    for run in range(FIRST_RUN, FIRST_RUN + 5):
        list(client.lumisections(run))

    assert time.monotonic() - started >= 5 * 0.05 - 0.01  # 6 requests, 5 gaps of 50 ms
