"""Finding 7: insecure by default. A deployment that forgets SECRET_KEY must not run
on a key printed in the source; demo mode (known passwords) is refused in
production; demo_setup never touches an account it did not create; the load test
leaves no load-NN users behind."""

import io
import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.conftest import REPO_ROOT
from tests.factories import RunFactory, UserFactory

DEVELOPMENT_KEY = "refrun-development-only-key-never-use-in-production"
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
_KEY = "import django; django.setup(); from django.conf import settings as s; print(s.SECRET_KEY)"


def _settings_process(tmp_path, code: str = _KEY, **env: str) -> subprocess.CompletedProcess:
    base = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    base.update(
        {"DJANGO_SETTINGS_MODULE": "refrun.settings", "PYTHONDONTWRITEBYTECODE": "1", "REFRUN_VAR_DIR": str(tmp_path)}
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=base, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_a_secret_key_a_plain_start_does_not_use_a_known_key(tmp_path):
    first = _settings_process(tmp_path)
    second = _settings_process(tmp_path)

    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key != DEVELOPMENT_KEY and len(key) >= 50
    # Every process of the installation signs with the same key, so sessions survive.
    assert second.stdout.strip() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_the_development_key_is_only_for_debug(tmp_path):
    result = _settings_process(tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == DEVELOPMENT_KEY


def test_the_demo_makes_the_random_key_like_a_plain_start(tmp_path):
    # It used the development key until issue 21 (finding 6): a page's signed record
    # could be forged with the key printed in settings.py.
    result = _settings_process(tmp_path, REFRUN_DEMO="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (tmp_path / "secret_key").read_text().strip() != DEVELOPMENT_KEY


def test_demo_mode_is_refused_in_production(tmp_path):
    result = _settings_process(
        tmp_path, REFRUN_PRODUCTION="true", REFRUN_DEMO="true", SECRET_KEY="x" * 60, ALLOWED_HOSTS="refrun.example"
    )

    assert result.returncode != 0
    assert "REFRUN_DEMO=true is refused when REFRUN_PRODUCTION=true" in result.stderr


@pytest.mark.django_db
def test_demo_setup_leaves_an_existing_admin_account_alone(settings):
    settings.DEMO = True
    RunFactory(run_number=380000)  # data present: demo_setup loads nothing
    admin = UserFactory(username="admin", password="the real admin's own password", is_staff=False)
    before = (admin.password, admin.is_staff, admin.is_superuser)

    call_command("demo_setup", stdout=io.StringIO())

    admin.refresh_from_db()
    assert (admin.password, admin.is_staff, admin.is_superuser) == before
    assert not admin.check_password("admin")
    # The accounts it did create have the printed passwords.
    assert get_user_model().objects.get(username="shifter").check_password("shifter")


@pytest.mark.django_db
def test_the_load_test_removes_the_users_it_created():
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    try:
        import load_test
    finally:
        sys.path.remove(str(REPO_ROOT / "bench"))
    keeper = UserFactory(username="load-keeper")  # not the load test's: its prefix is a coincidence
    names = load_test.users_prepare(3)
    assert get_user_model().objects.filter(username__in=names).count() == 3

    load_test.users_remove(names)

    assert not get_user_model().objects.filter(username__in=names).exists()
    assert get_user_model().objects.filter(pk=keeper.pk).exists()


def test_settings_dump_is_json(tmp_path):
    # The settings module itself loads with nothing set at all (CI's `make test`).
    result = _settings_process(tmp_path, "import django, json; django.setup(); print(json.dumps(1))")
    assert result.returncode == 0 and json.loads(result.stdout) == 1
