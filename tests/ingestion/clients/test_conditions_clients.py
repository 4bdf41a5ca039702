"""ingestion.conditions_clients against demo.fake_conditions over a socket: what is sent, the
rate limit, timeouts, and what an unusable answer raises."""

import pytest

from demo.fake_conditions import APV_PATH, DIALS_API, ConditionsData
from demo.fake_oms import TOKEN_PATH
from ingestion.conditions_clients import ApvModeClient, ConditionsError, ConditionsRefused, DialsClient
from tests.ingestion.clients.fakes import CLIENT_SECRET, running, synthetic_data


@pytest.fixture
def server():
    data = synthetic_data(runs=0)
    data.conditions = ConditionsData(
        apv_modes={349422: "DECO", 349423: "PEAK"},
        pv_means={349500: {"/ZeroBias/Run2022A-PromptReco-v1/DQMIO": 30.0}},
        lumisections={349500: 25},
    )
    with running(data) as fake:
        yield fake


def apv(server, **overrides) -> ApvModeClient:
    options = {"url": f"{server.url}{APV_PATH}", "max_requests_per_s": None, "max_retries": 1, "timeout_s": 2.0}
    options["backoff_base_s"] = 0.0
    return ApvModeClient.from_settings(**{**options, **overrides})


def dials(server, **overrides) -> DialsClient:
    options = {
        "api_url": f"{server.url}{DIALS_API}",
        "token_url": f"{server.url}{TOKEN_PATH}",
        "client_id": "refrun-test",
        "client_secret": CLIENT_SECRET,
        "max_requests_per_s": None,
        "max_retries": 1,
        "backoff_base_s": 0.0,
    }
    return DialsClient.from_settings(**{**options, **overrides})


def test_it_reads_the_mode_certhelper_reads(server):
    client = apv(server)
    assert (client.apv_mode(349422), client.apv_mode(349423), client.apv_mode(1)) == ("DECO", "PEAK", None)


def test_it_keeps_to_one_request_a_second(server):
    waits = []
    client = apv(server, max_requests_per_s=1.0, sleep=waits.append)

    for number in (349422, 349423, 349424):
        client.apv_mode(number)

    # The sleeps are recorded, not slept: the third call is due two seconds after the first.
    assert len(waits) == 2 and 0.9 < waits[0] <= 1.0 and 1.9 < waits[1] <= 2.0


def test_it_times_out(server):
    server.faults.arm({"fault": "slow", "seconds": 1.0, "count": 2, "resource": "apv"})
    with pytest.raises(ConditionsError, match="ReadTimeout after 2 attempts"):
        apv(server, timeout_s=0.2).apv_mode(349422)


def test_it_refuses_an_answer_for_another_run(server, monkeypatch):
    client = apv(server)
    monkeypatch.setattr(client, "url", f"{server.url}{APV_PATH}")
    server.data.conditions.apv_modes[5] = "DECO"
    original = client.transport.send

    def wrong_run(method, url, **kwargs):
        return original(method, url, params={"RUN": 349422})

    monkeypatch.setattr(client.transport, "send", wrong_run)
    with pytest.raises(ConditionsError, match="asked for run 5, answered for run 349422"):
        client.apv_mode(5)


def test_it_pages_dials_with_a_bearer_token_and_the_workspace(server):
    client = dials(server)
    pages = list(
        client.histograms_1d(me="OfflinePV/offlinePrimaryVertices/vtxNbr", run_min=349000, run_max=349999, page_size=10)
    )

    assert [len(p) for p in pages] == [10, 10, 5]
    assert client.requests_made == 1 + 3  # the token, then three pages


def test_dials_without_credentials_is_refused_before_any_request(server):
    client = dials(server, client_id="")
    with pytest.raises(ConditionsRefused, match="set DIALS_CLIENT_ID and DIALS_CLIENT_SECRET"):
        list(client.histograms_1d(me="x", run_min=1, run_max=2))
    assert client.requests_made == 0


def test_dials_renews_an_expired_token_once(server):
    client = dials(server)
    list(client.histograms_1d(me="x", run_min=1, run_max=2))
    server.faults.arm({"fault": "expire_tokens"})

    assert list(client.histograms_1d(me="x", run_min=1, run_max=2)) == [[]]


def test_the_secret_is_not_in_the_repr(server):
    assert CLIENT_SECRET not in repr(dials(server))


def test_it_pages_dials_run_list_of_dqmio_datasets(server):
    server.data.conditions.dqmio_datasets = {
        349500 + i: [f"/Cosmics/Run2022A-PromptReco-v{v}/DQMIO" for v in (1, 2)] + ["/Cosmics/Run2022A-v1/RAW"]
        for i in range(6)
    }
    client = dials(server)

    pages = list(client.run_datasets(run_min=349501, run_max=349505, page_size=4))

    assert [len(p) for p in pages] == [4, 4, 2]  # five runs, two DQMIO datasets each; RAW left out
    assert pages[0][0].run_number == 349501 and pages[0][0].dataset == "/Cosmics/Run2022A-PromptReco-v1/DQMIO"
    assert client.requests_made == 1 + 3
