"""Issue 21, finding 1: a hostile import file left its job "running", and every later
import of its kind was refused (JobAlreadyRunning) until the sweep, 70 minutes on.

The attacks: a CSV cell of 10^5 nested brackets (RecursionError in the OMS dump
parser), a deeply nested answer from Certhelper (RecursionError in the client), and
any other exception a job meets. Each must finish its job as failed with the reason
(or reject the row), and the next job of its kind must start at once."""

import http.server
import io
import threading

import pytest
from django.core.management import CommandError, call_command

from ingestion.clients import CerthelperClient, CerthelperError
from ingestion.models import Fill, Run
from jobs.models import Job, JobKind, JobStatus
from tests.security.bombs import deep_fills_csv, nested_list

pytestmark = pytest.mark.django_db


def _import(*args) -> str:
    out = io.StringIO()
    call_command(*map(str, args), stdout=out)
    return out.getvalue()


def _nothing_running() -> None:
    assert not Job.objects.filter(status__in=[JobStatus.RUNNING, JobStatus.PENDING]).exists()


def test_a_cell_of_100000_nested_brackets_is_a_row_error_and_the_next_import_starts(tmp_path):
    deep = deep_fills_csv(tmp_path / "oms_fills_2009_2022_deep.csv")
    assert 190_000 < deep.stat().st_size < 210_000

    out = io.StringIO()
    with pytest.raises(CommandError, match=r"no row of oms_fills_2009_2022_deep\.csv could be imported"):
        call_command("import_oms_dump", str(deep), stdout=out)

    assert "oms_fills_2009_2022_deep.csv:2: brilcalc_run: nested too deeply" in out.getvalue()
    assert not Fill.objects.exists() and not Run.objects.exists()  # the row is rejected whole
    job = Job.objects.get(kind=JobKind.OMS_DUMP_IMPORT)
    assert (job.status, job.rows_skipped) == (JobStatus.SUCCEEDED, 1)
    assert job.errors == [{"file": deep.name, "line": 2, "reason": "brilcalc_run: nested too deeply"}]
    _nothing_running()

    with pytest.raises(CommandError, match="no row of"):  # not refused with JobAlreadyRunning
        call_command("import_oms_dump", str(deep), stdout=io.StringIO())

    assert Job.objects.filter(kind=JobKind.OMS_DUMP_IMPORT, status=JobStatus.SUCCEEDED).count() == 2


class _Answer(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def nested_certhelper(settings):
    """A Certhelper on a local port whose answer is 10^5 nested JSON arrays. Served raw:
    the fake OMS's Certhelper serialises its pairs with json.dumps, which cannot write
    such a document."""
    handler = type("NestedAnswer", (_Answer,), {"body": nested_list().encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/allRunsRefRuns/"
    settings.CERTHELPER_URL = url
    yield url
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_the_certhelper_client_reports_a_deeply_nested_answer_as_its_error(nested_certhelper):
    with pytest.raises(CerthelperError, match="not JSON"):
        CerthelperClient(url=nested_certhelper, timeout_s=5).reference_pairs()


def test_a_deeply_nested_certhelper_answer_fails_the_sync_job_and_the_next_sync_starts(nested_certhelper):
    with pytest.raises(CommandError, match="not JSON"):
        _import("sync_certhelper")

    job = Job.objects.get(kind=JobKind.CERTHELPER_SYNC)
    assert job.status == JobStatus.FAILED and "not JSON" in job.message
    _nothing_running()

    # Not refused as already running; the hourly floor on Certhelper calls still holds.
    out = _import("sync_certhelper", "--force")

    assert "skipped" in out and Job.objects.filter(kind=JobKind.CERTHELPER_SYNC).count() == 2
    _nothing_running()


# --- Any exception in any job --------------------------------------------------------
# An error no parser foresaw (a bug, MemoryError, Ctrl-C), raised where each job writes.


def _oms_dump_import(tmp_path):
    path = tmp_path / "oms_fills_2018.csv"
    path.write_text("fill_number\n7000\n", encoding="utf-8")
    call_command("import_oms_dump", str(path), stdout=io.StringIO())


def _pairs_import(tmp_path):
    path = tmp_path / "certhelper_pairs.csv"
    path.write_text(
        "run_number,run_reconstruction_type,reference_run_number,reference_run_reconstruction_type,dataset\n"
        "320002,express,320001,express,/StreamExpress/Run2018D-Express-v1/DQMIO\n",
        encoding="utf-8",
    )
    call_command("import_pairs", str(path), stdout=io.StringIO())


class _BrokenOms:
    def __init__(self, error):
        self.error = error

    def newest_run_number(self):
        raise self.error

    def runs(self, **kwargs):
        raise self.error


def _oms_sync(tmp_path, error):
    from ingestion.services import runs_sync

    runs_sync(client=_BrokenOms(error), use_default_sources=False)


def _training(tmp_path):
    from recommender.training import model_version_train

    model_version_train()


JOBS = {
    JobKind.OMS_DUMP_IMPORT: ("ingestion.services.dump_import.fills_upsert", _oms_dump_import),
    JobKind.PAIRS_IMPORT: ("recommender.services.pairs_import.reference_pairs_upsert", _pairs_import),
    JobKind.TRAINING: ("recommender.training.labels_frame", _training),
    JobKind.OMS_SYNC: (None, _oms_sync),
}
ERRORS = [RuntimeError("disk on fire"), RecursionError("maximum recursion depth exceeded"), KeyboardInterrupt()]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("kind", list(JOBS))
def test_any_exception_in_a_job_fails_it_with_the_reason_and_the_next_one_starts(kind, error, tmp_path, monkeypatch):
    target, start = JOBS[kind]

    def attack():
        if target is None:
            start(tmp_path, error)
        else:
            start(tmp_path)

    if target is not None:

        def broken(*args, **kwargs):
            raise error

        monkeypatch.setattr(target, broken)

    with pytest.raises(type(error)):
        attack()

    job = Job.objects.get(kind=kind)
    assert job.status == JobStatus.FAILED and job.finished_at is not None
    assert type(error).__name__ in job.message
    _nothing_running()

    with pytest.raises(type(error)):
        attack()  # not JobAlreadyRunning: a second job started and failed the same way

    assert Job.objects.filter(kind=kind, status=JobStatus.FAILED).count() == 2


def test_a_certhelper_sync_whose_label_writer_breaks_is_failed_and_the_next_one_starts(nested_certhelper, monkeypatch):
    from recommender.certhelper_sync import certhelper_sync

    def broken(**kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("recommender.certhelper_sync.CerthelperClient.reference_pairs", lambda self: [])
    with pytest.raises(KeyboardInterrupt):
        certhelper_sync(pairs_import=broken)

    job = Job.objects.get(kind=JobKind.CERTHELPER_SYNC)
    assert job.status == JobStatus.FAILED and "KeyboardInterrupt" in job.message
    _nothing_running()
