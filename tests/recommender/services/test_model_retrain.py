import pytest
from django.test import override_settings

from jobs.models import Job, JobKind, JobStatus
from recommender.exceptions import NotEnoughLabels
from recommender.models import Recommendation
from recommender.services import model_retrain, recommendations_refresh
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def model_dir(tmp_path):
    with override_settings(MODEL_DIR=tmp_path / "models"):
        yield


def test_it_records_training_as_a_job():
    make_labels(pair_rows(make_runs(48)))

    model_retrain()
    model_retrain()

    first, second = Job.objects.filter(kind=JobKind.TRAINING).order_by("id")
    assert first.status == JobStatus.SUCCEEDED and first.message.endswith("activated")
    assert second.status == JobStatus.SUCCEEDED and second.message.startswith("skipped")


def test_it_records_a_failed_training_and_reraises():
    make_labels(pair_rows(make_runs(4)))

    with pytest.raises(NotEnoughLabels):
        model_retrain()

    job = Job.objects.get(kind=JobKind.TRAINING)
    assert job.status == JobStatus.FAILED and "NotEnoughLabels" in job.message and job.finished_at


def test_it_stores_first_choices_for_the_newest_runs_awaiting_a_reference():
    numbers = make_runs(48)
    make_labels(pair_rows(numbers[:40]))
    model_retrain()

    computed = recommendations_refresh(newest_runs=48)

    assert computed > 0
    assert Recommendation.objects.filter(rank=1).count() == computed
    assert recommendations_refresh(newest_runs=48) == 0  # nothing new to compute
