"""demo.fake_conditions through fake_oms: the APV-mode CGI's and DIALS's HTTP, over a socket."""

import pytest
import requests

from demo.fake_conditions import APV_PATH, DIALS_API, ConditionsData, histogram_data, ls_histogram
from demo.fake_oms import TOKEN_PATH, FakeOmsData
from ingestion.conditions_clients import _histogram
from ingestion.sources import pv_means_of
from tests.ingestion.clients.fakes import running, synthetic_data

ZB = "/ZeroBias/Run2018A-PromptReco-v1/DQMIO"


@pytest.fixture
def server():
    data = synthetic_data(runs=0)
    data.conditions = ConditionsData(
        apv_modes={315116: "PEAK"}, pv_means={315104: {ZB: 23.798}, 315106: {ZB: 0.0}}, lumisections={315104: 11}
    )
    with running(data) as fake:
        yield fake


def bearer(server) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b", "audience": "dials"}
    token = requests.post(f"{server.url}{TOKEN_PATH}", data=form, timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "Workspace": "tracker"}


def test_it_answers_as_the_apv_cgi(server):
    assert requests.get(f"{server.url}{APV_PATH}", params={"RUN": 315116}, timeout=5).text == '[["315116", "PEAK"]]'
    assert requests.get(f"{server.url}{APV_PATH}", params={"RUN": 315117}, timeout=5).text == "[]"


def test_dials_wants_a_token(server):
    assert requests.get(f"{server.url}{DIALS_API}/th1/", timeout=5).status_code == 401


def test_dials_pages_by_next_token_and_the_weighted_mean_is_the_value(server):
    params = {"me": "OfflinePV/offlinePrimaryVertices/vtxNbr", "run_number__gte": 315000, "run_number__lte": 315110}
    params["page_size"] = 4
    headers = bearer(server)
    results, pages = [], 0
    url = f"{server.url}{DIALS_API}/th1/"
    while True:
        page = requests.get(url, params=params, headers=headers, timeout=5).json()
        results += page["results"]
        pages += 1
        if page["next"] is None:
            break
        params["next_token"] = requests.utils.urlparse(page["next"]).query.split("next_token=")[1].split("&")[0]

    assert pages == 6 and len(results) == 11 + 10  # 315106: no LS count known, ten histograms
    first = results[0]
    assert (first["run_number"], first["ls_number"], first["x_bin"], len(first["data"])) == (315104, 1, 100, 100)
    means = pv_means_of(_histogram(r) for r in results)
    assert means[315104] == pytest.approx(23.798, rel=1e-9)
    assert means[315106] == pytest.approx(0.0, abs=1e-12)
    # Lumisections differ from one another: the client must weight by entries.
    assert len({r["entries"] for r in results}) == 3


def test_an_unknown_me_has_no_histograms(server):
    params = {"me": "Tracking/Other", "run_number__gte": 1}
    page = requests.get(f"{server.url}{DIALS_API}/th1/", params=params, headers=bearer(server), timeout=5).json()
    assert page == {"next": None, "previous": None, "results": []}


def test_faults_hit_only_their_resource(server):
    requests.post(f"{server.url}/_faults", json={"fault": "error_500", "resource": "apv"}, timeout=5)
    assert requests.get(f"{server.url}{DIALS_API}/th1/", headers=bearer(server), timeout=5).status_code == 200
    assert requests.get(f"{server.url}{APV_PATH}", params={"RUN": 315116}, timeout=5).status_code == 500
    assert requests.get(f"{server.url}{APV_PATH}", params={"RUN": 315116}, timeout=5).status_code == 200


@pytest.mark.parametrize("mean", [0.0, 0.4, 5.608748904285594, 23.798, 61.2])
def test_a_histogram_pair_keeps_the_value(mean):
    (m1, e1), (m2, e2) = ls_histogram(mean, 0, 2), ls_histogram(mean, 1, 2)
    assert (m1 * e1 + m2 * e2) / (e1 + e2) == pytest.approx(mean, abs=1e-9)
    data = histogram_data(m1, e1)
    assert sum(data) == pytest.approx(e1) and sum(i * c for i, c in enumerate(data)) / e1 == pytest.approx(m1)


def test_the_demo_serves_the_runs_own_values():
    data = FakeOmsData(runs={380001: {"run_number": 380001, "apv_mode": "PEAK", "pv_mean": 12.5, "era": "Run2024C"}})
    conditions = ConditionsData.from_oms_data(data)
    assert conditions.apv_modes == {380001: "PEAK"}
    assert conditions.pv_means == {380001: {"/ZeroBias/Run2024C-PromptReco-v1/DQMIO": 12.5}}


@pytest.mark.shared_data
def test_with_data_it_serves_the_shared_files(shared_data_dir):
    conditions = FakeOmsData.from_dumps(shared_data_dir).conditions
    assert len(conditions.apv_modes) == 2999 and conditions.apv_modes[315116] == "DECO"
    assert len(conditions.pv_means) == 1655
    assert set(conditions.pv_means[315104]) == {
        "/ZeroBias/Commissioning2018-PromptReco-v1/DQMIO",  # the run's era in OMS
        "/StreamExpress/Commissioning2018-Express-v1/DQMIO",
    }


def test_dials_run_list_filters_by_run_and_dataset_regex_as_dials_does(server):
    server.data.conditions.dqmio_datasets = {
        315104: ["/ZeroBias/Run2018A-PromptReco-v1/DQMIO", "/ZeroBias/Run2018A-v1/RAW"],
        315200: ["/StreamExpress/Run2018A-Express-v1/DQMIO"],
    }
    params = {"run_number__gte": 315000, "run_number__lte": 315150, "dataset__regex": "/DQMIO$"}

    page = requests.get(f"{server.url}{DIALS_API}/run/", params=params, headers=bearer(server), timeout=5).json()

    assert page["next"] is None
    assert [(r["run_number"], r["dataset"]) for r in page["results"]] == [(315104, ZB)]
    assert set(page["results"][0]) == {"dataset_id", "dataset", "run_number", "ls_count", "ls_completeness"}
    assert requests.get(f"{server.url}{DIALS_API}/run/", timeout=5).status_code == 401


def test_without_data_the_run_list_gives_each_simulated_run_its_express_and_prompt_dqmio():
    oms = FakeOmsData()
    oms.runs = {383000: {"era": "Run2024F", "run_class": "cosmics"}, 383001: {"era": "2024F"}, 383002: {}}

    served = ConditionsData.from_oms_data(oms).dqmio_datasets

    assert served == {
        383000: ["/Cosmics/Run2024F-PromptReco-v2/DQMIO", "/StreamExpressCosmics/Run2024F-Express-v2/DQMIO"],
        383001: ["/StreamExpress/Run2024F-Express-v2/DQMIO", "/ZeroBias/Run2024F-PromptReco-v2/DQMIO"],
    }
