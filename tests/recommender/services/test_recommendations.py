import pytest
from django.test import override_settings

from recommender.models import Recommendation
from recommender.services import recommendations_refresh
from recommender.training import model_version_train
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_dir(tmp_path):
    with override_settings(MODEL_DIR=tmp_path / "models"):
        yield


def test_it_stores_first_choices_for_the_newest_runs_awaiting_a_reference():
    numbers = make_runs(48)
    make_labels(pair_rows(numbers[:40]))
    model_version_train()

    computed = recommendations_refresh(newest_runs=48)

    assert computed > 0
    assert Recommendation.objects.filter(rank=1).count() == computed
    assert recommendations_refresh(newest_runs=48) == 0  # nothing new to compute
