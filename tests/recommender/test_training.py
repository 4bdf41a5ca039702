import hashlib
import math
import pickle

import numpy as np
import pytest
from django.test import override_settings

from jobs.models import Job, JobKind, JobStatus
from recommender.artifacts import artifact_load
from recommender.exceptions import ArtifactIntegrityError, ArtifactVersionMismatch, NotEnoughLabels
from recommender.ml.model import Ranker
from recommender.models import ModelArtifact, ModelVersion, ModelVersionStatus
from recommender.training import model_version_train
from tests.factories import ModelVersionFactory

from .ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


class BackwardsRanker(Ranker):
    """Scores the other way round: a model that must never be activated."""

    def scores(self, features):
        return 1.0 - super().scores(features)


@pytest.fixture
def model_dir(tmp_path):
    with override_settings(MODEL_DIR=tmp_path / "models"):
        yield tmp_path / "models"


@pytest.fixture
def labelled_history(db):
    numbers = make_runs(48)
    make_labels(pair_rows(numbers))
    return numbers


def test_it_writes_an_artifact_and_an_active_model_version(model_dir, labelled_history):
    result = model_version_train()
    assert result.status == "trained"
    assert result.activated
    version = ModelVersion.objects.get()
    assert version.status == ModelVersionStatus.ACTIVE
    # By default the bytes live in the database, where every pod reads them.
    assert version.store == "database"
    assert len(ModelArtifact.objects.get(model_version=version).data) > 0
    assert not model_dir.exists() or not list(model_dir.iterdir())
    assert len(version.sha256) == 64
    assert set(version.library_versions) == {"python", "sklearn", "numpy", "pandas", "joblib"}
    assert version.label_counts == {"certhelper:positive": 94}
    assert version.training_run_min == labelled_history[1]
    assert "all" in version.evaluation["new"]
    assert isinstance(artifact_load(version), Ranker)


def test_it_writes_the_artifact_to_a_file_when_the_store_is_files(model_dir, labelled_history, settings):
    settings.MODEL_STORE = "files"
    version = model_version_train().model_version
    assert version.store == "files"
    assert (model_dir / version.artifact).exists()
    assert not list(model_dir.glob("*.part"))
    assert not ModelArtifact.objects.exists()
    assert isinstance(artifact_load(version), Ranker)


def test_it_still_loads_a_file_version_after_switching_to_the_database(model_dir, labelled_history, settings):
    settings.MODEL_STORE = "files"
    old = model_version_train().model_version
    settings.MODEL_STORE = "database"
    new = model_version_train(force=True).model_version
    assert (old.store, new.store) == ("files", "database")
    assert isinstance(artifact_load(old), Ranker)
    assert isinstance(artifact_load(new), Ranker)


def test_it_writes_confidence_thresholds_from_the_newest_labels(model_dir, labelled_history):
    version = model_version_train().model_version
    thresholds = version.evaluation["confidence_thresholds"]
    assert set(thresholds) == {"high", "medium"}
    assert 0.0 <= thresholds["medium"] <= thresholds["high"] <= 1.0
    ranker = artifact_load(version)
    probabilities = ranker.confidence(np.array([0.0, 0.5, 1.0]))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    assert (np.diff(probabilities) >= 0).all()  # a higher model score never means less confidence


def test_it_skips_when_the_labels_did_not_change(model_dir, labelled_history):
    model_version_train()
    again = model_version_train()
    assert again.status == "skipped"
    assert ModelVersion.objects.count() == 1


def test_it_refuses_a_tampered_artifact(model_dir, labelled_history):
    version = model_version_train().model_version
    stored = ModelArtifact.objects.get(model_version=version)
    stored.data = bytes(stored.data) + b"tampered"
    stored.save()
    with pytest.raises(ArtifactIntegrityError):
        artifact_load(version)


def test_it_refuses_a_tampered_artifact_file(model_dir, labelled_history, settings):
    settings.MODEL_STORE = "files"
    version = model_version_train().model_version
    with (model_dir / version.artifact).open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ArtifactIntegrityError):
        artifact_load(version)


def test_it_refuses_an_artifact_that_is_not_a_ranker(model_dir, labelled_history):
    version = model_version_train().model_version
    data = pickle.dumps({"not": "a ranker"})
    ModelArtifact.objects.filter(model_version=version).update(data=data)
    version.sha256 = hashlib.sha256(data).hexdigest()
    with pytest.raises(ArtifactIntegrityError, match="not a Ranker"):
        artifact_load(version)


