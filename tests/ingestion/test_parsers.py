import datetime as dt

import pytest

from ingestion.parsers import (
    FILL,
    LUMISECTION,
    RECONSTRUCTION_TYPES,
    RUN,
    CerthelperPair,
    DumpFileError,
    RowError,
    SkippedFile,
    parse_certhelper_pairs,
    recognise_dump,
)
from recommender.models import Reconstruction
from tests.ingestion.helpers import (
    LS_HEADER,
    ls_row,
    oms_api_page,
    write_csv,
    write_json,
    write_text,
    write_truncated_gzip,
)

PAIR_HEADER = [
    "run_number",
    "run_reconstruction_type",
    "reference_run_number",
    "reference_run_reconstruction_type",
    "dataset",
]


def _read(path):
    """All records and row errors of a recognised dump, and the file error if any."""
    source = recognise_dump(path)
    records, errors, failure = [], [], None
    try:
        for item in source.read():
            (errors if isinstance(item, RowError) else records).append(item)
    except DumpFileError as exc:
        failure = exc
    return source, records, errors, failure


# --- Certhelper pairs ---------------------------------------------------------------


def test_it_parses_certhelper_csv_and_cleans_datasets(tmp_path):
    path = tmp_path / "certhelper_pairs.csv"
    write_text(
        path,
        ",".join(PAIR_HEADER)
        + "\n"
        + "313098,express,312727,express,To Be Defined\n"
        + '348396,express,345829,express,"/Express/Commissioning2022/DQM\n"\n'
        + "348400,prompt,345829,prompt,\n"
        + "348401,Prompt,345829,prompt, /PromptReco/Collisions2022/DQM \n",
    )
    parsed = parse_certhelper_pairs(path)
    assert parsed.errors == []
    assert parsed.fatal == ""
    assert parsed.rows == [
        CerthelperPair(2, 313098, "express", 312727, "express", ""),
        CerthelperPair(3, 348396, "express", 345829, "express", "/Express/Commissioning2022/DQM"),
        CerthelperPair(5, 348400, "prompt", 345829, "prompt", ""),
        CerthelperPair(6, 348401, "prompt", 345829, "prompt", "/PromptReco/Collisions2022/DQM"),
    ]


def test_it_parses_the_certhelper_json_list_gzipped(tmp_path):
    path = write_json(
        tmp_path / "ch_refruns.json.gz",
        [
            {
                "run_number": 313130,
                "run_reconstruction_type": "prompt",
                "reference_run_number": 313105,
                "reference_run_reconstruction_type": "prompt",
                "dataset": None,
            }
        ],
    )
    parsed = parse_certhelper_pairs(path)
    assert parsed.rows == [CerthelperPair(1, 313130, "prompt", 313105, "prompt", "")]


def test_it_rejects_bad_certhelper_rows_with_file_line_and_reason(tmp_path):
    path = write_json(
        tmp_path / "pairs.json",
        [
            {"run_number": 1, "reference_run_number": 2},  # the 2021 format
            {
                "run_number": 3,
                "run_reconstruction_type": "online2",
                "reference_run_number": 2,
                "reference_run_reconstruction_type": "prompt",
                "dataset": "",
            },
            {
                "run_number": "abc",
                "run_reconstruction_type": "prompt",
                "reference_run_number": 2,
                "reference_run_reconstruction_type": "prompt",
                "dataset": "",
            },
            {
                "run_number": 5,
                "run_reconstruction_type": "prompt",
                "reference_run_number": 0,
                "reference_run_reconstruction_type": "prompt",
                "dataset": "",
            },
            {
                "run_number": 6,
                "run_reconstruction_type": "prompt",
                "reference_run_number": 2,
                "reference_run_reconstruction_type": "prompt",
                "dataset": "/A/B/DQM",
            },
            "not an object",
        ],
    )
    parsed = parse_certhelper_pairs(path)
    assert [r.run_number for r in parsed.rows] == [6]
    assert [str(e) for e in parsed.errors] == [
        "pairs.json:1: no reconstruction type (old export format without reconstruction types)",
        "pairs.json:2: run_reconstruction_type: unknown reconstruction type 'online2'",
        "pairs.json:3: run_number: expected a number, got 'abc'",
        "pairs.json:4: reference_run_number: must be >= 1, got 0",
        "pairs.json:6: expected an object",
    ]


