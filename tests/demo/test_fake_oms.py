"""demo.fake_oms on its own: the real JSON shapes, auth, query syntax, faults."""

import pytest
import requests

from demo.fake_oms import CERTHELPER_PATH, TOKEN_PATH, FakeOmsData
from tests.factories import LumisectionFactory, RunFactory
from tests.ingestion.clients.fakes import FIRST_RUN, running, synthetic_data


@pytest.fixture
def server():
    with running(synthetic_data(runs=12, lumisections=3)) as fake:
        yield fake


def token(server) -> str:
    form = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b", "audience": "cmsoms-prod"}
    answer = requests.post(f"{server.url}{TOKEN_PATH}", data=form, timeout=5).json()
    assert answer["expires_in"] == 600
    return answer["access_token"]


def get(server, resource, params=None, *, bearer=None):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    return requests.get(f"{server.url}/agg/api/v1/{resource}/", params=params, headers=headers, timeout=5)


def test_it_wants_a_token(server):
    assert get(server, "runs").status_code == 401
    assert get(server, "runs", bearer=token(server)).status_code == 200


def test_it_answers_in_the_oms_page_shape(server):
    params = {"filter[run_number][GE]": FIRST_RUN + 2, "filter[run_number][LE]": FIRST_RUN + 9, "sort": "-run_number"}
    params |= {"fields": "run_number,init_lumi", "page[offset]": 2, "page[limit]": 3}

    page = get(server, "runs", params, bearer=token(server)).json()

    assert page["meta"]["totalResourceCount"] == 8
    assert [item["id"] for item in page["data"]] == [str(FIRST_RUN + n) for n in (7, 6, 5)]
    item = page["data"][0]
    assert item["type"] == "runs" and item["attributes"] == {"run_number": FIRST_RUN + 7, "init_lumi": 1.5}
    assert item["meta"]["row"] == {"init_lumi": {"units": "10^{34}cm^{-2}s^{-1}"}}
    assert page["links"]["next"].endswith("page[offset]=5&page[limit]=3")


def test_it_accepts_lower_case_and_resource_prefixed_filters(server):
    params = {"filter[lumisections][run_number][eq]": FIRST_RUN, "filter[physics_flag][EQ]": "true"}

    page = get(server, "lumisections", params, bearer=token(server)).json()

    assert [item["id"] for item in page["data"]] == [f"{FIRST_RUN}_2", f"{FIRST_RUN}_3"]


def test_it_arms_lists_and_clears_faults_over_http(server):
    url = f"{server.url}/_faults"
    assert requests.post(url, json={"fault": "error_500", "count": 1}, timeout=5).status_code == 200
    assert requests.post(url, json={"fault": "no_such_fault"}, timeout=5).status_code == 400

    assert [f["fault"] for f in requests.get(url, timeout=5).json()["faults"]] == ["error_500"]
    assert get(server, "runs", bearer=token(server)).status_code == 500
    assert get(server, "runs", bearer=token(server)).status_code == 200
    requests.post(url, json={"fault": "expire_tokens"}, timeout=5)
    requests.delete(url, timeout=5)
    assert requests.get(url, timeout=5).json()["faults"] == []


def test_it_serves_certhelper_without_auth(server):
    pairs = requests.get(f"{server.url}{CERTHELPER_PATH}", timeout=5).json()

    assert pairs[0]["reference_run_number"] == FIRST_RUN


def test_it_checks_credentials_when_given_some():
    with running(synthetic_data(runs=1), client_id="refrun", client_secret="right") as fake:
        form = {"grant_type": "client_credentials", "client_id": "refrun", "client_secret": "wrong"}
        assert requests.post(f"{fake.url}{TOKEN_PATH}", data=form, timeout=5).status_code == 401


@pytest.mark.django_db
def test_it_serves_refruns_own_database():
    run = RunFactory(run_number=380123)
    LumisectionFactory(run=run, number=1)
    LumisectionFactory(run=run, number=2)

    data = FakeOmsData.from_database()

    assert data.runs[380123]["fill_number"] == run.fill.fill_number
    assert [ls["lumisection_number"] for ls in data.lumisections[380123]] == [1, 2]
    assert data.runs[380123]["start_time"].endswith("Z")


@pytest.mark.shared_data
def test_it_serves_the_shared_dumps(shared_data_dir):
    data = FakeOmsData.from_dumps(shared_data_dir)

    assert (len(data.runs), len(data.fills), data.lumisection_count) == (2054, 1016, 100_000)
    assert len(data.certhelper_pairs) == 9589
    ls = data.lumisections[315150][80]
    assert (ls["lumisection_number"], ls["delivered_lumi"], ls["physics_flag"]) == (81, 2.492024414063, True)
    assert data.runs[315190]["components"] and data.runs[315190]["stable_beam"] in (True, False)
    assert data.fill_row_units[6614]["init_lumi"] == "10^{34}cm^{-2}s^{-1}"
