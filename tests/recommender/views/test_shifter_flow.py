"""The shifter's flow on the run page: links out, several choices, closed decisions,
input kept after an error, and on to the next run awaiting a decision."""

import datetime as dt

import pytest
from django.urls import reverse

from ingestion.models import Run
from recommender.models import Feedback, ReferencePair
from tests.factories import (
    FillFactory,
    ModelVersionFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
)

pytestmark = pytest.mark.django_db

RUN_DATASET = "/StreamExpress/Run2024C-Express-v1/DQMIO"


def _label(run_number, reference_number, reference_dataset, reconstruction="express"):
    return ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=run_number), reconstruction=reconstruction, dataset=RUN_DATASET
        ),
        reference=RunReconstructionFactory(
            run=RunFactory(run_number=reference_number), reconstruction=reconstruction, dataset=reference_dataset
        ),
    )


@pytest.fixture
def express_history():
    """Two references used for pp express; 380100 and 380080 await their decision."""
    _label(380010, 380001, "/StreamExpress/Run2023D-Express-v1/DQMIO")
    _label(380020, 380005, "/StreamExpress/Run2024B-Express-v1/DQMIO")
    _label(380030, 380005, "/StreamExpress/Run2024B-Express-v1/DQMIO")
    RunReconstructionFactory(run=RunFactory(run_number=380080), reconstruction="express", dataset=RUN_DATASET)
    return RunReconstructionFactory(
        run=RunFactory(run_number=380100, fill=FillFactory(fill_number=9601)),
        reconstruction="express",
        dataset=RUN_DATASET,
    )


