"""The conditions sync's DQMIO names from DIALS's run list (Run.dqmio_datasets), over real
HTTP to demo.fake_conditions: stored, kept, and each fault as the other DIALS steps."""

import pytest
import requests

from demo.fake_conditions import ConditionsData
from ingestion.models import Run, RunClass
from ingestion.services import conditions_sync
from ingestion.services.conditions_sync import CONDITIONS_STEPS
from jobs.models import JobStatus
from tests.factories import RunFactory
from tests.ingestion.clients.fakes import conditions_settings, running, synthetic_data

DQMIO_STEP = [step for step in CONDITIONS_STEPS if step.name == "dqmio_datasets"]
COSMICS_EXPRESS = "/StreamExpressCosmics/Run2024F-Express-v1/DQMIO"
COSMICS_PROMPT = "/Cosmics/Run2024F-PromptReco-v1/DQMIO"


@pytest.fixture
def server(db, settings):
    data = synthetic_data(runs=0)
    data.conditions = ConditionsData(
        dqmio_datasets={
            383000: [COSMICS_PROMPT, COSMICS_EXPRESS],
            383001: [COSMICS_EXPRESS],
            383002: ["/StreamExpress/Run2024F-Express-v1/DQMIO", "/ZeroBias/Run2024F-RAW-v1/RAW"],
            # Outside the mirror: listed by DIALS, stored nowhere.
            383009: [COSMICS_EXPRESS],
        }
    )
    for number in (383000, 383001):
        RunFactory(run_number=number, run_class=RunClass.COSMICS)
    RunFactory(run_number=383002)
    RunFactory(run_number=383003)  # DIALS has not reached it
    with running(data) as fake:
        conditions_settings(settings, fake)
        yield fake


def stored():
    return dict(Run.objects.values_list("run_number", "dqmio_datasets"))


def test_it_stores_each_runs_dqmio_datasets_and_a_second_sync_changes_nothing(server):
    job = conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)

    assert job.status == JobStatus.SUCCEEDED, job.message
    assert stored() == {
        383000: [COSMICS_PROMPT, COSMICS_EXPRESS],
        383001: [COSMICS_EXPRESS],
        383002: ["/StreamExpress/Run2024F-Express-v1/DQMIO"],  # DQMIO only (dataset__regex)
        383003: [],
    }
    assert job.rows_updated == 3 and "dqmio_datasets: 3 runs known of 4 runs asked" in job.message

    again = conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)
    assert again.rows_updated == 0 and again.rows_unchanged == 3


def test_a_name_dials_no_longer_lists_is_kept_and_a_new_one_joins(server):
    conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)
    conditions = server.data.conditions
    del conditions.dqmio_datasets[383001]
    conditions.dqmio_datasets[383003] = [COSMICS_EXPRESS]

    conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)

    assert stored()[383001] == [COSMICS_EXPRESS] and stored()[383003] == [COSMICS_EXPRESS]


def arm(server, **fault):
    assert requests.post(f"{server.url}/_faults", json=fault, timeout=5).status_code == 200


def test_a_malformed_run_list_is_a_partial_job_and_blanks_nothing(server):
    Run.objects.filter(run_number=383001).update(dqmio_datasets=["/StreamExpressCosmics/Run2024F-Express-v9/DQMIO"])
    arm(server, fault="malformed_row", count=1, resource="dials")

    job = conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)

    assert job.status == JobStatus.SUCCEEDED and job.message.startswith("partial; "), job.message
    assert any("DIALS run: a row without a usable 'dataset'" in e["reason"] for e in job.errors), job.errors
    assert stored()[383001] == ["/StreamExpressCosmics/Run2024F-Express-v9/DQMIO"]


def test_dials_tokens_rejected_fail_the_job(server):
    arm(server, fault="reject_tokens", count=10, resource="dials")

    job = conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)

    assert job.status == JobStatus.FAILED and "DIALS run/: HTTP 401 even with a fresh token" in job.message
    assert stored()[383000] == []


def test_dials_5xx_and_cut_bodies_are_retried(server, settings):
    settings.CONDITIONS_MAX_RETRIES = 2
    arm(server, fault="error_500", count=1, resource="dials")
    arm(server, fault="cut_body", count=1, resource="dials")

    job = conditions_sync(run_min=383000, run_max=383100, steps=DQMIO_STEP)

    assert job.status == JobStatus.SUCCEEDED and not job.errors, job.message
    assert stored()[383001] == [COSMICS_EXPRESS]
