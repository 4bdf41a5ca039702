import pytest
from django.urls import reverse

from recommender.models import Feedback, ReferencePair
from tests.factories import (
    LumisectionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def history():
    """Run 380100 awaits certification; 380050 was the express reference of 380090."""
    reference = RunFactory(run_number=380050, duration=5000)
    RunFactory(run_number=380090)
    target = RunFactory(run_number=380100)
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run__run_number=380090, reconstruction="express"),
        reference=RunReconstructionFactory(run=reference, reconstruction="express"),
    )
    for number in (1, 2, 3):
        LumisectionFactory(run=target, number=number, init_lumi=1.0 - 0.1 * number)
        LumisectionFactory(run=reference, number=number, init_lumi=1.2 - 0.1 * number)
    return target


def test_it_shows_the_recommendation_side_by_side_and_the_lumisection_charts(client, shifter_sam, history):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_detail", args=[380100, "express"]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Accept 380050" in body
    assert "Run 380100 beside reference 380050" in body
    assert body.count("<svg") == 2


def test_it_explains_a_mistyped_run_number(client, shifter_sam):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_detail_default", args=[99]))
    assert response.status_code == 404
    assert b"no OMS data for this run" in response.content


def test_it_explains_an_unknown_reconstruction(client, shifter_sam, history):
    client.force_login(shifter_sam)
    response = client.get("/runs/380100/expres/")
    assert response.status_code == 404
    assert b"is not a reconstruction type" in response.content


def test_it_says_when_a_run_has_no_candidate(client, shifter_sam):
    RunFactory(run_number=380500, run_class="")
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_detail", args=[380500, "prompt"]))
    assert response.status_code == 200
    assert b"No candidate reference" in response.content


def test_it_records_an_accept_from_the_run_page(client, shifter_sam, history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    response = client.post(url, {"decision": "accepted", "recommended_run_number": 380050}, follow=True)

    assert b"is recorded" in response.content
    # On to the next run awaiting an express decision: 380090 has Certhelper's label, 380050 has none.
    assert response.redirect_chain[-1][0] == reverse("recommender:run_detail", args=[380050, "express"])
    decided = client.get(reverse("recommender:run_detail", args=[380100, "express"])).content.decode()
    assert "sam accepted 380050" in decided and "Decided: sam accepted it" in decided
    label = ReferencePair.objects.get(source="shifter")
    assert label.reference.run.run_number == 380050 and label.recorded_by == shifter_sam


def test_the_pages_own_forms_carry_what_it_showed_and_are_recorded(client, shifter_sam, history):
    """What a browser sends: every hidden field of the page's decision form, among
    them its signed record of the references it showed (checked, not recomputed)."""
    import re

    client.force_login(shifter_sam)
    page = client.get(reverse("recommender:run_detail", args=[380100, "express"])).content.decode()
    form = re.search(r'<form method="post" action="[^"]*" class="decision">(.*?)</form>', page, re.S).group(1)
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    assert set(hidden) >= {"recommended_run_number", "shown"} and hidden["shown"]

    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    response = client.post(url, {**hidden, "decision": "accepted"})

    assert response.status_code == 302
    assert Feedback.objects.get().recommended_reference.run_number == 380050


def test_it_asks_for_a_reason_when_rejecting(client, shifter_sam, history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    response = client.post(url, {"decision": "rejected", "recommended_run_number": 380050}, follow=True)

    assert b"Say why you reject" in response.content
    assert not Feedback.objects.exists()


def test_it_names_an_unknown_alternative_run(client, shifter_sam, history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    data = {"decision": "rejected", "recommended_run_number": 380050, "reason": "x", "alternative_run_number": 7}
    response = client.post(url, data, follow=True)
    assert b"the alternative run 7 is not in RefRun" in response.content


def test_it_filters_the_runs_page_by_status(client, shifter_sam, history):
    client.force_login(shifter_sam)
    awaiting = client.get(reverse("recommender:run_list"), {"status": "awaiting", "reconstruction": "express"})
    certified = client.get(reverse("recommender:run_list"), {"status": "certified", "reconstruction": "express"})
    assert b">380100<" in awaiting.content and b">380090<" not in awaiting.content
    assert b">380090<" in certified.content and b">380100<" not in certified.content


def test_it_jumps_to_a_run_from_the_lookup_box(client, shifter_sam):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_list"), {"run_number": 380100})
    assert response.status_code == 302 and response["Location"].endswith("/runs/380100/")


def test_it_shows_the_model_page_without_a_model(client, shifter_sam):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:model_detail"))
    assert response.status_code == 200 and b"No model is active" in response.content


def test_it_shows_shift_leaders_the_jobs(client, leader_lea):
    client.force_login(leader_lea)
    assert client.get(reverse("recommender:job_list")).status_code == 200


def test_it_shows_a_run_without_a_fill(client, shifter_sam):
    """Cosmics runs often have no LHC fill."""
    RunFactory(run_number=380600, fill=None, run_class="cosmics", era="")
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_detail", args=[380600, "express"]))
    assert response.status_code == 200
    assert b"<dt>Era</dt><dd>\xe2\x80\x93</dd>" in response.content
