"""tracker_certification_sync against demo.fake_oms's Run Registry over a real socket."""

import socket

import pytest

from ingestion.models import Run, TrackerCertification
from ingestion.runregistry_client import RunRegistryTransientError
from ingestion.services.runregistry_sync import (
    TrackerCertificationSyncError,
    component_flag,
    good_lumisections,
    reconstruction_of_dataset,
    tracker_certification_sync,
)
from tests.factories import RunFactory
from tests.ingestion.clients.fakes import running
from tests.ingestion.runregistry_fakes import FIRST_RUN, runregistry_client, synthetic_runregistry

pytestmark = pytest.mark.django_db

RUNS = 12
LAST_RUN = FIRST_RUN + RUNS - 1


@pytest.fixture
def fake_rr():
    with running(synthetic_runregistry(runs=RUNS)) as server:
        yield server


@pytest.fixture
def mirrored():
    # All runs but the last are mirrored: the last one's datasets are skipped.
    return [RunFactory(run_number=n) for n in range(FIRST_RUN, LAST_RUN)]


def sync(server, **overrides):
    return tracker_certification_sync(
        run_min=FIRST_RUN, run_max=LAST_RUN, client=runregistry_client(server, **overrides)
    )


def stored() -> dict[tuple[int, str], tuple]:
    return {
        (c.run.run_number, c.dataset): (
            c.reconstruction,
            c.state,
            c.pixel,
            c.strip,
            c.tracking,
            c.good_lumisections,
            c.lumisections,
        )
        for c in TrackerCertification.objects.select_related("run")
    }


def test_it_stores_flags_states_and_good_lumisections(fake_rr, mirrored):
    counts = sync(fake_rr)

    assert counts.created == 2 * (RUNS - 1)
    assert counts.unknown_runs == 2
    rows = stored()
    assert rows[(FIRST_RUN, "/Express/Collisions2024/DQM")] == ("express", "COMPLETED", "BAD", "GOOD", "GOOD", 0, 20)
    assert rows[(FIRST_RUN + 1, "/PromptReco/Collisions2024G/DQM")] == (
        "prompt",
        "SIGNOFF",
        "GOOD",
        "GOOD",
        "GOOD",
        18,
        20,
    )
    assert rows[(LAST_RUN - 1, "/Express/Collisions2024/DQM")][1] == "OPEN"
    run = Run.objects.get(run_number=FIRST_RUN + 1)
    assert (run.runregistry_class, run.significant) == ("Collisions24", True)
    cert = TrackerCertification.objects.get(run=run, reconstruction="prompt")
    assert cert.good_fraction == pytest.approx(0.9)


def test_it_changes_nothing_on_a_second_sync(fake_rr, mirrored):
    sync(fake_rr)
    before = {c.pk: c.updated_at for c in TrackerCertification.objects.all()}
    runs_before = dict(Run.objects.values_list("pk", "updated_at"))

    counts = sync(fake_rr)

    assert (counts.created, counts.updated, counts.runs_updated) == (0, 0, 0)
    assert counts.unchanged == 2 * (RUNS - 1)
    assert {c.pk: c.updated_at for c in TrackerCertification.objects.all()} == before
    assert dict(Run.objects.values_list("pk", "updated_at")) == runs_before


def test_it_never_blanks_a_stored_value_with_a_missing_one(fake_rr, mirrored):
    sync(fake_rr)
    before = stored()
    for dataset in fake_rr.data.runregistry.datasets.values():
        dataset.state = ""
        dataset.ranges = {}
        dataset.run_class = ""

    counts = sync(fake_rr)

    assert counts.updated == 0
    assert stored() == before
    assert Run.objects.get(run_number=FIRST_RUN).runregistry_class == "Collisions24"


def test_it_updates_a_dataset_whose_state_changed(fake_rr, mirrored):
    sync(fake_rr)
    fake_rr.data.runregistry.datasets[(LAST_RUN - 1, "/Express/Collisions2024/DQM")].state = "SIGNOFF"

    counts = sync(fake_rr)

    assert counts.updated == 1
    assert stored()[(LAST_RUN - 1, "/Express/Collisions2024/DQM")][1] == "SIGNOFF"


def test_it_reads_what_the_real_client_would():
    assert reconstruction_of_dataset("/PromptReco/Cosmics2024/DQM") == "prompt"
    assert reconstruction_of_dataset("/Express/Collisions2018/DQM") == "express"
    assert reconstruction_of_dataset("/ReReco/Run2018A_UL2018/DQM") == "rerecoul"
    assert reconstruction_of_dataset("/ReReco/Run2018A_17Sep2018/DQM") == "rereco"
    assert component_flag({"GOOD": 0, "BAD": 3, "STANDBY": 5}) == "STANDBY"
    assert component_flag({"GOOD": 1, "BAD": 30}) == "GOOD"
    assert component_flag({}) == ""
    assert good_lumisections({"tracker-pixel": [{"start": 1, "end": 4, "status": "GOOD"}]}) == (0, 4)


# --- faults: each raises TrackerCertificationSyncError and keeps what was stored -------


class ArmsAfterFirstPage:
    """A client that arms a fault on the server once the first page is read."""

    def __init__(self, client, server, fault):
        self.client, self.server, self.fault = client, server, fault

    def dataset_pages(self, **kwargs):
        for number, page in enumerate(self.client.dataset_pages(**kwargs)):
            yield page
            if number == 0:
                self.server.faults.arm(self.fault)

    def lumisection_ranges(self, **kwargs):
        return self.client.lumisection_ranges(**kwargs)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"fault": "error_500", "count": 10}, "HTTP 500 after 3 attempts"),
        ({"fault": "slow", "count": 10, "seconds": 1.2}, "ReadTimeout"),
        ({"fault": "reject_tokens", "count": 10}, "HTTP 401 even with a fresh token"),
        ({"fault": "malformed_row"}, "without run_number"),
        ({"fault": "short_page"}, "where 10 were announced"),
        ({"fault": "cut_body", "count": 10}, "after 3 attempts"),
    ],
    ids=["5xx", "timeout", "refused-credentials", "malformed", "truncated-page", "cut-body"],
)
def test_a_fault_mid_sync_fails_clearly_and_keeps_the_pages_before(fake_rr, mirrored, fault, message):
    client = ArmsAfterFirstPage(runregistry_client(fake_rr), fake_rr, {**fault, "resource": "runregistry"})

    with pytest.raises(TrackerCertificationSyncError, match=message) as caught:
        tracker_certification_sync(run_min=FIRST_RUN, run_max=LAST_RUN, client=client)

    # The first page (10 datasets: runs 1-4 online, express, prompt) stays stored.
    assert caught.value.counts.pages == 1
    assert TrackerCertification.objects.count() == caught.value.counts.created > 0


def test_it_fails_clearly_when_the_service_is_down(mirrored):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    class Closed:
        url = f"http://127.0.0.1:{port}"

    with pytest.raises(TrackerCertificationSyncError, match="ConnectionError after 3 attempts") as caught:
        sync(Closed())
    assert isinstance(caught.value.__cause__, RunRegistryTransientError)
    assert caught.value.counts.created == 0


def test_it_refuses_wrong_credentials_with_a_clear_message(mirrored):
    with running(synthetic_runregistry(runs=2), client_id="refrun-test", client_secret="the-right-one") as server:
        with pytest.raises(TrackerCertificationSyncError, match="check RUNREGISTRY_CLIENT_ID"):
            sync(server)
    assert not TrackerCertification.objects.exists()
