"""Must show (issue 20): against fake_oms --data ../shared/data over real HTTP,
sync_oms then sync_conditions set every run's APV mode and PV mean the shared files hold,
and the Run Registry's tracker flags of every run of the tracker mask, and GET /api/runs/
shows them."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import SHIFTERS
from demo.fake_oms import FakeOmsData
from ingestion.models import Run
from ingestion.sources import FileApvModeSource, FilePrimaryVertexSource
from jobs.models import Job, JobKind, JobStatus
from tests.factories import UserFactory
from tests.ingestion.clients.fakes import conditions_settings, oms_settings, running
from tests.ingestion.runregistry_fakes import runregistry_settings

FIRST, LAST = 315000, 315500

pytestmark = [pytest.mark.shared_data, pytest.mark.django_db(transaction=True)]


def test_it_sets_apv_mode_pv_mean_and_tracker_flags_from_the_services_and_a_second_sync_changes_nothing(
    settings, shared_data_dir
):
    settings.REFRUN_DATA = ""  # the OMS sync must not fill them from the files itself
    with running(FakeOmsData.from_dumps(shared_data_dir)) as server:
        oms_settings(settings, server)
        conditions_settings(settings, server)
        runregistry_settings(settings, server)
        call_command("sync_oms", "--from", FIRST, "--to", LAST, verbosity=0, stdout=io.StringIO())
        assert not Run.objects.exclude(apv_mode="").exists() and not Run.objects.filter(pv_mean__isnull=False).exists()

        call_command("sync_conditions", "--from", FIRST, "--to", LAST, stdout=io.StringIO())
        snapshot = list(
            Run.objects.order_by("run_number").values_list("run_number", "apv_mode", "pv_mean", "updated_at")
        )
        call_command("sync_conditions", "--from", FIRST, "--to", LAST, stdout=io.StringIO())

    in_range = set(Run.objects.filter(run_number__gte=FIRST, run_number__lte=LAST).values_list("run_number", flat=True))
    expected_modes = FileApvModeSource(shared_data_dir / "apv_mode_runs_2016_2021.csv").apv_modes(
        range(FIRST, LAST + 1)
    )
    expected_means = FilePrimaryVertexSource(shared_data_dir / "pv_mean_per_run_2015_2018.csv.gz").pv_means(
        range(FIRST, LAST + 1)
    )
    assert len(expected_modes) == 14 and len(expected_means) == 22
    assert set(expected_modes) <= in_range and set(expected_means) <= in_range
    runs = {r.run_number: r for r in Run.objects.filter(run_number__in=in_range)}
    for number, mode in expected_modes.items():
        assert runs[number].apv_mode == mode, number
        assert runs[number].sources["apv_mode"] == "apv_mode_service"
    for number, mean in expected_means.items():
        assert runs[number].pv_mean == pytest.approx(mean, rel=0.01), number
        assert runs[number].sources["pv_mean"] == "dials"
    assert {n for n, r in runs.items() if r.apv_mode} == set(expected_modes)

    jobs = list(Job.objects.filter(kind=JobKind.CONDITIONS_SYNC).order_by("id"))
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED], [j.message for j in jobs]
    # 14 modes and 22 means; the Run Registry's datasets are created rows.
    assert jobs[0].rows_updated == 14 + 22 and jobs[0].rows_created > 0
    assert jobs[1].rows_updated == 0 and jobs[1].rows_created == 0
    assert jobs[1].progress_done == jobs[1].progress_total
    after = list(Run.objects.order_by("run_number").values_list("run_number", "apv_mode", "pv_mean", "updated_at"))
    assert after == snapshot

    # And the API shows them.
    client = APIClient()
    client.force_authenticate(UserFactory(username="sam", groups=[SHIFTERS]))
    shown, url, params = {}, reverse("api:run_list"), {"run_min": FIRST, "run_max": LAST}
    while url:
        body = client.get(url, params).json()
        shown |= {r["run_number"]: (r["apv_mode"], r["pv_mean"], r["tracker"]) for r in body["results"]}
        url, params = body["next"], None
    assert set(shown) == in_range
    assert all(shown[n][0] == mode for n, mode in expected_modes.items())
    assert all(shown[n][1] == pytest.approx(mean, rel=0.01) for n, mean in expected_means.items())
    with (shared_data_dir / "certification_json_trk_promptreco_2018.json").open() as handle:
        tracker_mask = {int(n) for n in json.load(handle) if FIRST <= int(n) <= LAST}
    assert tracker_mask and tracker_mask <= in_range
    good = {"pixel": "GOOD", "strip": "GOOD", "tracking": "GOOD"}
    assert all(shown[n][2] == good for n in tracker_mask)
