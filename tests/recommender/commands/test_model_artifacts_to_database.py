import pytest
from django.core.management import CommandError, call_command

from recommender.artifacts import artifact_load
from recommender.ml.model import Ranker
from recommender.models import ModelArtifact
from recommender.training import model_version_train
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_versions(settings, tmp_path):
    """Two versions trained on one machine, before artifacts moved to the database."""
    settings.MODEL_DIR = tmp_path
    settings.MODEL_STORE = "files"
    make_labels(pair_rows(make_runs(40)))
    return model_version_train().model_version, model_version_train(force=True).model_version


def test_it_moves_file_artifacts_into_the_database(file_versions, settings, tmp_path, capsys):
    settings.MODEL_STORE = "database"
    call_command("model_artifacts_to_database")

    settings.MODEL_DIR = tmp_path / "elsewhere"  # a pod without the files
    for version in file_versions:
        version.refresh_from_db()
        assert version.store == "database"
        assert isinstance(artifact_load(version), Ranker)
    assert "now in the database" in capsys.readouterr().out


def test_it_leaves_a_tampered_file_where_it_is(file_versions, tmp_path):
    tampered, good = file_versions
    (tmp_path / tampered.artifact).write_bytes(b"replaced")

    with pytest.raises(CommandError, match=rf"could not be moved: \[{tampered.pk}\]"):
        call_command("model_artifacts_to_database")

    tampered.refresh_from_db()
    good.refresh_from_db()
    assert (tampered.store, good.store) == ("files", "database")
    assert not ModelArtifact.objects.filter(model_version=tampered).exists()
