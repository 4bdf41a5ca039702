"""The SWAN notebook (notebooks/refrun_from_swan.ipynb), executed top to bottom by
nbclient on an ipykernel of this virtual environment, against the app on a real
socket (live_server) filled with the demo simulation, with a shifter's real token.

A cell that raises fails the test; the notebook asserts its own frames are not
empty. With REFRUN_NOTEBOOK_PNG_DIR set (e.g. docs/), the test also writes the
notebook's plots there as PNG: that is how docs/notebook_*.png are made."""

import base64
import csv
import json
import os
import re
import sys
import time
from io import StringIO
from pathlib import Path

import nbformat
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import override_settings
from nbclient import NotebookClient
from rest_framework.authtoken.models import Token

from accounts.roles import SHIFTERS
from recommender import ranking_reads, selectors
from recommender.models import LabelSource, ReferencePair
from recommender.recommending import serving_cache_clear
from recommender.services import feedback_record, recommendations_refresh
from recommender.training import model_version_train
from tests.conftest import REPO_ROOT
from tests.factories import UserFactory

NOTEBOOK = REPO_ROOT / "notebooks" / "refrun_from_swan.ipynb"
# The notebook's plots, in the order it draws them, and the names they get in docs/.
PLOTS = ["notebook_first_choice.png", "notebook_lumi_pileup.png"]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _kernel_of_this_venv(directory: Path) -> None:
    """A `python3` kernelspec that starts this interpreter (the venv's), first on
    JUPYTER_PATH, so no kernel installed elsewhere on the machine is picked."""
    spec = directory / "kernels" / "python3"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))


def _pairs_write(path: Path, pairs) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["run_number", "run_reconstruction_type", "reference_run_number", "reference_run_reconstruction_type"]
        )
        writer.writerows(pairs)
    return path


def _evaluation_json(directory: Path) -> Path:
    """`manage.py evaluate --json` on the demo's own Certhelper labels, cut in two in run order."""
    pairs = list(
        ReferencePair.objects.filter(source=LabelSource.CERTHELPER, is_positive=True)
        .order_by("run_reconstruction__run__run_number")
        .values_list(
            "run_reconstruction__run__run_number",
            "run_reconstruction__reconstruction",
            "reference__run__run_number",
            "reference__reconstruction",
        )
    )
    cut = pairs[len(pairs) * 3 // 4][0]
    train = _pairs_write(directory / "train.csv", [p for p in pairs if p[0] < cut])
    test = _pairs_write(directory / "test.csv", [p for p in pairs if p[0] >= cut])
    out = StringIO()
    call_command("evaluate", "--train-pairs", str(train), "--test-pairs", str(test), "--json", stdout=out)
    path = directory / "evaluation.json"
    path.write_text(out.getvalue())
    return path


def _decisions(user) -> int:
    """A night shift's decisions through the service the API calls: the shifter accepts
    the first choice of most awaiting run reconstructions and rejects it for a few,
    naming the second choice."""
    made = 0
    for reconstruction in ("express", "prompt"):
        awaiting = list(selectors.runs_for_certification(status="awaiting", reconstruction=reconstruction)[:8])
        for run in awaiting:
            ranking = ranking_reads.recommendations_shown(run_number=run.run_number, reconstruction=reconstruction)
            if len(ranking) < 2:
                continue
            rejected = made % 4 == 3
            feedback_record(
                user=user,
                run_number=run.run_number,
                reconstruction=reconstruction,
                decision="rejected" if rejected else "accepted",
                recommended_run_number=ranking[0].reference_run_number,
                alternative_run_number=ranking[1].reference_run_number if rejected else None,
                reason="the first choice had the pixel barrel off" if rejected else "",
                model_version_id=ranking[0].model_version_id,
            )
            made += 1
    return made


@pytest.fixture
def demo(tmp_path):
    """The demo simulation (smaller than `make run`'s three years), a trained model,
    stored rankings, a shifter with a token and a few of their decisions."""
    began = time.monotonic()
    serving_cache_clear()
    Group.objects.get_or_create(name=SHIFTERS)  # a transactional test starts without the roles' migration
    with override_settings(MODEL_DIR=tmp_path / "models"):
        call_command("simulate", seed=1, years=[2024], runs=600, lumisections_for_last=0, verbosity=0)
        model_version_train()
        recommendations_refresh(newest_runs=150)
        sam = UserFactory(username="sam", groups=[SHIFTERS])
        assert _decisions(sam) >= 6
        evaluation = _evaluation_json(tmp_path)
        yield {"token": Token.objects.create(user=sam).key, "evaluation": evaluation, "began": began}
    serving_cache_clear()


def test_it_runs_the_notebook_top_to_bottom_against_a_live_server(demo, live_server, tmp_path, monkeypatch):
    kernels = tmp_path / "jupyter"
    _kernel_of_this_venv(kernels)
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("REFRUN_URL", live_server.url)
    monkeypatch.setenv("REFRUN_TOKEN", demo["token"])
    monkeypatch.setenv("REFRUN_WEEKS", "8")
    monkeypatch.setenv("REFRUN_EVALUATION_JSON", str(demo["evaluation"]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)

    NotebookClient(
        notebook, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()  # raises CellExecutionError on the first cell that fails
    assert time.monotonic() - demo["began"] < 60, "the demo data and the notebook took over a minute"

    pngs = [
        base64.b64decode(output["data"]["image/png"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert len(pngs) == len(PLOTS)
    if os.getenv("REFRUN_NOTEBOOK_PNG_DIR"):
        for name, png in zip(PLOTS, pngs, strict=True):
            (Path(os.environ["REFRUN_NOTEBOOK_PNG_DIR"]) / name).write_bytes(png)


def test_the_committed_notebook_has_no_outputs_and_no_token():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    source = "\n".join(cell.source for cell in notebook.cells)
    assert 'os.environ["REFRUN_URL"]' in source and "os.environ['REFRUN_TOKEN']" in source
    assert not re.search(r"\b[0-9a-f]{40}\b", source), "something like a DRF token is written in the notebook"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"outputs committed in a cell starting {cell.source[:40]!r}"
            assert cell.execution_count is None, f"an execution count committed in {cell.source[:40]!r}"
