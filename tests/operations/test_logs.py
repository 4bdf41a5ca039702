import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.http import HttpResponse
from django.urls import path

from operations.logs import JsonFormatter, PlainFormatter, RequestContextFilter
from tests.conftest import REPO_ROOT
from tests.factories import RunFactory

pytestmark = pytest.mark.django_db

view_logger = logging.getLogger("refrun.tests.view")


def logging_view(request, run_number):
    view_logger.warning("looked at run %s", run_number)
    return HttpResponse("ok")


def failing_view(request):
    try:
        raise ValueError("line one\nline two")
    except ValueError:
        view_logger.exception("it broke")
    return HttpResponse("handled")


urlpatterns = [
    path("runs/<int:run_number>/logged/", logging_view),
    path("broken/", failing_view),
]


@pytest.fixture
def log_lines(settings):
    """What the console handler would print, in the format under test."""
    settings.ROOT_URLCONF = __name__
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("refrun")
    logger.addHandler(handler)
    yield handler, stream
    logger.removeHandler(handler)


def _records(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_it_writes_one_json_object_per_line_with_request_user_and_run(client, shifter_sam, log_lines):
    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())
    client.force_login(shifter_sam)

    response = client.get("/runs/381234/logged/", HTTP_X_REQUEST_ID="shift-7f3a")

    [record] = _records(stream)
    assert record["message"] == "looked at run 381234"
    assert record["level"] == "WARNING"
    assert record["logger"] == "refrun.tests.view"
    assert record["request_id"] == "shift-7f3a" == response["X-Request-ID"]
    assert record["user"] == "sam"
    assert record["run"] == 381234
    assert record["timestamp"].endswith("+00:00")


def test_it_keeps_a_traceback_inside_its_line(client, log_lines):
    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())

    client.get("/broken/")

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "it broke"
    assert "ValueError: line one\nline two" in record["exception"]
    assert record["user"] is None  # anonymous
    assert record["run"] is None  # not about a run


@pytest.mark.parametrize(
    "offered",
    ["", "has space", "line\r\nX-Injected: 1", "x" * 129, '"quoted"', "-starts-with-a-dash", "ünïcode"],
)
def test_it_replaces_an_insane_request_id_with_its_own(client, log_lines, offered):
    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())

    response = client.get("/runs/381234/logged/", HTTP_X_REQUEST_ID=offered)

    generated = response["X-Request-ID"]
    assert generated != offered
    assert len(generated) == 32 and generated.isalnum()
    assert _records(stream)[0]["request_id"] == generated


def test_it_gives_every_request_its_own_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_it_writes_plain_text_with_the_request_id(client, log_lines):
    handler, stream = log_lines
    handler.setFormatter(PlainFormatter("%(levelname)s %(name)s %(message)s"))

    client.get("/runs/381234/logged/", HTTP_X_REQUEST_ID="abc123")

    assert stream.getvalue() == "WARNING refrun.tests.view looked at run 381234 [request abc123]\n"


def test_it_logs_each_request_when_asked(client, shifter_sam, log_lines, settings):
    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())
    settings.LOG_REQUESTS = True
    settings.ROOT_URLCONF = "refrun.urls"
    RunFactory(run_number=381234)
    client.force_login(shifter_sam)

    client.get("/healthz")  # probes and static files are left out: noise
    b"".join(client.get("/static/refrun.css").streaming_content)  # read to the end: the client then closes it
    client.get("/runs/381234/express/", HTTP_X_REQUEST_ID="req-1")

    access = [r for r in _records(stream) if r["logger"] == "refrun.access"]
    assert len(access) == 1
    assert access[0]["message"].startswith("GET /runs/381234/express/ 200 ")
    assert (access[0]["request_id"], access[0]["user"], access[0]["run"]) == ("req-1", "sam", 381234)


def test_it_logs_json_from_a_process_started_with_log_format_json(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
        "REFRUN_VAR_DIR": str(tmp_path),
        "LOG_FORMAT": "json",
    }
    code = "import django, logging; django.setup(); logging.getLogger('refrun.x').warning('two\\nlines')"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [line] = done.stderr.splitlines()
    record = json.loads(line)
    assert (record["message"], record["logger"], record["request_id"]) == ("two\nlines", "refrun.x", None)

    bad = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env={**env, "LOG_FORMAT": "yaml"}, capture_output=True, text=True
    )
    assert bad.returncode != 0
    assert "LOG_FORMAT must be 'text' or 'json'" in bad.stderr


def test_it_tags_a_tasks_lines_with_its_task_id(log_lines):
    from celery.signals import task_postrun, task_prerun

    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())

    task_prerun.send(sender=None, task_id="0b1c-task", task=None)
    view_logger.warning("inside the task")
    task_postrun.send(sender=None, task_id="0b1c-task", task=None)
    view_logger.warning("after it")

    assert [r["request_id"] for r in _records(stream)] == ["0b1c-task", None]


def test_it_names_the_user_of_an_api_token(client, shifter_sam, log_lines, settings):
    from rest_framework.authtoken.models import Token

    handler, stream = log_lines
    handler.setFormatter(JsonFormatter())
    settings.LOG_REQUESTS = True
    settings.ROOT_URLCONF = "refrun.urls"
    token = Token.objects.create(user=shifter_sam)

    response = client.get("/api/runs/", HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200
    [access] = [r for r in _records(stream) if r["logger"] == "refrun.access"]
    assert access["user"] == "sam"
