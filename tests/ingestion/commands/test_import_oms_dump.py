import io

import pytest
from django.core.management import CommandError, call_command

from ingestion.models import Fill, Lumisection, Run
from jobs.models import Job, JobKind, JobStatus
from tests.ingestion.helpers import LS_HEADER, ls_row, oms_api_page, write_csv, write_json, write_truncated_gzip

pytestmark = pytest.mark.django_db

RUNS3_HEADER = ["run_number", "duration", "fill_number", "init_lumi", "end_lumi", "l1_hlt_mode", "b_field"]
RUNS4_HEADER = [
    "run_number",
    "start_time",
    "end_time",
    "fill_number",
    "init_lumi",
    "end_lumi",
    "l1_hlt_mode",
    "components",
    "sequence",
]


def _run(*args):
    out = io.StringIO()
    call_command("import_oms_dump", *map(str, args), stdout=out)
    return out.getvalue()


def _dumps(directory):
    directory.mkdir()
    write_csv(
        directory / "oms_runs_2018_collisions.csv",
        RUNS3_HEADER,
        [[315190, 2733, 6614, 0.36, 0.0, "collisions2018", 3.8]],
    )
    write_csv(
        directory / "oms_runs_2018_apr_may_all.csv.gz",
        RUNS4_HEADER,
        [
            [
                315190,
                "2018-04-26T06:28:12Z",
                "2018-04-26T07:10:00Z",
                6614,
                0.30,
                0.1,
                "collisions2018",
                "PIXEL;TRACKER",
                "GLOBAL-RUN",
            ],
            [
                314206,
                "2018-04-13T15:06:07Z",
                "2018-04-13T15:13:07Z",
                6554,
                0.0,
                0.0,
                "cosmics2018",
                "TRACKER",
                "GLOBAL-RUN",
            ],
        ],
    )
    write_csv(directory / "oms_lumisections_2018.csv.gz", LS_HEADER, [ls_row(315190, n) for n in range(1, 6)])
    write_json(
        directory / "fills_page.json",
        oms_api_page(
            "fills",
            [
                (
                    "6614",
                    {"fill_number": 6614, "bunches_colliding": 590, "init_lumi": 0.54},
                    {"init_lumi": "10^{34}cm^{-2}s^{-1}"},
                )
            ],
        ),
    )
    write_csv(directory / "certhelper_pairs.csv", ["run_number"], [[1]])
    return directory


def _db_state():
    return (
        sorted(Run.objects.values_list("run_number", "duration", "init_lumi", "components", "run_class", "sources")),
        sorted(Fill.objects.values_list("fill_number", "bunches_colliding", "init_lumi")),
        sorted(Lumisection.objects.values_list("run__run_number", "number", "recorded_lumi")),
    )


def test_it_imports_a_directory_and_reports_per_file(tmp_path):
    out = _run(_dumps(tmp_path / "dumps"))
    assert "certhelper_pairs.csv: skipped, Certhelper pairs export: load it with import_pairs" in out
    assert "oms_lumisections_2018.csv.gz [oms_lumisections]: lumisection: 5 created" in out
    assert "fills_page.json [oms_api]: fill: 1 created" in out
    assert "Total:" in out and "0 files failed" in out
    run = Run.objects.get(run_number=315190)
    assert (run.duration, run.init_lumi, run.components, run.fill.bunches_colliding) == (
        2733,
        0.36,
        ["PIXEL", "TRACKER"],
        590,
    )
    assert Run.objects.get(run_number=314206).duration == 420
    job = Job.objects.get()
    assert (job.kind, job.status, job.rows_skipped) == (JobKind.OMS_DUMP_IMPORT, JobStatus.SUCCEEDED, 0)


def test_it_is_idempotent(tmp_path):
    directory = _dumps(tmp_path / "dumps")
    _run(directory)
    state = _db_state()
    out = _run(directory)
    assert "Total: 0 created, 0 updated," in out
    assert _db_state() == state
    assert Job.objects.order_by("-pk").first().rows_created == 0


def test_it_gives_the_same_result_whatever_the_file_order(tmp_path):
    directory = _dumps(tmp_path / "dumps")
    collisions = directory / "oms_runs_2018_collisions.csv"
    apr_may = directory / "oms_runs_2018_apr_may_all.csv.gz"
    _run(collisions)
    _run(apr_may)
    forward = _db_state()
    Run.objects.all().delete()
    Fill.objects.all().delete()
    _run(apr_may)
    _run(collisions)
    assert _db_state() == forward
    run_315190 = forward[0][1]
    assert run_315190[1] == 2733  # file 3 duration beats file 4 end - start (2508 s)
    assert run_315190[3] == ["PIXEL", "TRACKER"]  # file 4 fills what file 3 lacks


def test_it_reports_bad_rows_and_imports_the_good_ones(tmp_path):
    path = write_csv(
        tmp_path / "oms_runs_2018_collisions.csv",
        RUNS3_HEADER,
        [[315190, 2733, 6614, 0.36, 0.0, "collisions2018", 3.8]]
        + [[315200 + i, "n/a?", 6614, 0.1, 0.0, "collisions2018", 3.8] for i in range(25)],
    )
    out = _run(path)
    assert "run: 1 created, 0 updated, 0 unchanged; 25 rows skipped" in out
    assert "oms_runs_2018_collisions.csv:3: duration: expected a number, got 'n/a?'" in out
    assert "... and 5 more" in out
    assert Run.objects.count() == 1
    job = Job.objects.get()
    assert len(job.errors) == 25
    assert job.errors[0] == {
        "file": "oms_runs_2018_collisions.csv",
        "line": 3,
        "reason": "duration: expected a number, got 'n/a?'",
    }


def test_it_fails_on_a_truncated_gzip_but_keeps_earlier_rows_and_other_files(tmp_path):
    lines = [",".join(LS_HEADER)] + [",".join(map(str, ls_row(315150, n))) for n in range(1, 5001)]
    broken = write_truncated_gzip(tmp_path / "oms_lumisections_x.csv.gz", "\n".join(lines) + "\n")
    good = write_csv(
        tmp_path / "oms_runs_2018_collisions.csv",
        RUNS3_HEADER,
        [[315190, 2733, 6614, 0.36, 0.0, "collisions2018", 3.8]],
    )
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_oms_dump", str(broken), str(good), "--batch-size", "1000", stdout=out)
    assert "FAILED: truncated or corrupt gzip after line" in out.getvalue()
    assert "1 files failed (oms_lumisections_x.csv.gz)" in out.getvalue()
    assert 0 < Lumisection.objects.count() < 5000
    assert Run.objects.filter(run_number=315190).exists()
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.errors[-1]["file"] == "oms_lumisections_x.csv.gz" and job.errors[-1]["line"] is None


def test_it_fails_clearly_on_a_missing_column(tmp_path):
    path = write_csv(tmp_path / "oms_fills_x.csv", ["bunches_colliding"], [[1]])
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_oms_dump", str(path), stdout=out)
    assert "FAILED: missing required column 'fill_number'" in out.getvalue()


def test_it_fails_on_a_missing_file(tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_oms_dump", str(tmp_path / "nope.csv"), stdout=out)
    assert "nope.csv" in out.getvalue() and "FAILED: no such file" in out.getvalue()
