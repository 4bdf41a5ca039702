"""The operations settings, read the way a deployment reads them: in a fresh process."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

_DUMP = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps([s.METRICS_TOKEN, s.METRICS_ALLOWED_CIDRS, s.MODEL_STORE, s.DATABASES['default']['ENGINE']]))"
)


def _run(tmp_path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    base.update({"DJANGO_SETTINGS_MODULE": "refrun.settings", "REFRUN_VAR_DIR": str(tmp_path / "var")})
    return subprocess.run(
        [sys.executable, "-c", _DUMP], cwd=REPO_ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_it_reads_the_metrics_token_from_a_secret_file_and_the_networks(tmp_path):
    secret = tmp_path / "metrics_token"
    secret.write_text("from-a-mounted-secret\n")
    done = _run(tmp_path, METRICS_TOKEN_FILE=str(secret), METRICS_ALLOWED_CIDRS="10.128.0.0/14, ::1")
    assert done.returncode == 0, done.stderr
    token, cidrs, store, engine = json.loads(done.stdout)
    assert token == "from-a-mounted-secret"
    assert cidrs == ["10.128.0.0/14", "::1"]
    assert store == "database"
    assert engine == "django_prometheus.db.backends.sqlite3"


def test_it_refuses_bad_operations_settings_at_start(tmp_path):
    for name, value, message in (
        ("METRICS_ALLOWED_CIDRS", "10.0.0.0/8,everyone", "'everyone' is not an address or network"),
        ("MODEL_STORE", "s3", "MODEL_STORE must be 'database' or 'files'"),
    ):
        done = _run(tmp_path, **{name: value})
        assert done.returncode != 0
        assert message in done.stderr