def test_it_reports_a_missing_certhelper_column(tmp_path):
    path = write_csv(tmp_path / "pairs.csv", ["run_number", "reference_run_number"], [[1, 2]])
    parsed = parse_certhelper_pairs(path)
    assert parsed.rows == []
    assert "missing required column 'run_reconstruction_type'" in parsed.fatal


def test_it_keeps_certhelper_rows_before_a_truncated_gzip(tmp_path):
    lines = [",".join(PAIR_HEADER)] + [f"{300000 + i},prompt,299999,prompt,/A/B/DQM" for i in range(5000)]
    path = write_truncated_gzip(tmp_path / "pairs.csv.gz", "\n".join(lines) + "\n")
    parsed = parse_certhelper_pairs(path)
    assert "truncated or corrupt gzip after line" in parsed.fatal
    assert 0 < len(parsed.rows) < 5000
    assert parsed.rows[-1].line == len(parsed.rows) + 1  # no row lost before the damage


def test_it_mirrors_the_recommender_reconstruction_choices():
    assert frozenset(Reconstruction.values) == RECONSTRUCTION_TYPES


# --- OMS dumps ------------------------------------------------------------------------


def test_it_reads_fills_with_unit_columns(tmp_path):
    header = [
        "fill_number",
        "start_time",
        "init_lumi",
        "init_lumi_unit",
        "peak_lumi",
        "peak_lumi_unit",
        "delivered_lumi",
        "delivered_lumi_unit",
        "bunches_colliding",
        "fill_type_runtime",
    ]
    path = write_csv(
        tmp_path / "oms_fills_2018.csv.gz",
        header,
        [
            [
                6614,
                "2018-04-26T03:10:00Z",
                0.95,
                "10^{34}cm^{-2}s^{-1}",
                0.97,
                "10^{34}cm^{-2}s^{-1}",
                58.2,
                "pb^{-1}",
                1215,
                "PROTONS",
            ],
            [
                7427,
                "2018-11-08T00:00:00Z",
                1.5,
                "10^{27}cm^{-2}s^{-1}",
                2.0,
                "10^{27}cm^{-2}s^{-1}",
                75.0,
                "{\\mu}b^{-1}",
                40,
                "PB",
            ],
        ],
    )
    source, records, errors, failure = _read(path)
    assert (source.source, errors, failure) == ("oms_fills", [], None)
    pp, hi = (r.data for r in records)
    assert {r.entity for r in records} == {FILL}
    assert pp["init_lumi"] == 0.95 and pp["init_lumi_source_unit"] == "10^{34}cm^{-2}s^{-1}"
    assert pp["start_time"] == dt.datetime(2018, 4, 26, 3, 10, tzinfo=dt.UTC)
    assert hi["init_lumi"] == pytest.approx(1.5e-7)
    assert hi["delivered_lumi"] == pytest.approx(75e-6)
    assert hi["integrated_lumi_source_unit"] == "{\\mu}b^{-1}"


def test_it_infers_units_for_old_fills_and_maps_brilcalc_runs(tmp_path):
    header = [
        "oms_fill_number",
        "oms_start_time",
        "oms_init_lumi",
        "oms_peak_lumi",
        "oms_delivered_lumi",
        "oms_fill_type_runtime",
        "oms_first_run_number",
        "oms_last_run_number",
        "brilcalc_run",
    ]
    path = write_csv(
        tmp_path / "oms_fills_2009_2022.csv",
        header,
        [[4420, "2015-09-25T10:00:00Z", 2842.5, 2904.8, 99.7, "PROTONS", 257465, 257490, '"[257465, 257490]"']],
    )
    _, records, errors, _ = _read(path)
    assert errors == []
    fill, *runs = records
    assert fill.data["init_lumi"] == pytest.approx(0.28425)
    assert fill.data["init_lumi_source_unit"] == "10^{30}cm^{-2}s^{-1} (inferred)"
    assert fill.data["first_run_number"] == 257465
    assert [(r.entity, r.data) for r in runs] == [
        (RUN, {"run_number": 257465, "fill_number": 4420}),
        (RUN, {"run_number": 257490, "fill_number": 4420}),
    ]


