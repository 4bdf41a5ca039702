import pytest
from django.test import override_settings

from recommender.recommending import serving_cache_clear
from recommender.training import model_version_train
from tests.factories import RunFactory, RunReconstructionFactory
from tests.recommender.ml.synthetic import DATASETS, make_labels, make_runs, pair_rows


@pytest.fixture
def trained(db, tmp_path):
    """An active model trained on 48 labelled runs, and the run after them (express
    known, prompt not yet): (the labelled run numbers, the new run's number)."""
    serving_cache_clear()
    with override_settings(MODEL_DIR=tmp_path / "models"):
        numbers = make_runs(48)
        make_labels(pair_rows(numbers))
        model_version_train()
        new_run = RunFactory(run_number=numbers[-1] + 1, run_class="collisions_pp", duration=3100)
        RunReconstructionFactory(run=new_run, reconstruction="express", dataset=DATASETS["express"])
        yield numbers, new_run.run_number
    serving_cache_clear()


@pytest.fixture
def trained_new_run(trained):
    return trained[1]
