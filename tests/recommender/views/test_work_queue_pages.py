"""The landing page is the work queue, and a decision goes on in the queue's order."""

import re

import pytest
from django.urls import reverse

from ingestion.models import Run
from recommender.pages import display
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db

DATASET = "/Express/Collisions2024/DQM"
RECOS = ("express", "prompt")


def _express(number, **run):
    return RunReconstructionFactory(run=RunFactory(run_number=number, **run), reconstruction="express", dataset=DATASET)


@pytest.fixture
def queue():
    """380001 and 380010 were certified (express and prompt); 380020 and 380030 await
    both; 380040 is a 3-lumisection test run, and the newest run."""
    # A reference Certhelper named without a dataset, older than every known dataset.
    oldest = {reco: RunReconstructionFactory(run__run_number=380000, reconstruction=reco, dataset="") for reco in RECOS}
    for run_number, reference in ((380001, oldest), (380010, None)):
        for reco in RECOS:
            ReferencePairFactory(
                run_reconstruction=RunReconstructionFactory(run__run_number=run_number, reconstruction=reco),
                reference=reference[reco]
                if reference
                else RunReconstructionFactory(run__run_number=380001, reconstruction=reco),
            )
    _express(380020)
    _express(380030)
    _express(380040, last_lumisection_number=3)


def _row_links(body: str) -> list[str]:
    return re.findall(r'<tr><td class="num"><a href="([^"]+)">\d+</a>', body)


def test_it_lands_a_shifter_on_the_newest_awaiting_run_with_its_decision_forms(client, shifter_sam, queue):
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_list")).content.decode()
    links = _row_links(body)
    # The queue only, newest first: not the test run, not the certified runs.
    assert links == [reverse("recommender:run_detail", args=[n, "express"]) for n in (380030, 380020)]
    assert "page 1 of 1 (2 runs)" in body
    first = client.get(links[0]).content.decode()
    assert "Accept 380001" in first and "Use this one" in first and "Decided:" not in first
    # Every run is one filter away.
    assert ">380040<" in client.get(reverse("recommender:run_list"), {"status": ""}).content.decode()


def test_it_goes_on_in_the_queues_order_after_a_decision(client, shifter_sam, queue):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380020, "express"])
    # A shifter decides the older run while a newer one was synced: the newest comes next.
    _express(380050)
    response = client.post(url, {"decision": "accepted", "recommended_run_number": 380001})
    assert response.url == reverse("recommender:run_detail", args=[380050, "express"])
    response = client.post(
        reverse("recommender:feedback_submit", args=[380050, "express"]),
        {"decision": "accepted", "recommended_run_number": 380001},
    )
    assert response.url == reverse("recommender:run_detail", args=[380030, "express"])


def test_it_shows_durations_in_hours_and_minutes(client, shifter_sam, queue):
    Run.objects.filter(run_number=380030).update(duration=28105)
    client.force_login(shifter_sam)
    assert ">7 h 48 min<" in client.get(reverse("recommender:run_list")).content.decode()
    page = client.get(reverse("recommender:run_detail", args=[380030, "express"])).content.decode()
    assert "<dd>7 h 48 min</dd>" in page and "28,105 s" not in page


@pytest.mark.django_db(databases=[])
@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(28105, "7 h 48 min"), (3600, "1 h 0 min"), (2700, "45 min"), (59, "59 s"), (0, "0 s"), (None, "\u2013")],
)
def test_it_writes_a_duration_as_a_shifter_reads_it(seconds, shown):
    assert display.duration_text(seconds) == shown
