"""The importers end to end, into the database, on mixed good and bad rows:
no unhandled exception; exactly the rows the parser accepts land; a rejected row
leaves nothing behind (not even a bare run); a second import changes nothing.

Each Hypothesis example runs in a savepoint that is rolled back, so examples do
not see each other's rows."""

import contextlib
import gzip
import tempfile
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from ingestion.models import Fill, Lumisection, Run
from ingestion.parsers import LUMISECTION, RUN, RowError, parse_certhelper_pairs, recognise_dump
from ingestion.services import oms_dump_import
from jobs.models import Job
from recommender.models import LabelSource, ReferencePair, RunReconstruction
from recommender.services import certhelper_pairs_file_import
from tests.fuzz.strategies import FUZZ_DB, json_dumps, mutated, text, write_csv

pytestmark = pytest.mark.django_db

GOOD_RUNS = st.integers(315000, 315012)  # valid rows; few, so rows update each other
BAD_RUNS = st.integers(900000, 900012)  # rejected rows; must never appear in the mirror


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back():
    with contextlib.suppress(_Rollback), transaction.atomic():
        yield
        raise _Rollback


def _mirror() -> tuple:
    return (
        sorted(Fill.objects.values_list("fill_number", "start_time", "bunches_colliding", "init_lumi", "era")),
        sorted(
            Run.objects.values_list(
                "run_number",
                "fill__fill_number",
                "duration",
                "init_lumi",
                "b_field",
                "l1_hlt_mode",
                "components",
                "sources",
            ),
            key=repr,
        ),
        sorted(Lumisection.objects.values_list("run__run_number", "number", "init_lumi", "pileup", "physics_flag")),
        sorted(RunReconstruction.objects.values_list("run__run_number", "reconstruction", "dataset")),
        sorted(
            ReferencePair.objects.values_list(
                "run_reconstruction__run__run_number",
                "run_reconstruction__reconstruction",
                "reference__run__run_number",
                "reference__reconstruction",
                "source",
            )
        ),
    )


def _rejected_run_numbers(items: list, errors: list[RowError], accepted: set[int]) -> set[int]:
    """Run numbers that only rejected rows name (JSON: an error's line is the item's position)."""
    numbers = set()
    for error in errors:
        item = items[error.line - 1]
        for key in ("run_number", "reference_run_number"):
            value = item.get(key) if isinstance(item, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and 900000 <= value <= 900012:
                numbers.add(value)
    return numbers - accepted


# --- Certhelper pairs --------------------------------------------------------------------

RECOS = ["online", "express", "prompt", "rereco", "rerecoul"]


def _pairs(runs):
    return st.fixed_dictionaries(
        {
            "run_number": runs,
            "run_reconstruction_type": st.sampled_from(RECOS),
            "reference_run_number": runs,
            "reference_run_reconstruction_type": st.sampled_from(RECOS),
            "dataset": st.one_of(
                st.sampled_from(["", "/StreamExpress/Run2018D-Express-v1/DQMIO", "To Be Defined"]), text
            ),
        }
    )


@FUZZ_DB
@given(
    items=st.lists(st.one_of(_pairs(GOOD_RUNS), mutated(_pairs(BAD_RUNS))), min_size=1, max_size=10),
    batch_size=st.integers(1, 4),
    gz=st.booleans(),
)
def test_the_pairs_import_lands_exactly_the_valid_rows_and_is_idempotent(items, batch_size, gz):
    with tempfile.TemporaryDirectory() as folder, rolled_back():
        path = Path(folder) / ("pairs.json.gz" if gz else "pairs.json")
        data = json_dumps(items).encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        parsed = parse_certhelper_pairs(path)

        report = certhelper_pairs_file_import(path=path, batch_size=batch_size)

        assert not report.failed
        assert [e.as_dict() for e in report.files[0].errors] == [e.as_dict() for e in parsed.errors]
        for error in report.files[0].errors:
            assert error.file == path.name and error.line >= 1 and error.reason
        expected = {}
        for row in parsed.rows:  # Certhelper holds one reference per run reconstruction: the last wins
            expected[(row.run_number, row.run_reconstruction_type)] = (
                row.reference_run_number,
                row.reference_run_reconstruction_type,
            )
        landed = {
            (p.run_reconstruction.run.run_number, p.run_reconstruction.reconstruction): (
                p.reference.run.run_number,
                p.reference.reconstruction,
            )
            for p in ReferencePair.objects.filter(source=LabelSource.CERTHELPER).select_related(
                "run_reconstruction__run", "reference__run"
            )
        }
        assert landed == expected
        accepted = {n for row in parsed.rows for n in (row.run_number, row.reference_run_number)}
        assert set(Run.objects.values_list("run_number", flat=True)) == accepted
        assert not Run.objects.filter(run_number__in=_rejected_run_numbers(items, parsed.errors, accepted)).exists()

        before = _mirror()
        again = certhelper_pairs_file_import(path=path, batch_size=batch_size)
        total, _ = again.totals()
        assert _mirror() == before
        # A file naming two different references (or datasets) for one run
        # reconstruction is rewritten row by row, the last one winning again: the
        # end state is the same, but those rows count as updated.
        values = {}
        for row in parsed.rows:
            values.setdefault((row.run_number, row.run_reconstruction_type), set()).add(
                (row.reference_run_number, row.reference_run_reconstruction_type, row.dataset)
            )
        contradictory = any(len(seen) > 1 for seen in values.values())
        assert total.created == 0 and (contradictory or total.updated == 0)


# --- OMS dumps -------------------------------------------------------------------------------

iso_times = st.datetimes(
    min_value=__import__("datetime").datetime(2009, 1, 1), max_value=__import__("datetime").datetime(2030, 1, 1)
).map(lambda moment: moment.isoformat() + "Z")
floats = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))


