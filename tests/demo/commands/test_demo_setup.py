"""python manage.py demo_setup"""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import SHIFT_LEADERS, SHIFTERS
from demo.management.commands import demo_setup
from ingestion.models import Run
from tests.factories import RunFactory


def _setup() -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_refuses_without_demo_mode(settings):
    settings.DEMO = False
    with pytest.raises(CommandError, match="REFRUN_DEMO=true"):
        _setup()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_it_creates_the_demo_users_once(settings):
    settings.DEMO = True
    RunFactory()  # data present: nothing is loaded
    first, second = _setup(), _setup()
    assert "created demo user shifter/shifter" in first and "kept existing user shifter as it is" in second
    users = get_user_model().objects
    assert users.count() == 3
    assert authenticate(username="shifter", password="shifter").groups.filter(name=SHIFTERS).exists()
    leader = authenticate(username="leader", password="leader")
    assert leader.groups.filter(name=SHIFT_LEADERS).exists()
    assert leader.is_staff and not leader.is_superuser
    assert leader.has_perm("recommender.change_declaredreference")
    assert not authenticate(username="shifter", password="shifter").is_staff
    admin = authenticate(username="admin", password="admin")
    assert admin.is_superuser and admin.is_staff
    assert Run.objects.count() == 1 and "nothing loaded" in second


@pytest.mark.django_db
def test_it_simulates_an_empty_database(settings, monkeypatch):
    settings.DEMO = True
    settings.REFRUN_DATA = ""
    calls = []

    def small_simulation(name, **options):
        calls.append((name, options.get("seed")))
        # The demo's full three years take several seconds; the path is the same.
        return call_command(name, seed=options["seed"], runs=400, lumisections_for_last=5, stdout=options["stdout"])

    monkeypatch.setattr(demo_setup, "call_command", small_simulation)
    output = _setup()
    assert calls == [("simulate", 1)]
    assert Run.objects.count() > 0 and "loaded:" in output


@pytest.mark.django_db
def test_it_imports_the_real_dumps_when_refrun_data_is_set(settings, monkeypatch):
    settings.DEMO = True
    settings.REFRUN_DATA = "/data/cms/"
    calls = []
    monkeypatch.setattr(demo_setup, "call_command", lambda name, *args, **options: calls.append((name, args)))
    _setup()
    assert calls == [
        ("import_oms_dump", ("/data/cms",)),
        ("import_pairs", ("/data/cms/certhelper_pairs.csv.gz",)),
    ]
