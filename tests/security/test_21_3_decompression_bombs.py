"""Issue 21, finding 3: nothing bounded what an import file may inflate to. A 1 MB
`.json.gz` of pairs that inflates to 300 MB took `import_pairs` to 1.6 GB; a 300 KB
`.csv.gz` of one 300 MB line took `import_oms_dump` to 840 MB, and one of a rejected
row repeated ran out of memory (every rejected row was kept).

Each bomb must stop at IMPORT_MAX_INFLATED_MB with a file-level error that names
the file and the limit, write nothing, and leave its job failed (not running).
Peak memory is measured outside the tests (see the issue's report)."""

import io

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import Lumisection, Run
from jobs.models import Job, JobKind, JobStatus
from jobs.services import MAX_JOB_ERRORS
from recommender.models import ReferencePair
from tests.security.bombs import lumisections_csv_rows_bomb, lumisections_csv_zeros_bomb, pairs_json_bomb

pytestmark = pytest.mark.django_db


def _refused(*args) -> str:
    out = io.StringIO()
    with pytest.raises(CommandError, match="could not be"):
        call_command(*map(str, args), stdout=out)
    return out.getvalue()


def test_the_default_limit_is_below_the_bombs_of_the_issue(settings):
    assert 8 < settings.IMPORT_MAX_INFLATED_MB < 300  # the largest real dump inflates to 8.5 MB


def test_a_pairs_json_gz_that_inflates_to_300_mb_is_refused_and_writes_nothing(tmp_path, settings):
    settings.IMPORT_MAX_INFLATED_MB = 64
    bomb = pairs_json_bomb(tmp_path / "certhelper_pairs_2024.json.gz", inflated_mb=300)
    assert bomb.stat().st_size < 2 * 1024 * 1024

    out = _refused("import_pairs", bomb)

    reason = "certhelper_pairs_2024.json.gz inflates to more than 64 MB (IMPORT_MAX_INFLATED_MB)"
    assert f"FAILED: {reason}" in out
    assert not ReferencePair.objects.exists() and not Run.objects.exists()
    job = Job.objects.get(kind=JobKind.PAIRS_IMPORT)
    assert job.status == JobStatus.FAILED and job.errors == [{"file": bomb.name, "line": None, "reason": reason}]


def test_a_csv_gz_of_one_300_mb_line_is_refused_and_writes_nothing(tmp_path, settings):
    settings.IMPORT_MAX_INFLATED_MB = 64
    bomb = lumisections_csv_zeros_bomb(tmp_path / "oms_lumisections_2018_bomb.csv.gz", inflated_mb=300)

    out = _refused("import_oms_dump", bomb)

    assert "FAILED: oms_lumisections_2018_bomb.csv.gz inflates to more than 64 MB (IMPORT_MAX_INFLATED_MB)" in out
    assert not Lumisection.objects.exists() and not Run.objects.exists()
    assert Job.objects.get(kind=JobKind.OMS_DUMP_IMPORT).status == JobStatus.FAILED


def test_a_csv_gz_of_a_rejected_row_repeated_stops_at_the_limit_and_keeps_a_bounded_error_list(tmp_path, settings):
    # A small limit keeps the test fast: 1 MB is 262,144 rejected rows of "0,1".
    settings.IMPORT_MAX_INFLATED_MB = 1
    bomb = lumisections_csv_rows_bomb(tmp_path / "oms_lumisections_2018_rows.csv.gz", inflated_mb=8)

    out = _refused("import_oms_dump", bomb)

    assert "inflates to more than 1 MB (IMPORT_MAX_INFLATED_MB)" in out
    assert not Lumisection.objects.exists()
    job = Job.objects.get(kind=JobKind.OMS_DUMP_IMPORT)
    assert job.status == JobStatus.FAILED
    assert job.rows_skipped > 200_000  # every rejected row is counted ...
    assert len(job.errors) <= MAX_JOB_ERRORS + 1  # ... the first ones are kept, and the file's failure
    assert job.errors[0] == {"file": bomb.name, "line": 2, "reason": "run_number: must be >= 1, got 0"}


def test_an_oms_json_gz_bomb_is_refused_when_it_is_recognised(tmp_path, settings):
    settings.IMPORT_MAX_INFLATED_MB = 4
    bomb = pairs_json_bomb(tmp_path / "oms_runs_2024.json.gz", inflated_mb=40)

    out = _refused("import_oms_dump", bomb)

    assert "FAILED: oms_runs_2024.json.gz inflates to more than 4 MB (IMPORT_MAX_INFLATED_MB)" in out


def test_a_file_within_the_limit_still_imports(tmp_path, settings):
    settings.IMPORT_MAX_INFLATED_MB = 1
    small = lumisections_csv_rows_bomb(tmp_path / "oms_lumisections_2018_small.csv.gz", inflated_mb=0)

    call_command("import_oms_dump", str(small), stdout=io.StringIO())

    assert Job.objects.get(kind=JobKind.OMS_DUMP_IMPORT).status == JobStatus.SUCCEEDED