def test_it_computes_duration_and_splits_components_for_apr_may_runs(tmp_path):
    header = [
        "run_number",
        "start_time",
        "end_time",
        "components",
        "fill_number",
        "l1_hlt_mode",
        "stable_beam",
        "init_lumi",
    ]
    path = write_csv(
        tmp_path / "oms_runs_2018_apr_may_all.csv.gz",
        header,
        [
            [
                314206,
                "2018-04-13T15:06:07Z",
                "2018-04-13T15:13:07Z",
                "DAQ;DCS;TRACKER",
                "6554.0",
                "cosmics2018",
                "False",
                0.5,
            ]
        ],
    )
    source, records, errors, _ = _read(path)
    assert source.source == "oms_runs_2018_apr_may_all"
    assert errors == []
    data = records[0].data
    assert data["duration"] == 420
    assert data["components"] == ["DAQ", "DCS", "TRACKER"]
    assert data["fill_number"] == 6554
    assert data["stable_beam"] is False
    assert data["instant_lumi_source_unit"] == "10^{34}cm^{-2}s^{-1} (inferred)"


def test_it_rejects_bad_run_rows_and_keeps_the_good_ones(tmp_path):
    header = ["run_number", "duration", "fill_number", "init_lumi", "l1_hlt_mode", "start_time"]
    path = write_csv(
        tmp_path / "oms_runs_2018_collisions.csv",
        header,
        [
            [315190, 2733, 6614, 0.36, "collisions2018", "2018-04-26T06:28:12Z"],
            [315191, "long", 6614, 0.36, "collisions2018", ""],
            [315192, 100, 6614, "high", "collisions2018", ""],
            [315193, 100, 6614, 0.3, "collisions2018", "yesterday"],
            [315194, 100, 6614.5, 0.3, "collisions2018", ""],
            ["", 100, 6614, 0.3, "collisions2018", ""],
        ],
    )
    _, records, errors, failure = _read(path)
    assert failure is None
    assert [r.data["run_number"] for r in records] == [315190]
    assert [str(e) for e in errors] == [
        "oms_runs_2018_collisions.csv:3: duration: expected a number, got 'long'",
        "oms_runs_2018_collisions.csv:4: init_lumi: expected a number, got 'high'",
        "oms_runs_2018_collisions.csv:5: start_time: unparseable timestamp 'yesterday'",
        "oms_runs_2018_collisions.csv:6: fill_number: expected an integer, got '6614.5'",
        "oms_runs_2018_collisions.csv:7: run_number: missing",
    ]


def test_it_rejects_negative_bunches_and_unknown_units(tmp_path):
    header = ["fill_number", "bunches_colliding", "init_lumi", "init_lumi_unit"]
    path = write_csv(
        tmp_path / "oms_fills_x.csv",
        header,
        [[7000, -1, 1.0, "10^{34}cm^{-2}s^{-1}"], [7001, 100, 1.0, "furlongs"], [7002, 100, 1.0, ""]],
    )
    _, records, errors, _ = _read(path)
    assert [r.data["fill_number"] for r in records] == [7002]
    assert [e.reason for e in errors] == [
        "bunches_colliding: must be >= 0, got -1",
        "init_lumi: unknown instantaneous luminosity unit 'furlongs'",
    ]


def test_it_reports_a_missing_required_column(tmp_path):
    path = write_csv(tmp_path / "oms_lumisections_x.csv", ["run_number", "pileup"], [[1, 2]])
    _, records, _, failure = _read(path)
    assert records == []
    assert str(failure) == "oms_lumisections_x.csv: missing required column 'lumisection_number'"


def test_it_reads_lumisections_and_stops_at_a_truncated_gzip(tmp_path):
    lines = [",".join(LS_HEADER)] + [",".join(map(str, ls_row(315150, n))) for n in range(1, 3001)]
    path = write_truncated_gzip(tmp_path / "oms_lumisections_x.csv.gz", "\n".join(lines) + "\n")
    _, records, errors, failure = _read(path)
    assert errors == []
    assert 0 < len(records) < 3000
    assert {r.entity for r in records} == {LUMISECTION}
    assert [r.data["number"] for r in records] == list(range(1, len(records) + 1))
    assert "truncated or corrupt gzip after line" in failure.reason


