"""The settings of the PostgreSQL sessions RefRun opens: no JIT compilation, and a
database URL's own session options kept beside it."""

import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import REPO_ROOT


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL session setting; CI runs it")
def test_the_web_s_postgresql_sessions_compile_no_query_just_in_time():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def test_a_database_url_s_own_session_options_are_kept(tmp_path):
    # Settings only: no connection is opened, so no server is needed.
    dump = "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps(s.DATABASES['default']['OPTIONS']))"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        DJANGO_SETTINGS_MODULE="refrun.settings",
        REFRUN_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL="postgres://refrun@db.example:5432/refrun?options=-c%20statement_timeout%3D5000",
    )
    done = subprocess.run(
        [sys.executable, "-c", dump], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["options"] == "-c statement_timeout=5000 -c jit=off"
