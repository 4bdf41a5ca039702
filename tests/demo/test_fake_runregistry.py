"""demo.fake_runregistry: the Run Registry double, over a real socket as the client calls it."""

import json
from collections import Counter
from io import StringIO

import pytest
import requests
from django.core.management import call_command

from demo.fake_oms import TOKEN_PATH, FakeOmsData
from demo.fake_runregistry import RUNREGISTRY_PREFIX, FakeRunRegistryData
from tests.ingestion.clients.fakes import running
from tests.ingestion.runregistry_fakes import FIRST_RUN, runregistry_client, synthetic_runregistry


@pytest.fixture
def fake_rr():
    with running(synthetic_runregistry(runs=12)) as server:
        yield server


def _token(server) -> str:
    form = {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}
    return requests.post(f"{server.url}{TOKEN_PATH}", data=form, timeout=5).json()["access_token"]


def _post(server, path, body, token=None):
    headers = {"Content-type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(f"{server.url}{RUNREGISTRY_PREFIX}{path}", data=json.dumps(body), headers=headers, timeout=5)


def test_it_pages_datasets_as_the_runregistry_client_reads_them(fake_rr):
    token = _token(fake_rr)
    body = {"page": 1, "page_size": 10, "sortings": [["run_number", "DESC"]]}
    body["filter"] = {"run_number": {"and": [{">=": FIRST_RUN + 2}, {"<=": FIRST_RUN + 6}]}}

    answer = _post(fake_rr, "/datasets_filtered_ordered", body, token).json()

    assert (answer["count"], answer["pages"], len(answer["datasets"])) == (15, 2, 5)
    first = answer["datasets"][0]
    assert first["run_number"] == FIRST_RUN + 3  # DESC: page 1 holds the oldest runs
    assert set(first) >= {"name", "dataset_attributes", "Run", "DatasetTripletCache"}
    assert first["Run"]["rr_attributes"]["class"] == "Collisions24"


def test_it_filters_runs_by_equality_and_or(fake_rr):
    token = _token(fake_rr)
    one = _post(fake_rr, "/datasets_filtered_ordered", {"filter": {"run_number": {"=": FIRST_RUN}}}, token).json()
    either = {"run_number": {"or": [{"=": FIRST_RUN}, {"=": FIRST_RUN + 5}]}}
    two = _post(fake_rr, "/datasets_filtered_ordered", {"filter": either}, token).json()
    assert {d["run_number"] for d in one["datasets"]} == {FIRST_RUN}
    assert {d["run_number"] for d in two["datasets"]} == {FIRST_RUN, FIRST_RUN + 5}


def test_it_answers_ranges_by_component_and_its_summary_agrees(fake_rr):
    token = _token(fake_rr)
    name = "/PromptReco/Collisions2024G/DQM"
    ranges = _post(
        fake_rr,
        "/lumisections/rr_lumisection_ranges_by_component",
        {"run_number": FIRST_RUN, "dataset_name": name},
        token,
    ).json()
    assert ranges["tracker-pixel"] == [{"start": 1, "end": 20, "status": "BAD"}]
    assert ranges["tracker-strip"][0] == {"start": 1, "end": 18, "status": "GOOD"}
    summary = fake_rr.data.runregistry.datasets[(FIRST_RUN, name)].triplet_summary()
    assert (summary["tracker-strip"]["GOOD"], summary["tracker-strip"]["BAD"]) == (18, 2)


def test_it_refuses_calls_without_a_token_and_unknown_paths_and_filters(fake_rr):
    assert _post(fake_rr, "/datasets_filtered_ordered", {}).status_code == 401
    token = _token(fake_rr)
    assert _post(fake_rr, "/runs_nowhere", {}, token).status_code == 404
    bad = {"filter": {"run_number": {"~": 1}}}
    assert _post(fake_rr, "/datasets_filtered_ordered", bad, token).status_code == 400


def test_its_faults_hit_only_the_run_registry(fake_rr):
    requests.post(f"{fake_rr.url}/_faults", json={"fault": "error_500", "resource": "runregistry"}, timeout=5)
    token = _token(fake_rr)  # the token endpoint is not hit
    assert _post(fake_rr, "/datasets_filtered_ordered", {}, token).status_code == 500
    assert _post(fake_rr, "/datasets_filtered_ordered", {}, token).status_code == 200
    assert fake_rr.counters["runregistry"] == 2


def test_the_client_reads_every_page(fake_rr):
    pages = list(runregistry_client(fake_rr).dataset_pages(run_min=FIRST_RUN, run_max=FIRST_RUN + 11))
    assert [len(p) for p in pages] == [10, 10, 10, 6]


@pytest.mark.shared_data
def test_with_data_it_serves_2018_from_the_masks(shared_data_dir):
    data = FakeOmsData.from_dumps(shared_data_dir)
    tracker = json.loads((shared_data_dir / "certification_json_trk_promptreco_2018.json").read_text())
    dcs = json.loads((shared_data_dir / "certification_json_dcsonly_2018.json").read_text())
    prompt = {n: d for (n, name), d in data.runregistry.datasets.items() if name != "online"}

    assert set(prompt) == {int(r) for r in set(tracker) | set(dcs)}
    for run in (315257, 315259):
        if str(run) in tracker:
            summary = prompt[run].triplet_summary()["tracker-strip"]
            assert summary["GOOD"] == sum(b - a + 1 for a, b in tracker[str(run)])
    dcs_only = [int(r) for r in dcs if r not in tracker]
    assert dcs_only and all(prompt[r].triplet_summary()["tracker-pixel"]["GOOD"] == 0 for r in dcs_only)
    assert {d.state for d in prompt.values()} == {"COMPLETED"}


@pytest.mark.django_db
def test_without_data_a_few_days_of_the_simulation_are_open():
    # The simulation's natural density, about 3,250 runs a year, as in the demo.
    call_command("simulate", "--seed", "3", "--years", "2024", "--lumisections-for-last", "0", stdout=StringIO())

    data = FakeRunRegistryData.from_database()

    states = Counter(d.state for (_, name), d in data.datasets.items() if name != "online")
    assert 10 <= states["OPEN"] <= 400, states
    assert states["COMPLETED"] > 5 * states["OPEN"]
    newest_open = max(n for (n, _), d in data.datasets.items() if d.state == "OPEN")
    oldest_open = min(n for (n, _), d in data.datasets.items() if d.state == "OPEN")
    assert newest_open == max(n for n, _ in data.datasets) and oldest_open > min(n for n, _ in data.datasets)
