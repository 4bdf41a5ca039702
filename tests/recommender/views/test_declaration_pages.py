"""The run page and /references/ as a shift leader and a shifter see declarations."""

import pytest
from django.urls import reverse

from ingestion.models import Run
from recommender import services
from recommender.models import DeclaredReference
from tests.factories import RunFactory, RunReconstructionFactory
from tests.recommender.ml.synthetic import DATASETS, runs_compared_with


def _page(client, user, run_number):
    client.force_login(user)
    return client.get(reverse("recommender:run_detail", args=[run_number, "express"])).content.decode()


def test_it_offers_the_declaration_to_leaders_only(client, trained, leader_lea, shifter_sam):
    _, new_run = trained
    assert "Declare as reference…" in _page(client, leader_lea, new_run)
    assert "Declare as reference…" not in _page(client, shifter_sam, new_run)


def test_it_refuses_a_shifters_declaration_and_writes_nothing(client, trained, shifter_sam):
    numbers, new_run = trained
    client.force_login(shifter_sam)
    answer = client.post(
        reverse("recommender:reference_declare"),
        {"run_number": numbers[3], "reconstruction": "express", "run_class": "collisions_pp", "from_run": new_run},
    )
    assert answer.status_code == 403
    assert not DeclaredReference.objects.exists()


def test_it_declares_from_the_form_and_says_a_bad_one_is_not_declared(client, trained, leader_lea):
    numbers, new_run = trained
    client.force_login(leader_lea)
    form = {"run_number": numbers[3], "reconstruction": "express", "run_class": "collisions_pp", "b_field": "on"}
    refused = client.post(reverse("recommender:reference_declare"), {**form, "from_run": numbers[3]}, follow=True)
    assert (
        "Not declared: a reference for express runs must be taken before the runs it is for" in refused.content.decode()
    )
    client.post(reverse("recommender:reference_declare"), {**form, "from_run": new_run, "back": "run"})
    declared = DeclaredReference.objects.get()
    assert (declared.b_field_on, declared.from_run, declared.declared_by) == (True, new_run, leader_lea)


def test_it_warns_when_the_run_and_its_first_choice_differ_in_b_field(client, trained, shifter_sam):
    _, new_run = trained
    Run.objects.filter(run_number=new_run).update(b_field=0.02)
    assert "This run's B field differs from those of the first choice" in _page(client, shifter_sam, new_run)


def test_it_tells_leaders_on_the_run_page_that_a_declaration_looks_stale(client, trained, leader_lea, shifter_sam):
    numbers, new_run = trained
    services.declared_reference_declare(
        user=leader_lea, run_number=numbers[2], reconstruction="express", run_class="collisions_pp", from_run=new_run
    )
    runs_compared_with(range(new_run, new_run + 5), numbers[9])
    later = RunFactory(run_number=new_run + 5, run_class="collisions_pp")
    RunReconstructionFactory(run=later, reconstruction="express", dataset=DATASETS["express"])
    warning = (
        f"The declaration of run {numbers[2]} looks stale: the last 5 decisions in its scope took run {numbers[9]}"
    )
    assert warning in _page(client, leader_lea, later.run_number)
    assert "looks stale" not in _page(client, shifter_sam, later.run_number)
    references = client.get(reverse("recommender:reference_list")).content.decode()
    assert f"the last 5 decisions in its scope took run {numbers[9]}" in references


pytestmark = pytest.mark.django_db
