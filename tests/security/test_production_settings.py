"""The production settings, loaded the way a deployment loads them: in a fresh
process with REFRUN_PRODUCTION=true in its environment."""

import json
import os
import secrets
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# What a deployment sets; nothing else leaks in from the developer's shell.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")


def _env(tmp_path, **overrides: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "refrun.settings",
            "PYTHONDONTWRITEBYTECODE": "1",
            "REFRUN_VAR_DIR": str(tmp_path / "var"),
            "REFRUN_PRODUCTION": "true",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "refrun.web.cern.ch",
            "CSRF_TRUSTED_ORIGINS": "https://refrun.web.cern.ch",
        }
    )
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def _python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


_DUMP = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "DEBUG": s.DEBUG,
    "SESSION_COOKIE_SECURE": s.SESSION_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": s.SESSION_COOKIE_HTTPONLY,
    "CSRF_COOKIE_SECURE": s.CSRF_COOKIE_SECURE,
    "SECURE_SSL_REDIRECT": s.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": s.SECURE_HSTS_SECONDS,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "SECURE_CONTENT_TYPE_NOSNIFF": s.SECURE_CONTENT_TYPE_NOSNIFF,
    "X_FRAME_OPTIONS": s.X_FRAME_OPTIONS,
    "CACHE_BACKEND": s.CACHES["default"]["BACKEND"],
    "CACHE_LOCATION": s.CACHES["default"]["LOCATION"],
}))
"""


def test_it_passes_check_deploy_with_no_warning(tmp_path):
    result = _python(_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_refuses_debug_in_production(tmp_path):
    result = _python(_env(tmp_path, DEBUG="true"), "-c", "import django; django.setup()")

    assert result.returncode != 0
    assert "DEBUG=true is refused when REFRUN_PRODUCTION=true" in result.stderr


def test_it_refuses_production_without_a_secret_key(tmp_path):
    result = _python(_env(tmp_path, SECRET_KEY=""), "-c", "import django; django.setup()")

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required in production" in result.stderr


def test_it_sends_cookies_only_over_https_in_production(tmp_path):
    result = _python(_env(tmp_path), "-c", _DUMP)

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
        "CACHE_BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "CACHE_LOCATION": str(tmp_path / "var" / "cache"),
    }


@pytest.mark.parametrize(
    ("redis_url", "backend"),
    [
        ("redis://127.0.0.1:6379/3", "django.core.cache.backends.redis.RedisCache"),
        (None, "django.core.cache.backends.filebased.FileBasedCache"),
    ],
)
def test_it_shares_the_cache_between_workers(tmp_path, redis_url, backend):
    # Development settings: no LocMemCache (per process) either way.
    env = _env(tmp_path, REFRUN_PRODUCTION="false", REDIS_URL=redis_url)
    result = _python(env, "-c", _DUMP)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["CACHE_BACKEND"] == backend
