import pytest

from ingestion.models import Fill
from ingestion.services import fills_upsert

pytestmark = pytest.mark.django_db

PRIMARY = {
    "fill_number": 7427,
    "bunches_colliding": 40,
    "init_lumi": 1.7e-8,
    "init_lumi_source_unit": "10^{27}cm^{-2}s^{-1}",
    "peak_pileup": None,
    "era": "HIRun2018",
}
SECONDARY = {
    "fill_number": 7427,
    "bunches_colliding": 44,
    "init_lumi": 1.7e-1,
    "init_lumi_source_unit": "10^{34}cm^{-2}s^{-1} (inferred)",
    "peak_pileup": 0.1,
    "first_run_number": 326365,
}


def _state():
    return (
        Fill.objects.filter(fill_number=7427)
        .values("bunches_colliding", "init_lumi", "init_lumi_source_unit", "peak_pileup", "era", "first_run_number")
        .get()
    )


@pytest.mark.parametrize("order", [("oms_fills", "oms_fills_2009_2022"), ("oms_fills_2009_2022", "oms_fills")])
def test_it_prefers_the_primary_fill_source_in_any_order(order):
    rows = {"oms_fills": PRIMARY, "oms_fills_2009_2022": SECONDARY}
    for source in order:
        fills_upsert(rows=[rows[source]], source=source)
    assert _state() == {
        "bunches_colliding": 40,
        "init_lumi": 1.7e-8,
        "init_lumi_source_unit": "10^{27}cm^{-2}s^{-1}",
        "peak_pileup": 0.1,  # gap filled by the secondary source
        "era": "HIRun2018",
        "first_run_number": 326365,
    }


def test_it_reports_a_repeated_import_as_unchanged():
    fills_upsert(rows=[PRIMARY], source="oms_fills")
    counts = fills_upsert(rows=[PRIMARY, PRIMARY], source="oms_fills")
    assert (counts.created, counts.updated, counts.unchanged) == (0, 0, 2)
