"""/references/: the shift leaders' Twiki table of references in use, from RefRun's records."""

import csv
import io

import pytest
from django.urls import reverse

from tests.factories import (
    DeclaredReferenceFactory,
    ReferencePairFactory,
    RunFactory,
    RunReconstructionFactory,
    ranking_shown,
)

pytestmark = pytest.mark.django_db


def _label(run_number, reference_number, reconstruction="express", run_class="cosmics"):
    dataset = "/Express/Cosmics2024/DQM" if run_class == "cosmics" else "/Express/Collisions2024/DQM"
    ReferencePairFactory(
        run_reconstruction=RunReconstructionFactory(
            run=RunFactory(run_number=run_number, run_class=run_class), reconstruction=reconstruction, dataset=dataset
        ),
        reference=RunReconstructionFactory(
            run=RunFactory(run_number=reference_number, run_class=run_class), reconstruction=reconstruction
        ),
    )


@pytest.fixture
def references():
    """Cosmics express switched from 376900 to 376959 at run 377000; pp prompt uses 380001;
    the leaders list 376959 with a note and 376800 for cosmics express."""
    for run_number in (376950, 376960):
        _label(run_number, 376900)
    for run_number in (377000, 377010, 377020):
        _label(run_number, 376959)
    _label(380010, 380001, reconstruction="prompt", run_class="collisions_pp")
    current = RunReconstructionFactory(run=RunFactory(run_number=376959), reconstruction="express")
    DeclaredReferenceFactory(run_reconstruction=current, run_class="cosmics", note="CRAFT <b>3.8 T</b>, DECO")
    DeclaredReferenceFactory(
        run_reconstruction=RunReconstructionFactory(run=RunFactory(run_number=376800), reconstruction="express"),
        run_class="cosmics",
        note="B off",
    )


def test_it_lists_the_references_in_use_with_since_and_use_count(client, shifter_sam, references):
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:reference_list")).content.decode()
    rows = body.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")
    cosmics_current = next(row for row in rows if ">376959<" in row)
    assert "in use" in cosmics_current and "declared" in cosmics_current
    assert "run 377000" in cosmics_current and '<td class="num">3</td>' in cosmics_current
    assert "CRAFT &lt;b&gt;3.8 T&lt;/b&gt;, DECO" in cosmics_current  # the note, escaped
    declared_only = next(row for row in rows if ">376800<" in row)
    assert "declared" in declared_only and "in use" not in declared_only
    assert any(">380001<" in row and "Prompt" in row for row in rows)
    assert "edit in admin" not in body


def test_it_draws_which_reference_each_group_used(client, shifter_sam, references):
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:reference_list")).content.decode()
    svg = body[body.index('<svg class="timeline"') : body.index("</svg>")]
    assert "Cosmics Express" in svg and "Collisions pp Prompt" in svg
    assert svg.count('data-reference="376900"') == 1 and svg.count('data-reference="376959"') == 1
    assert "reference 376959: runs 377000 to 377020 (3 runs)" in svg


def test_it_gives_shift_leaders_admin_links(client, leader_lea, references):
    client.force_login(leader_lea)
    body = client.get(reverse("recommender:reference_list")).content.decode()
    assert body.count("edit in admin") == 2
    assert "declare from its page" in body  # the pp prompt reference is not declared yet


def test_it_exports_the_list_as_csv_and_json(client, shifter_sam, references):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:reference_list_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    current = next(row for row in rows if row["reference_run_number"] == "376959")
    assert current["is_current"] == "True" and current["since_run"] == "377000" and current["runs_used"] == "3"
    data = client.get(reverse("recommender:reference_list_json")).json()["references"]
    assert {(r["run_class"], r["reconstruction"], r["reference_run_number"]) for r in data} == {
        ("cosmics", "express", 376959),
        ("cosmics", "express", 376800),
        ("collisions_pp", "prompt", 380001),
    }


def test_it_shows_a_shifters_accepted_reference_as_in_use(client, shifter_sam, references):
    RunReconstructionFactory(run=RunFactory(run_number=377100, run_class="cosmics"), reconstruction="express")
    # The decision names a reference RefRun showed (the feedback-binding rule).
    version = ranking_shown(run_number=377100, reconstruction="express", references=[376959, 376800])
    client.force_login(shifter_sam)
    client.post(
        reverse("recommender:feedback_submit", args=[377100, "express"]),
        {"decision": "accepted", "recommended_run_number": 376800, "model_version_id": version.pk},
    )
    data = client.get(reverse("recommender:reference_list_json")).json()["references"]
    in_use = {r["reference_run_number"]: r for r in data if r["is_current"]}
    assert in_use[376800]["since_run"] == 377100


def test_it_says_when_there_is_no_reference_yet(client, shifter_sam):
    client.force_login(shifter_sam)
    body = client.get(reverse("recommender:reference_list") + "?months=oops").content.decode()
    assert "No reference is recorded yet" in body
