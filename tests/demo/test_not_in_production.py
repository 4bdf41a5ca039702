"""The demo's doubles are installed for the demo and the tests, never in production."""

from django.conf import settings

from tests.security.test_production_settings import _env, _python

_APPS = "import django; django.setup(); from django.conf import settings; print(sorted(settings.INSTALLED_APPS))"


def test_it_is_installed_for_the_tests():
    assert "demo" in settings.INSTALLED_APPS


def test_it_is_left_out_in_production_and_its_commands_are_gone(tmp_path):
    apps = _python(_env(tmp_path), "-c", _APPS)
    assert apps.returncode == 0, apps.stderr
    assert "'accounts'" in apps.stdout and "'demo'" not in apps.stdout

    simulate = _python(_env(tmp_path), "manage.py", "simulate", "--seed", "1")
    assert simulate.returncode != 0 and "Unknown command: 'simulate'" in simulate.stderr


def test_it_refuses_the_demo_app_in_production(tmp_path):
    result = _python(_env(tmp_path, REFRUN_DEMO_APP="true"), "-c", "import django; django.setup()")

    assert result.returncode != 0
    assert "REFRUN_DEMO_APP=true is refused when REFRUN_PRODUCTION=true" in result.stderr


def test_it_can_be_left_out_outside_production(tmp_path):
    # The image sets REFRUN_DEMO_APP=false: it starts without REFRUN_PRODUCTION too.
    apps = _python(_env(tmp_path, REFRUN_PRODUCTION="false", REFRUN_DEMO_APP="false"), "-c", _APPS)
    assert apps.returncode == 0, apps.stderr
    assert "'demo'" not in apps.stdout
