import json
from io import StringIO

import pytest
from django.core.management import call_command

from .synthetic import FIRST_RUN, make_runs, pair_rows, write_pairs

pytestmark = pytest.mark.django_db


def test_it_reports_every_fold_the_mean_and_the_worst(tmp_path):
    numbers = make_runs(60)
    pairs = write_pairs(tmp_path / "pairs.csv", pair_rows(numbers))
    out, err = StringIO(), StringIO()
    origins = [FIRST_RUN + 30, FIRST_RUN + 45]
    args = ["--pairs", str(pairs), "--json", "--cache-dir", str(tmp_path / "cache")]
    for origin in origins:
        args += ["--origin", str(origin)]
    call_command("cross_validate", *args, stdout=out, stderr=err)
    report = json.loads(out.getvalue())
    assert [f["origin"] for f in report["folds"]] == origins
    first = report["folds"][0]
    assert first["model"]["all"]["n"] == 2 * 15  # runs 30..44, express and prompt
    assert first["train_labels"] == 2 * 29
    assert report["summary"]["folds"] == 2
    assert report["summary"]["worst_fold"] in {f["fold"] for f in report["folds"]}
    assert {"year", "run_class", "year_class"} == set(report["by"])
    assert list((tmp_path / "cache").glob("pools-*.pickle"))  # the next run reads the table from here
    text = StringIO()
    call_command("cross_validate", *[a for a in args if a != "--json"], stdout=text, stderr=StringIO())
    assert "Mean over 2 one-period folds" in text.getvalue()


def test_on_a_whole_fold_rank_one_is_persistences_pick_wherever_persistence_has_one(tmp_path):
    # The references switch every BLOCK runs, so the model learns to prefer a never-used run
    # at the start of a block; still no label of the fold may see it take rank 1 from persistence.
    numbers = make_runs(60)
    pairs = write_pairs(tmp_path / "pairs.csv", pair_rows(numbers))
    out = StringIO()
    call_command(
        "cross_validate",
        "--pairs",
        str(pairs),
        "--json",
        "--origin",
        str(FIRST_RUN + 24),
        stdout=out,
        stderr=StringIO(),
    )
    (fold,) = json.loads(out.getvalue())["folds"]
    assert fold["model"]["all"]["n"] == 2 * 36
    assert fold["rank1_not_persistence"] == {"n": 0, "model_right": 0, "persistence_right": 0}
    assert fold["model"]["all"]["top1"] >= fold["persistence"]["all"]["top1"]
