"""Finding 6 (issue 11): model artifacts, written as the attacks.

A joblib artifact is a pickle: loading one runs whatever code it names. The only
thing standing between a replaced artifact and code execution in every web pod is
the sha256 the ModelVersion row holds, so the bytes that were hashed must be the
bytes that are unpickled, the name must not reach outside MODEL_DIR, and nothing is
unpickled before the checks pass. The payload here only writes a marker file.
"""

import hashlib
import pickle
from pathlib import Path

import pytest
from django.urls import reverse

import recommender.artifacts as artifacts
from recommender.artifacts import artifact_load, library_versions
from recommender.exceptions import ArtifactIntegrityError, ModelArtifactError
from recommender.ml.model import Ranker
from recommender.models import ModelVersion, ModelVersionStatus
from recommender.training import model_version_train
from tests.recommender.ml.synthetic import make_labels, make_runs, pair_rows

pytestmark = pytest.mark.django_db


def _pwn(marker: str) -> str:
    Path(marker).write_text("code ran while the artifact was loaded")
    return "pwned"


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_pwn, (self.marker,))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "pwned"


@pytest.fixture
def evil(marker) -> bytes:
    return pickle.dumps(_Payload(marker))


@pytest.fixture
def model_dir(tmp_path, settings) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    return tmp_path / "models"


@pytest.fixture
def files_store(settings, model_dir):
    settings.MODEL_STORE = "files"
    return model_dir


@pytest.fixture
def database_store(settings, model_dir):
    settings.MODEL_STORE = "database"
    return model_dir


@pytest.fixture
def trained(db):
    make_labels(pair_rows(make_runs(40)))

    def train() -> ModelVersion:
        return model_version_train(force=True).model_version

    return train


def _swap_after_hashing(monkeypatch, swap) -> None:
    """Call `swap` right after the artifact's sha256 is computed, before it is unpickled:
    the window in which an attacker with write access to the store replaces it."""
    real = hashlib.sha256
    done = []

    class Hashing:
        def __init__(self, *args):
            self._inner = real(*args)

        def update(self, data):
            self._inner.update(data)

        def hexdigest(self):
            digest = self._inner.hexdigest()
            if not done:
                done.append(True)
                swap()
            return digest

    monkeypatch.setattr(artifacts.hashlib, "sha256", Hashing)


def test_it_unpickles_the_bytes_it_hashed_when_the_file_is_swapped(files_store, trained, evil, marker, monkeypatch):
    version = trained()
    path = files_store / version.artifact
    _swap_after_hashing(monkeypatch, lambda: path.write_bytes(evil))

    loaded = artifact_load(version)

    assert isinstance(loaded, Ranker)
    assert path.read_bytes() == evil  # the swap happened, and was never read
    assert not marker.exists()


def test_it_unpickles_the_bytes_it_hashed_when_the_database_row_is_swapped(
    database_store, trained, evil, marker, monkeypatch
):
    from recommender.models import ModelArtifact

    version = trained()
    _swap_after_hashing(monkeypatch, lambda: ModelArtifact.objects.filter(model_version=version).update(data=evil))

    loaded = artifact_load(version)

    assert isinstance(loaded, Ranker)
    assert bytes(ModelArtifact.objects.get(model_version=version).data) == evil
    assert not marker.exists()


def _outside(kind: str, model_dir: Path, evil: bytes) -> str:
    """An artifact name pointing at a file outside MODEL_DIR, three ways."""
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir.parent / "evil.joblib"
    target.write_bytes(evil)
    if kind == "dot-dot":
        return "../evil.joblib"
    if kind == "absolute":
        return str(target)
    (model_dir / "link.joblib").symlink_to(target)
    return "link.joblib"


@pytest.mark.parametrize("kind", ["dot-dot", "absolute", "symlink"])
def test_it_never_loads_an_artifact_named_outside_model_dir(files_store, evil, marker, kind):
    # The row is as consistent as a forger can make it: right hash, right versions.
    version = ModelVersion.objects.create(
        artifact=_outside(kind, files_store, evil),
        sha256=hashlib.sha256(evil).hexdigest(),
        library_versions=library_versions(),
        label_fingerprint="f" * 64,
        store="files",
    )

    with pytest.raises(ArtifactIntegrityError, match="MODEL_DIR"):
        artifact_load(version)
    assert not marker.exists()


def test_it_refuses_a_tampered_artifact_in_the_database(database_store, trained, evil, marker):
    from recommender.models import ModelArtifact

    version = trained()
    ModelArtifact.objects.filter(model_version=version).update(data=evil)

    with pytest.raises(ArtifactIntegrityError, match="sha256"):
        artifact_load(version)
    assert not marker.exists()


def test_it_refuses_a_version_row_without_library_versions_before_unpickling(database_store, trained, evil, marker):
    from recommender.models import ModelArtifact

    version = trained()
    ModelArtifact.objects.filter(model_version=version).update(data=evil)
    version.sha256 = hashlib.sha256(evil).hexdigest()
    version.library_versions = {}

    with pytest.raises(ModelArtifactError):
        artifact_load(version)
    assert not marker.exists()


def test_it_keeps_a_tampered_database_artifact_out_of_service_in_the_admin(
    database_store, trained, evil, marker, client, admin_ada
):
    from recommender.models import ModelArtifact

    first = trained()
    second = trained()
    assert second.status == ModelVersionStatus.ACTIVE
    ModelArtifact.objects.filter(model_version=first).update(data=evil)
    client.force_login(admin_ada)

    response = client.post(
        reverse("admin:recommender_modelversion_changelist"),
        {"action": "activate", "_selected_action": [first.pk]},
        follow=True,
    )

    assert "Not activated" in response.content.decode()
    assert ModelVersion.objects.get(status=ModelVersionStatus.ACTIVE) == second
    assert not marker.exists()