def test_it_refuses_an_artifact_from_other_library_versions(model_dir, labelled_history):
    version = model_version_train().model_version
    version.library_versions = {**version.library_versions, "sklearn": "0.0.1"}
    with pytest.raises(ArtifactVersionMismatch):
        artifact_load(version)


def test_it_loads_an_artifact_from_another_patch_release_of_python(model_dir, labelled_history):
    # The container's Debian Python and a developer's pyenv Python differ only in the patch release.
    version = model_version_train().model_version
    major, minor, _ = version.library_versions["python"].split(".")
    version.library_versions = {**version.library_versions, "python": f"{major}.{minor}.0"}
    assert artifact_load(version) is not None
    version.library_versions = {**version.library_versions, "python": f"{major}.{int(minor) + 1}.0"}
    with pytest.raises(ArtifactVersionMismatch):
        artifact_load(version)


def test_it_refuses_a_missing_artifact(model_dir):
    with pytest.raises(ArtifactIntegrityError):
        artifact_load(ModelVersionFactory())
    with pytest.raises(ArtifactIntegrityError):
        artifact_load(ModelVersionFactory(store="files"))


def test_it_does_not_activate_a_worse_model(model_dir, labelled_history, monkeypatch):
    first = model_version_train().model_version
    import recommender.training as training

    fit = training.fit_ranker

    def backwards(*args, **kwargs):
        good = fit(*args, **kwargs)
        # and it overrules persistence at rank 1 on any margin: the decision layer alone
        # would otherwise keep a backwards model's first choice right
        return BackwardsRanker(
            **{**{k: getattr(good, k) for k in good.__dataclass_fields__}, "switch_log_odds": -math.inf}
        )

    monkeypatch.setattr(training, "fit_ranker", backwards)
    result = model_version_train(force=True)
    assert result.status == "trained"
    assert not result.activated
    assert result.model_version.status == ModelVersionStatus.CANDIDATE
    first.refresh_from_db()
    assert first.status == ModelVersionStatus.ACTIVE
    figures = result.model_version.evaluation
    assert figures["new"]["all"]["mrr"] < figures["active"]["all"]["mrr"]
    assert np.isfinite(figures["persistence"]["all"]["mrr"])


def test_it_records_training_as_a_job(model_dir, labelled_history):
    model_version_train()
    model_version_train()

    first, second = Job.objects.filter(kind=JobKind.TRAINING).order_by("id")
    assert first.status == JobStatus.SUCCEEDED and first.message.endswith("activated")
    assert second.status == JobStatus.SUCCEEDED and second.message.startswith("skipped")


def test_it_records_a_failed_training_and_reraises(model_dir):
    make_labels(pair_rows(make_runs(4)))

    with pytest.raises(NotEnoughLabels):
        model_version_train()

    job = Job.objects.get(kind=JobKind.TRAINING)
    assert job.status == JobStatus.FAILED and "NotEnoughLabels" in job.message and job.finished_at


def test_it_runs_from_the_celery_task(model_dir, labelled_history):
    from recommender.tasks import model_version_train

    assert model_version_train().startswith("trained model #")
    assert model_version_train().startswith("skipped")


def test_it_queues_the_refresh_once_an_activation_commits(django_capture_on_commit_callbacks, monkeypatch):
    # The broker is not needed to see that the task is queued: .delay is replaced.
    from recommender import tasks
    from recommender.training import model_version_activate

    queued = []
    monkeypatch.setattr(tasks.recommendations_refresh, "delay", lambda: queued.append("refresh"))
    version = ModelVersionFactory(status=ModelVersionStatus.CANDIDATE)

    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(model_version_id=version.pk)
        assert queued == []  # not before the activation commits

    assert queued == ["refresh"]


def test_it_keeps_the_activation_when_the_broker_is_down(django_capture_on_commit_callbacks, monkeypatch, caplog):
    from kombu.exceptions import OperationalError

    from recommender import tasks
    from recommender.training import model_version_activate

    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.recommendations_refresh, "delay", unreachable)
    version = ModelVersionFactory(status=ModelVersionStatus.CANDIDATE)

    with django_capture_on_commit_callbacks(execute=True):
        model_version_activate(model_version_id=version.pk)

    version.refresh_from_db()
    assert version.status == ModelVersionStatus.ACTIVE
    assert "refresh after activation not queued" in caplog.text