def test_it_reads_the_oms_run_json_list(tmp_path):
    run = {
        "run_number": 377254,
        "fill_number": 9322.0,
        "duration": 1525,
        "init_lumi": 2.0,
        "components": ["PIXEL", "TRACKER"],
        "l1_hlt_mode": "cosmics2024",
        "start_time": "2024-02-29T22:39:23Z",
    }
    path = write_json(tmp_path / "oms_runs_2024.json", [run, {"run_number": "x"}])
    source, records, errors, _ = _read(path)
    assert source.source == "oms_runs_json"
    assert records[0].data["fill_number"] == 9322
    assert records[0].data["init_lumi"] == 0.2  # 10^33 inferred for 2024
    assert [str(e) for e in errors] == ["oms_runs_2024.json:2: run_number: expected a number, got 'x'"]


def test_it_reads_an_oms_api_page_with_units_per_row(tmp_path):
    page = oms_api_page(
        "runs",
        [
            (
                "377254",
                {"run_number": 377254, "init_lumi": 3.0, "delivered_lumi": 5.0},
                {"init_lumi": "10^{33}cm^{-2}s^{-1}", "delivered_lumi": "nb^{-1}"},
            ),
            ("315190", {"run_number": 315190, "init_lumi": 0.36}, {"init_lumi": "10^{34}cm^{-2}s^{-1}"}),
        ],
    )
    source, records, errors, _ = _read(write_json(tmp_path / "page-1.json", page))
    assert source.source == "oms_api"
    assert errors == []
    assert records[0].data["init_lumi"] == pytest.approx(0.3)
    assert records[0].data["delivered_lumi"] == pytest.approx(0.005)
    assert records[0].data["instant_lumi_source_unit"] == "10^{33}cm^{-2}s^{-1}"
    assert records[1].data["init_lumi"] == 0.36


def test_it_reads_oms_api_fill_and_lumisection_pages(tmp_path):
    fills = oms_api_page(
        "fills", [("6614", {"fill_number": 6614, "peak_lumi": 0.97}, {"peak_lumi": "10^{34}cm^{-2}s^{-1}"})]
    )
    ls = oms_api_page(
        "lumisections",
        [
            (
                "315150_81",
                {"run_number": 315150, "lumisection_number": 81, "recorded_lumi": 2.06, "cms_active": True},
                {},
            )
        ],
    )
    _, fill_records, _, _ = _read(write_json(tmp_path / "fills.json", fills))
    _, ls_records, _, _ = _read(write_json(tmp_path / "ls.json", ls))
    assert fill_records[0].entity == FILL and fill_records[0].data["peak_lumi"] == 0.97
    assert ls_records[0].entity == LUMISECTION
    assert ls_records[0].data["number"] == 81 and ls_records[0].data["cms_active"] is True


def test_it_keeps_one_pv_mean_per_run_preferring_prompt(tmp_path):
    header = ["run_number", "year", "stream", "pv_mean", "pv_mean_err", "source_path", "commit"]
    path = write_csv(
        tmp_path / "pv_mean_per_run_x.csv",
        header,
        [
            [247607, 2015, "StreamExpress", 1.5, 0, "a", "c1"],
            [247607, 2015, "PromptReco/ZeroBias", 1.1, 0, "b", "c1"],
            [247607, 2015, "PromptReco/ZeroBias", 1.2, 0, "b", "c2"],
            [247608, 2015, "StreamExpress", 2.0, 0, "a", "c1"],
        ],
    )
    _, records, _, _ = _read(path)
    assert sorted((r.data["run_number"], r.data["pv_mean"]) for r in records) == [(247607, 1.2), (247608, 2.0)]


def test_it_treats_unknown_apv_mode_as_empty(tmp_path):
    path = write_csv(
        tmp_path / "cosmics_counter_x.csv",
        ["run_number", "apv_mode", "duration"],
        [[1, "???", 5], [2, "DECO", 6], [3, "MAYBE", 7]],
    )
    _, records, errors, _ = _read(path)
    assert [r.data["apv_mode"] for r in records] == [None, "DECO"]
    assert errors[0].reason == "apv_mode: expected DECO, PEAK or ???, got 'MAYBE'"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("certhelper_pairs.csv.gz", None, "import_pairs"),
        ("certification_json_golden_2018.json", {"315257": [[1, 10]]}, "lumisection mask"),
        ("notes.txt", None, "not recognised"),
        ("something.json", {"hello": 1}, "JSON not recognised"),
    ],
)
def test_it_skips_files_it_does_not_import_with_a_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    write_json(path, content) if content is not None else write_text(path, "x\n")
    result = recognise_dump(path)
    assert isinstance(result, SkippedFile)
    assert reason in result.reason
