import pytest
from django.test import override_settings

from recommender.training import model_train
from tests.factories import RunFactory, RunReconstructionFactory

from .ml.synthetic import DATASETS, make_labels, make_runs, pair_rows


@pytest.fixture
def trained(tmp_path):
    """A model trained on 48 synthetic runs, and a new run after every label: (run numbers, new run)."""
    with override_settings(MODEL_DIR=tmp_path / "models"):
        numbers = make_runs(48)
        make_labels(pair_rows(numbers))
        model_train()
        new_run = RunFactory(run_number=numbers[-1] + 1, run_class="collisions_pp", duration=3100)
        RunReconstructionFactory(run=new_run, reconstruction="express", dataset=DATASETS["express"])
        yield numbers, new_run.run_number
