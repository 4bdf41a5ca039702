import json
from io import StringIO

import pytest
from django.core.management import call_command

from .synthetic import make_runs, pair_rows, write_pairs

pytestmark = pytest.mark.django_db


def _run(tmp_path, *extra):
    numbers = make_runs(60)
    rows = pair_rows(numbers)
    train = write_pairs(tmp_path / "train.csv", [r for r in rows if r["run_number"] < numbers[40]])
    test = write_pairs(tmp_path / "test.csv", [r for r in rows if r["run_number"] >= numbers[40]])
    out = StringIO()
    call_command("evaluate", "--train-pairs", str(train), "--test-pairs", str(test), *extra, stdout=out)
    return out.getvalue()


def test_it_prints_the_json_shape(tmp_path):
    result = json.loads(_run(tmp_path, "--json"))
    assert set(result) == {"model", "persistence", "predecessor", "seconds", "by", "rank1_not_persistence"}
    # the decision layer never takes rank 1 from persistence's pick, and the count says so
    assert result["rank1_not_persistence"] == {"n": 0, "model_right": 0, "persistence_right": 0}
    assert isinstance(result["seconds"], float)
    for method in ("model", "persistence", "predecessor"):
        assert set(result[method]) == {"all", "switch", "new"}
        for figures in result[method].values():
            assert set(figures) == {"n", "top1", "top3", "top5", "mrr"}
            assert isinstance(figures["n"], int)
            assert all(0.0 <= figures[k] <= 1.0 for k in ("top1", "top3", "top5", "mrr"))
    assert result["model"]["all"]["n"] == 40  # 20 runs x express/prompt
    assert result["persistence"]["all"]["n"] == result["model"]["all"]["n"]


def test_it_prints_tables_with_breakdowns(tmp_path):
    text = _run(tmp_path)
    assert "| method | slice | n | top-1 |" in text
    assert "| year |" in text
    assert "| reconstruction |" in text
    assert "| run_class |" in text


def test_it_adds_machine_readable_breakdowns(tmp_path):
    by = json.loads(_run(tmp_path, "--json"))["by"]
    assert set(by) == {"year", "run_class", "year_class"}
    rows = by["year_class"]
    assert {r["method"] for r in rows} == {"model", "persistence", "predecessor"}
    assert {r["key"] for r in rows} == {"2024 collisions_pp"}
    for row in rows:
        assert set(row) == {"key", "method", "n", "top1", "top3", "top5", "mrr"}
        assert row["n"] == 40
    persistence = next(r for r in by["year"] if r["method"] == "persistence")
    assert persistence["top1"] == json.loads(_run(tmp_path, "--json"))["persistence"]["all"]["top1"]
