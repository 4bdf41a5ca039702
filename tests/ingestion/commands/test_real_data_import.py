"""Both importers on the real CMS dumps (../shared/data): every file loads, the
counts add up to the files' rows, and a second run changes nothing."""

import csv
import gzip
import io
import re

import pytest
from django.core.management import call_command

from ingestion.models import Fill, Lumisection, Run
from jobs.models import Job
from recommender.models import ReferencePair

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.shared_data]

FILE_LINE = re.compile(r"^(?P<name>\S+) \[(?P<source>\w+)\]: (?P<counts>.*); (?P<skipped>\d+) rows skipped$")
COUNTS = re.compile(
    r"(?P<entity>[\w ]+): (?P<created>\d+) created, (?P<updated>\d+) updated, (?P<unchanged>\d+) unchanged"
)


def _summary(output: str) -> dict[str, dict]:
    files = {}
    for line in output.splitlines():
        match = FILE_LINE.match(line)
        if match:
            counts = {
                m["entity"].strip(): tuple(int(m[k]) for k in ("created", "updated", "unchanged"))
                for m in COUNTS.finditer(match["counts"])
            }
            files[match["name"]] = {"counts": counts, "skipped": int(match["skipped"])}
    return files


def _data_rows(path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def _call(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_imports_the_real_dumps_twice(shared_data_dir):
    first = _summary(_call("import_oms_dump", str(shared_data_dir)))
    one_row_per_record = {
        "oms_fills_2018.csv.gz": "fill",
        "oms_fills_2009_2022.csv.gz": "fill",
        "oms_runs_2018_collisions.csv.gz": "run",
        "oms_runs_2018_apr_may_all.csv.gz": "run",
        "oms_lumisections_2018_apr_may.csv.gz": "lumisection",
        "apv_mode_runs_2016_2021.csv": "run",
        "cosmics_counter_2024.csv": "run",
        "run_duration_fill_2017_2018.csv": "run",
        "brilcalc_run_lumisections_2010_2022.csv.gz": "run",
        "runs_features_merged.csv.gz": "run",
    }
    for name, entity in one_row_per_record.items():
        assert first[name]["skipped"] == 0, name
        assert sum(first[name]["counts"][entity]) == _data_rows(shared_data_dir / name), name
    assert sum(first["oms_runs_2024_cosmics_377254_377296.json"]["counts"]["run"]) == 28
    assert sum(first["pv_mean_per_run_2015_2018.csv.gz"]["counts"]["run"]) == 1655  # one per run
    assert Lumisection.objects.count() == 100_000
    assert first["oms_lumisections_2018_apr_may.csv.gz"]["counts"]["lumisection"] == (100_000, 0, 0)
    assert Fill.objects.filter(fill_number__lte=8496).count() == 7462  # 7,463 rows, fill 4420 twice
    assert Run.objects.count() == 14_846

    pairs_rows = _data_rows(shared_data_dir / "certhelper_pairs.csv.gz")
    pairs = _summary(_call("import_pairs", str(shared_data_dir / "certhelper_pairs.csv.gz")))["certhelper_pairs.csv.gz"]
    assert pairs["counts"]["pair"][0] + pairs["skipped"] == pairs_rows == 9589
    assert ReferencePair.objects.count() == pairs["counts"]["pair"][0]

    state = (Run.objects.count(), Fill.objects.count(), Lumisection.objects.count(), ReferencePair.objects.count())
    again = _summary(_call("import_oms_dump", str(shared_data_dir)))
    assert all(c[0] == 0 and c[1] == 0 for f in again.values() for c in f["counts"].values()), again
    pairs_again = _summary(_call("import_pairs", str(shared_data_dir / "certhelper_pairs.csv.gz")))
    assert pairs_again["certhelper_pairs.csv.gz"]["counts"]["pair"] == (0, 0, pairs["counts"]["pair"][0])
    assert (
        Run.objects.count(),
        Fill.objects.count(),
        Lumisection.objects.count(),
        ReferencePair.objects.count(),
    ) == state
    assert [job.rows_created for job in Job.objects.order_by("pk")][2:] == [0, 0]
