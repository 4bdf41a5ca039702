import io
import json

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job, JobKind, JobStatus
from recommender.models import ReferencePair
from tests.ingestion.helpers import write_text, write_truncated_gzip

pytestmark = pytest.mark.django_db

HEADER = "run_number,run_reconstruction_type,reference_run_number,reference_run_reconstruction_type,dataset"


def _run(path):
    out = io.StringIO()
    call_command("import_pairs", str(path), stdout=out)
    return out.getvalue()


def test_it_imports_the_csv_and_reports_rejected_rows(tmp_path):
    path = write_text(
        tmp_path / "certhelper_pairs.csv.gz",
        "\n".join(
            [
                HEADER,
                "313098,express,312727,express,To Be Defined",
                "313099,online2,312727,express,/StreamExpress/Run2018A-Express-v1/DQMIO",
                "313100,express,x,express,",
                '348396,express,345829,express,"/Express/Commissioning2022/DQM\n"',
                "348397,express,345829,express",
            ]
        )
        + "\n",
    )
    out = _run(path)
    assert "pair: 2 created, 0 updated, 0 unchanged; 3 rows skipped" in out
    assert "certhelper_pairs.csv.gz:3: run_reconstruction_type: unknown reconstruction type 'online2'" in out
    assert "certhelper_pairs.csv.gz:4: reference_run_number: expected a number, got 'x'" in out
    assert "certhelper_pairs.csv.gz:7: expected 5 fields, got 4" in out
    assert ReferencePair.objects.count() == 2
    job = Job.objects.get()
    assert (job.kind, job.status, job.rows_created, job.rows_skipped) == (
        JobKind.PAIRS_IMPORT,
        JobStatus.SUCCEEDED,
        2,
        3,
    )
    assert len(job.errors) == 3


def test_it_imports_the_json_list_and_is_idempotent(tmp_path):
    rows = [
        {
            "run_number": 313130,
            "run_reconstruction_type": "prompt",
            "reference_run_number": 313105,
            "reference_run_reconstruction_type": "prompt",
            "dataset": "/Cosmics/Commissioning2018-PromptReco-v1/DQMIO",
        },
        {"run_number": 313131, "reference_run_number": 313105},
    ]
    path = tmp_path / "ch_refruns.json"
    path.write_text(json.dumps(rows))
    first = _run(path)
    assert "pair: 1 created" in first
    assert "ch_refruns.json:2: no reconstruction type" in first
    second = _run(path)
    assert "pair: 0 created, 0 updated, 1 unchanged; 1 rows skipped" in second


def test_it_fails_on_a_truncated_file_after_importing_the_rows_before(tmp_path):
    lines = [HEADER] + [f"{300000 + i},prompt,299999,prompt,/A/B/DQM" for i in range(4000)]
    path = write_truncated_gzip(tmp_path / "certhelper_pairs.csv.gz", "\n".join(lines) + "\n")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_pairs", str(path), stdout=out)
    assert "FAILED: truncated or corrupt gzip after line" in out.getvalue()
    assert 0 < ReferencePair.objects.count() < 4000
    assert Job.objects.get().status == JobStatus.FAILED


def test_it_fails_on_a_missing_column(tmp_path):
    path = write_text(tmp_path / "pairs.csv", "run_number,reference_run_number\n1,2\n")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_pairs", str(path), stdout=out)
    assert "FAILED: missing required column 'run_reconstruction_type'" in out.getvalue()
