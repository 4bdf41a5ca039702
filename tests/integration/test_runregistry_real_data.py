"""Against fake_oms --data ../shared/data over real HTTP: sync_oms then sync_runregistry
over 315000-315500 give every run of the tracker mask its flags, and the API shows them."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from demo.fake_oms import FakeOmsData
from ingestion.models import Run, TrackerCertification
from tests.ingestion.clients.fakes import oms_settings, running
from tests.ingestion.runregistry_fakes import runregistry_settings

pytestmark = [pytest.mark.django_db, pytest.mark.shared_data]

RUN_MIN, RUN_MAX = 315000, 315500


@pytest.fixture(scope="module")
def shared_fake(shared_data_dir):
    return FakeOmsData.from_dumps(shared_data_dir)


def _masks(directory):
    def load(name):
        with (directory / name).open() as handle:
            return {int(r): spans for r, spans in json.load(handle).items() if RUN_MIN <= int(r) <= RUN_MAX}

    return load("certification_json_trk_promptreco_2018.json"), load("certification_json_dcsonly_2018.json")


def test_it_gives_every_run_of_the_tracker_mask_its_flags(settings, shared_fake, shared_data_dir, shifter_sam):
    tracker, dcs = _masks(shared_data_dir)
    with running(shared_fake) as server:
        oms_settings(settings, server)
        runregistry_settings(settings, server)
        settings.REFRUN_DATA = ""
        call_command("sync_oms", "--from", str(RUN_MIN), "--to", str(RUN_MAX), stdout=io.StringIO(), verbosity=0)
        out = io.StringIO()
        call_command("sync_runregistry", "--from", str(RUN_MIN), "--to", str(RUN_MAX), stdout=out)
        first = {c.pk: c.updated_at for c in TrackerCertification.objects.all()}
        again = io.StringIO()
        call_command("sync_runregistry", "--from", str(RUN_MIN), "--to", str(RUN_MAX), stdout=again)

    assert "created 0, updated 0, unchanged" in again.getvalue() and "runs_updated 0" in again.getvalue()
    assert {c.pk: c.updated_at for c in TrackerCertification.objects.all()} == first
    mirrored = set(Run.objects.values_list("run_number", flat=True))
    assert tracker and set(tracker) <= mirrored
    certs = {c.run.run_number: c for c in TrackerCertification.objects.select_related("run")}
    for number, spans in tracker.items():
        cert = certs[number]
        assert (cert.pixel, cert.strip, cert.tracking, cert.state) == ("GOOD", "GOOD", "GOOD", "COMPLETED")
        assert cert.good_lumisections == sum(b - a + 1 for a, b in spans)
    for number in set(dcs) - set(tracker):
        if number in certs:
            assert (certs[number].pixel, certs[number].good_lumisections) == ("BAD", 0)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=shifter_sam).key}")
    shown, url = {}, reverse("api:run_list")
    params = {"run_min": RUN_MIN, "run_max": RUN_MAX}
    while url:
        body = client.get(url, params).json()
        shown.update({r["run_number"]: r["tracker"] for r in body["results"]})
        url, params = body["next"], None
    for number in tracker:
        assert shown[number] == {"pixel": "GOOD", "strip": "GOOD", "tracking": "GOOD"}
    unknown = [n for n in shown if n not in certs]
    assert all(shown[n] == {"pixel": None, "strip": None, "tracking": None} for n in unknown)
