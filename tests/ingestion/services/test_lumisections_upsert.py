import pytest

from ingestion.models import Lumisection, Run
from ingestion.services import lumisections_upsert, runs_pileup_mean_refresh

pytestmark = pytest.mark.django_db


def _row(number, pileup=40.0):
    return {
        "run_number": 315150,
        "number": number,
        "init_lumi": 0.5,
        "recorded_lumi": 0.1 * number,
        "pileup": pileup,
        "cms_active": True,
    }


def test_it_creates_the_run_and_upserts_lumisections():
    counts = lumisections_upsert(rows=[_row(1), _row(2)])
    assert counts.created == 2
    assert Run.objects.get(run_number=315150).lumisections.count() == 2
    counts = lumisections_upsert(rows=[_row(1), _row(2, pileup=41.0), _row(3)])
    assert (counts.created, counts.updated, counts.unchanged) == (1, 1, 1)
    assert Lumisection.objects.get(number=2).pileup == 41.0


def test_it_sets_the_run_pileup_mean_from_lumisections():
    lumisections_upsert(rows=[_row(1, pileup=40.0), _row(2, pileup=50.0), _row(3, pileup=None)])
    assert runs_pileup_mean_refresh(run_numbers=[315150]).updated == 1
    run = Run.objects.get(run_number=315150)
    assert run.pileup_mean == 45.0
    assert run.sources["pileup_mean"] == "oms_lumisections"
    assert runs_pileup_mean_refresh(run_numbers=[315150]).unchanged == 1