def _page(client, run_number=380100, reconstruction="express"):
    response = client.get(reverse("recommender:run_detail", args=[run_number, reconstruction]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_links_each_recommendation_to_the_dqm_gui_and_oms(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    body = _page(client)
    assert (
        "start?runnr=380100;dataset=/StreamExpress/Run2024C-Express-v1/DQMIO;sampletype=offline_data;"
        "workspace=Tracker;referencepos=overlay;referenceshow=all;"
        "referenceobj1=other:380001:/StreamExpress/Run2023D-Express-v1/DQMIO::"
    ) in body
    assert "referenceobj1=other:380005:/StreamExpress/Run2024B-Express-v1/DQMIO::" in body
    assert body.count("Compare in DQM GUI") == 2
    assert "https://cmsoms.cern.ch/cms/runs/report?cms_run=380005" in body
    assert "https://cmsoms.cern.ch/cms/runs/report?cms_run=380100" in body
    assert "https://cmsoms.cern.ch/cms/fills/report?cms_fill=9601" in body


def test_it_lets_a_shifter_use_the_second_recommendation(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    body = _page(client)
    assert body.count("Use this one") == 2
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    client.post(url, {"decision": "accepted", "recommended_run_number": 380001, "model_version_id": ""})
    label = ReferencePair.objects.get(source="shifter")
    assert label.reference.run.run_number == 380001 and label.is_positive


def test_it_says_the_reasons_in_sentences(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    body = _page(client)
    assert "current reference for pp collisions express since run 380020 (used for 2 runs)" in body
    assert "(0.00)" not in body


def test_it_goes_on_to_the_next_run_awaiting_a_decision(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    response = client.post(url, {"decision": "accepted", "recommended_run_number": 380005})
    assert response.url == reverse("recommender:run_detail", args=[380080, "express"])
    # The last awaiting run sends the shifter back to the list, saying so. The two oldest
    # runs were certified in Certhelper meanwhile, so 380080 is the last one left.
    _label(380001, 380001, "/StreamExpress/Run2023D-Express-v1/DQMIO")
    _label(380005, 380001, "/StreamExpress/Run2024B-Express-v1/DQMIO")
    response = client.post(
        reverse("recommender:feedback_submit", args=[380080, "express"]),
        {"decision": "accepted", "recommended_run_number": 380005},
        follow=True,
    )
    assert response.redirect_chain[-1][0].startswith(reverse("recommender:run_list"))
    assert b"No run is left awaiting a decision for express" in response.content


def test_it_keeps_the_typed_reason_and_alternative_after_an_error(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    response = client.post(
        url, {"decision": "rejected", "recommended_run_number": 380005, "reason": "", "alternative_run_number": 380001}
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Say why you reject" in body
    assert 'value="380001"' in body and '<details class="reject-panel" open>' in body

    response = client.post(
        url,
        {
            "decision": "rejected",
            "recommended_run_number": 380005,
            "reason": "noisy TEC",
            "alternative_run_number": 999,
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Not recorded" in body and 'value="noisy TEC"' in body and 'value="999"' in body
    assert not Feedback.objects.exists()


def test_it_refuses_the_run_itself_as_the_alternative(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    url = reverse("recommender:feedback_submit", args=[380100, "express"])
    client.post(
        url, {"decision": "rejected", "recommended_run_number": 380005, "reason": "x", "alternative_run_number": 380100}
    )
    assert not Feedback.objects.exists()


def test_it_closes_a_certified_run_and_says_by_what(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    body = _page(client, 380030)
    assert "Decided: certified in Certhelper with reference 380005" in body
    assert "Accept " not in body and "Use this one" not in body


def test_it_closes_a_decided_run_and_says_who_decided_what_and_when(client, shifter_sam, leader_lea, express_history):
    client.force_login(shifter_sam)
    client.post(
        reverse("recommender:feedback_submit", args=[380100, "express"]),
        {"decision": "accepted", "recommended_run_number": 380005},
    )
    client.force_login(leader_lea)
    body = _page(client)
    decision = Feedback.objects.get()
    assert f"Decided: sam accepted it on {decision.created_at:%Y-%m-%d %H:%M} UTC" in body
    assert "Use this one" not in body and "Reject…" not in body


def test_it_counts_the_runs_awaiting_my_decision(client, shifter_sam, express_history):
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_list") + "?status=awaiting&reconstruction=express").content.decode()
    # 380100, 380080 and the two references without a label of their own await express.
    assert "4 runs left for express" in body
    assert 'class="awaiting-express" href="?status=awaiting&amp;reconstruction=express">4 express' in body


def test_the_cached_awaiting_counts_follow_a_decision_at_once(client, shifter_sam, express_history):
    """The counts are cached per change counters: a decision must show on the next page."""
    client.force_login(shifter_sam)
    awaiting = 'href="?status=awaiting&amp;reconstruction=express">{} express'
    assert awaiting.format(4) in client.get(reverse("recommender:run_list")).content.decode()
    client.post(
        reverse("recommender:feedback_submit", args=[380100, "express"]),
        {"decision": "accepted", "recommended_run_number": 380005},
    )
    assert awaiting.format(3) in client.get(reverse("recommender:run_list")).content.decode()
    Feedback.objects.all().delete()
    assert awaiting.format(4) in client.get(reverse("recommender:run_list")).content.decode()


def test_it_shows_the_active_models_stored_first_choice_in_the_list(client, shifter_sam, express_history):
    from recommender.models import Recommendation

    old = ModelVersionFactory(status="retired")
    active = ModelVersionFactory(status="active")
    for version, score, reference in ((active, 0.42, 380005), (old, 0.99, 380001)):
        Recommendation.objects.create(
            run_reconstruction=express_history,
            reference=RunFactory(run_number=reference),
            model_version=version,
            rank=1,
            score=score,
        )
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:run_list")).content.decode()
    assert "→ 380005 (0.42)" in body and "0.99" not in body


def test_it_names_the_dataset_of_a_run_not_certified_yet_from_its_era(client, shifter_sam, express_history):
    from recommender.selectors import datasets_for

    RunFactory(run_number=380200, era="Run2024C")
    RunFactory(run_number=380300, era="Run2024D")
    Run.objects.filter(run_number__in=[380100, 380080]).update(era="Run2024C")
    RunFactory(run_number=380400, era="Run2024C", run_class="cosmics")
    # A start in 2024 whatever the factory's sequence has reached in this session.
    Run.objects.filter(run_number=380300).update(start_time=dt.datetime(2024, 7, 1, tzinfo=dt.UTC))
    datasets = datasets_for(run_numbers=[380200, 380300, 380400], reconstruction="express")
    # Same era; then the same year (another era); never another run class's dataset.
    assert datasets == {380200: RUN_DATASET, 380300: RUN_DATASET}