def _runs(numbers):
    return st.fixed_dictionaries(
        {"run_number": numbers},
        optional={
            "fill_number": st.one_of(st.none(), st.integers(7000, 7003)),
            "start_time": iso_times,
            "duration": st.integers(0, 100_000),
            "init_lumi": floats,
            "delivered_lumi": floats,
            "b_field": floats,
            "l1_hlt_mode": st.one_of(st.sampled_from(["collisions2018", "cosmics2018", "collisionshi2018"]), text),
            "components": st.lists(st.sampled_from(["DAQ", "TRACKER", "PIXEL", "ÉCAL"]), max_size=3),
            "stable_beam": st.one_of(st.none(), st.booleans()),
            "hlt_physics_counter": st.integers(0, 2**40),
        },
    )


def _lumisections(numbers):
    return st.fixed_dictionaries(
        {"run_number": numbers, "lumisection_number": st.integers(1, 6)},
        optional={"init_lumi": floats, "pileup": floats, "physics_flag": st.one_of(st.none(), st.booleans())},
    )


def _api_item(resource: str, attributes: dict, unit: str | None) -> dict:
    item = {"id": "x", "type": resource, "attributes": attributes}
    if unit is not None:
        item["meta"] = {"row": {"init_lumi": {"units": unit}}}
    return item


api_items = st.one_of(
    st.tuples(st.just("runs"), _runs(GOOD_RUNS)),
    st.tuples(st.just("runs"), mutated(_runs(BAD_RUNS))),
    st.tuples(st.just("lumisections"), _lumisections(GOOD_RUNS)),
    st.tuples(st.just("lumisections"), mutated(_lumisections(BAD_RUNS))),
).flatmap(
    lambda pair: st.one_of(
        st.none(), st.sampled_from(["10^{34}cm^{-2}s^{-1}", "Hz/fb", "10^{400}cm^{-2}s^{-1}", "W"])
    ).map(lambda unit: _api_item(pair[0], pair[1], unit))
)
RUN_CSV = ["run_number", "fill_number", "duration", "b_field", "l1_hlt_mode", "init_lumi", "init_lumi_unit"]


@FUZZ_DB
@given(
    items=st.lists(api_items, max_size=10),
    csv_runs=st.lists(st.one_of(_runs(GOOD_RUNS), mutated(_runs(BAD_RUNS), cells=True)), max_size=6),
    batch_size=st.integers(1, 5),
)
def test_the_oms_dump_import_lands_exactly_the_valid_rows_and_is_idempotent(items, csv_runs, batch_size):
    with tempfile.TemporaryDirectory() as folder, rolled_back():
        page = Path(folder) / "page.json"
        page.write_text(json_dumps({"data": items}))
        runs_csv = Path(folder) / "oms_runs_2018_collisions.csv"
        write_csv(runs_csv, RUN_CSV, [["" if r.get(c) is None else str(r.get(c)) for c in RUN_CSV] for r in csv_runs])
        accepted_runs, accepted_ls, rejected = set(), set(), set()
        contradictory = False
        for path, raw in ((page, items), (runs_csv, None)):
            records = list(recognise_dump(path).read())
            seen: dict[tuple, dict] = {}
            for record in records:
                if isinstance(record, RowError):
                    continue
                key = (record.entity, record.data["run_number"], record.data.get("number"))
                contradictory |= seen.setdefault(key, record.data) != record.data
                if record.entity == RUN:
                    accepted_runs.add(record.data["run_number"])
                elif record.entity == LUMISECTION:
                    accepted_ls.add((record.data["run_number"], record.data["number"]))
            if raw is not None:
                errors = [r for r in records if isinstance(r, RowError)]
                rejected |= _rejected_run_numbers([i["attributes"] for i in raw], errors, set())

        report = oms_dump_import(paths=[page, runs_csv], batch_size=batch_size)

        assert not report.failed, report.lines()
        for file_report in report.files:
            for error in file_report.errors:
                assert error.file == file_report.name and error.line >= 1 and error.reason
        landed_runs = set(Run.objects.values_list("run_number", flat=True))
        assert landed_runs == accepted_runs | {run for run, _ in accepted_ls}
        assert set(Lumisection.objects.values_list("run__run_number", "number")) == accepted_ls
        assert not landed_runs & (rejected - accepted_runs - {run for run, _ in accepted_ls})
        job = Job.objects.get(pk=report.job_id)
        assert job.rows_skipped == sum(len(f.errors) for f in report.files)

        before = _mirror()
        again = oms_dump_import(paths=[page, runs_csv], batch_size=batch_size)
        total, _ = again.totals()
        assert _mirror() == before
        # As for pairs: a file that contradicts itself lands the same, counted as updates.
        assert total.created == 0 and (contradictory or total.updated == 0), again.lines()
