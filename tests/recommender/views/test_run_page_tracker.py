"""The run page shows the Run Registry's tracker flags."""

import pytest
from django.urls import reverse

from ingestion.models import Run, TrackerCertification
from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db


def _page(client, user, run_number, reconstruction="express"):
    client.force_login(user)
    response = client.get(reverse("recommender:run_detail", args=[run_number, reconstruction]))
    assert response.status_code == 200
    return response.content.decode()


def _run():
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=381010), reconstruction="express"),
        reference=RunReconstructionFactory(run=RunFactory(run_number=381000), reconstruction="express"),
    )
    return RunFactory(run_number=381100)


def test_it_shows_the_flags_of_the_reconstruction_shown(client, shifter_sam):
    run = _run()
    TrackerCertification.objects.create(
        run=run,
        dataset="/Express/Collisions2024/DQM",
        reconstruction="express",
        state="OPEN",
        pixel="BAD",
        strip="GOOD",
        tracking="GOOD",
        good_lumisections=45,
        lumisections=50,
    )
    TrackerCertification.objects.create(
        run=run,
        dataset="/PromptReco/Collisions2024G/DQM",
        reconstruction="prompt",
        state="COMPLETED",
        pixel="GOOD",
        strip="GOOD",
        tracking="GOOD",
        good_lumisections=50,
        lumisections=50,
    )

    express = _page(client, shifter_sam, 381100)
    assert "pixel BAD · strip GOOD · tracking GOOD, 90% of LS good" in express
    assert "/Express/Collisions2024/DQM (open)" in express
    prompt = _page(client, shifter_sam, 381100, "prompt")
    assert "pixel GOOD · strip GOOD · tracking GOOD, 100% of LS good" in prompt


def test_it_says_when_the_flags_are_not_known(client, shifter_sam):
    _run()
    body = _page(client, shifter_sam, 381100)
    assert 'Tracker (Run Registry)</dt><dd class="tracker-flags">not known' in body


def test_each_candidate_reference_shows_its_own_flags(client, shifter_sam):
    _run()
    reference = RunFactory(run_number=381000)
    TrackerCertification.objects.create(
        run=reference,
        dataset="/PromptReco/Collisions2024/DQM",
        reconstruction="prompt",
        state="COMPLETED",
        pixel="GOOD",
        strip="BAD",
        tracking="GOOD",
    )
    body = _page(client, shifter_sam, 381100)
    assert (
        'class="reference-tracker" title="Run Registry tracker flags: pixel, strip, tracking">GOOD · BAD · GOOD' in body
    )


def test_each_candidate_reference_shows_its_primary_vertices(client, shifter_sam):
    _run()
    Run.objects.filter(run_number=381000).update(pv_mean=31.27)
    Run.objects.filter(run_number=381100).update(pv_mean=29.0)
    body = _page(client, shifter_sam, 381100)
    assert 'class="reference-pv" title="mean primary vertices">PV 31.3' in body
