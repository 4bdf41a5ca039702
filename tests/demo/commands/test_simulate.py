"""python manage.py simulate"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import Lumisection, Run
from recommender.models import ReferencePair
from tests.factories import RunFactory


def _simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_fills_an_empty_database_and_reports_persistence():
    output = _simulate("--seed", "3", "--years", "2024", "--runs", "800", "--lumisections-for-last", "20")
    assert "persistence top-1" in output
    assert 600 <= Run.objects.count() <= 1000
    assert ReferencePair.objects.filter(source="certhelper").exists()
    newest = list(Run.objects.order_by("-run_number")[:20])
    assert {ls.run_id for ls in Lumisection.objects.all()} == {run.id for run in newest}


@pytest.mark.django_db
def test_it_refuses_a_database_with_runs():
    RunFactory()
    with pytest.raises(CommandError, match="already has 1 runs"):
        _simulate("--seed", "1", "--runs", "300")
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_it_adds_only_what_does_not_collide_with_force():
    _simulate(
        "--seed", "3", "--start-year", "2024", "--end-year", "2024", "--runs", "300", "--lumisections-for-last", "0"
    )
    before = Run.objects.count()
    output = _simulate("--seed", "3", "--years", "2024", "--runs", "300", "--lumisections-for-last", "0", "--force")
    assert "skipped" in output and Run.objects.count() == before


@pytest.mark.django_db
def test_it_rejects_contradicting_year_options():
    with pytest.raises(CommandError):
        _simulate("--seed", "1", "--years", "2023", "--start-year", "2022")
