import pytest
from django.test import override_settings
from django.urls import reverse

from recommender.models import ModelArtifact, ModelVersion, ModelVersionStatus
from recommender.training import model_version_train
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_versions(tmp_path):
    with override_settings(MODEL_DIR=tmp_path):
        make_labels(pair_rows(make_runs(40)))
        first = model_version_train().model_version
        second = model_version_train(force=True).model_version
        yield first, second, tmp_path


def _activate(client, version):
    url = reverse("admin:recommender_modelversion_changelist")
    return client.post(url, {"action": "activate", "_selected_action": [version.pk]}, follow=True)


def test_it_rolls_back_to_an_earlier_model_from_the_admin(client, admin_ada, two_versions):
    first, second, _ = two_versions
    client.force_login(admin_ada)

    response = _activate(client, first)

    assert f"Model #{first.pk} is now active" in response.content.decode()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ModelVersionStatus.ACTIVE and second.status == ModelVersionStatus.RETIRED


def test_it_refuses_to_activate_a_tampered_artifact(client, admin_ada, two_versions):
    first, second, _ = two_versions
    ModelArtifact.objects.filter(model_version=first).update(data=b"not the trained model")
    client.force_login(admin_ada)

    response = _activate(client, first)

    assert "Not activated" in response.content.decode()
    assert ModelVersion.objects.get(status=ModelVersionStatus.ACTIVE) == second
