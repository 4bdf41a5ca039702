"""Finding 9: missing headers and checks. No Content-Security-Policy (and an inline
script on the jobs page), two password validators only, no *_FILE for the URLs that
hold passwords, an http:// token URL accepted for the OMS client secret, and
Django's default CSRF failure page."""

import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db

_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


def _script_src(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return directives.get("script-src", directives.get("default-src", "")).split()


@pytest.mark.parametrize(
    "name", ["recommender:run_list", "recommender:job_list", "recommender:model_detail", "login", "api:feedback"]
)
def test_every_page_forbids_inline_and_foreign_scripts(client, leader_lea, name):
    client.force_login(leader_lea)

    response = client.get(reverse(name))

    assert response.status_code == 200
    sources = _script_src(response)
    assert sources == ["'self'"], sources


def test_the_jobs_page_has_no_inline_script_and_still_refreshes(client, leader_lea):
    client.force_login(leader_lea)
    body = client.get(reverse("recommender:job_list")).content.decode()

    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", body, flags=re.S)
    assert scripts, "the jobs page refreshes itself with a script"
    for attributes, content in scripts:
        assert 'src="' in attributes and not content.strip()
    assert (REPO_ROOT / "static" / "jobs-refresh.js").exists()


@pytest.mark.parametrize("password", ["password123", "12345678901234", "qwertyuiop"])
def test_common_and_numeric_passwords_are_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_a_failed_csrf_check_answers_refruns_own_page(shifter_sam):
    client = Client(enforce_csrf_checks=True)
    client.force_login(shifter_sam)

    response = client.post(reverse("recommender:feedback_submit", args=[380100, "express"]), {"decision": "accepted"})

    assert response.status_code == 403
    body = response.content.decode()
    assert "CSRF verification failed" not in body
    assert "The form had expired" in body and 'href="/"' in body


def _settings_process(tmp_path, code: str, **env: str) -> subprocess.CompletedProcess:
    base = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    base.update(
        {"DJANGO_SETTINGS_MODULE": "refrun.settings", "PYTHONDONTWRITEBYTECODE": "1", "REFRUN_VAR_DIR": str(tmp_path)}
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings as s; {code}"],
        cwd=REPO_ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_urls_with_passwords_can_come_from_files(tmp_path):
    (tmp_path / "db").write_text("postgres://refrun:s3cret@db.example:5432/refrun\n")
    (tmp_path / "redis").write_text("redis://:s3cret@redis.example:6379/2\n")

    result = _settings_process(
        tmp_path,
        "print(s.DATABASES['default']['PASSWORD'], s.DATABASES['default']['HOST'], s.CACHES['default']['LOCATION'])",
        DATABASE_URL_FILE=str(tmp_path / "db"),
        REDIS_URL_FILE=str(tmp_path / "redis"),
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["s3cret", "db.example", "redis://:s3cret@redis.example:6379/2"]


@pytest.mark.parametrize("name", ["OMS_TOKEN_URL", "OMS_API_URL"])
def test_an_http_url_that_carries_a_secret_is_refused(tmp_path, name):
    result = _settings_process(tmp_path, "print('started')", **{name: "http://auth.example.org/token"})

    assert result.returncode != 0
    assert f"{name} must use https" in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1:8111", "localhost", "[::1]:9000"])
def test_http_is_accepted_for_a_loopback_oms_such_as_the_demos(tmp_path, host):
    result = _settings_process(tmp_path, "print(s.OMS_TOKEN_URL)", OMS_TOKEN_URL=f"http://{host}/token")

    assert result.returncode == 0, result.stderr
