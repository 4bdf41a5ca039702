"""The artifact store: a model version's ranker as joblib bytes, their sha256, and where
they are kept (a database row, or for the demo a file under MODEL_DIR: temp file, then
rename; settings.MODEL_STORE). Loading checks the hash and the library versions first.

Below serving (recommender.serving loads the active model) and training (which stores).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import platform
import re
import tempfile
import uuid
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .exceptions import ArtifactIntegrityError, ArtifactVersionMismatch
from .ml.model import Ranker
from .models import ArtifactStore, ModelArtifact, ModelVersion


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }


def _comparable(library: str, version: str | None) -> str | None:
    """Pickles follow the Python language version, not its patch release: the image's
    Debian Python 3.11.2 loads what a 3.11.7 trained (the libraries must match exactly)."""
    if library == "python" and version:
        return ".".join(version.split(".")[:2])
    return version


# What a files-store artifact name may be: one plain file name, never a path.
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def artifact_name_new() -> str:
    return f"model-{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.joblib"


def _artifact_path(name: str) -> Path:
    """The file of a files-store artifact: a file directly in MODEL_DIR, wherever
    symlinks point. The name comes from a database row; a row naming
    `../x`, `/x` or a link out of the folder must not choose what is unpickled."""
    directory = Path(settings.MODEL_DIR).resolve()
    if not _ARTIFACT_NAME.fullmatch(name):
        raise ArtifactIntegrityError(f"artifact name {name!r} is not a plain file name in MODEL_DIR")
    path = (directory / name).resolve()
    if path.parent != directory:
        raise ArtifactIntegrityError(f"artifact {name!r} resolves to {path}, outside MODEL_DIR")
    return path


def artifact_serialize(ranker: Ranker) -> tuple[bytes, str]:
    """The ranker as joblib bytes, and their sha256."""
    buffer = io.BytesIO()
    joblib.dump(ranker, buffer)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def artifact_write(*, model_version: ModelVersion, data: bytes) -> None:
    """Store a version's artifact bytes where its `store` says: a database row, or
    a file under MODEL_DIR written atomically (temp file, then rename)."""
    if model_version.store == ArtifactStore.DATABASE:
        ModelArtifact.objects.create(model_version=model_version, data=data)
        return
    path = _artifact_path(model_version.artifact)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _artifact_bytes(model_version: ModelVersion) -> bytes:
    if model_version.store == ArtifactStore.DATABASE:
        data = ModelArtifact.objects.filter(model_version_id=model_version.pk).values_list("data", flat=True).first()
        if data is None:
            raise ArtifactIntegrityError(f"{model_version} has no artifact stored in the database")
        return bytes(data)
    if model_version.store == ArtifactStore.FILES:
        path = _artifact_path(model_version.artifact)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise ArtifactIntegrityError(f"model file {path} of {model_version} is missing") from None
    raise ArtifactIntegrityError(f"{model_version} names an unknown artifact store {model_version.store!r}")


def artifact_load(model_version: ModelVersion) -> Ranker:
    """Load a version's ranker; every check that can come before unpickling does.

    The bytes are read once into memory, and the bytes hashed are the bytes
    unpickled: replacing the file or the row in between changes nothing. Unpickling
    runs code the artifact names, so the sha256 recorded at training (the version's
    row) and the library versions are checked first; the type is checked before the
    ranker is used. The hash protects against a changed or corrupted artifact, not
    against someone who can write the ModelVersion row itself: database write
    access is trusted as much as the code.
    """
    data = _artifact_bytes(model_version)
    sha = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(sha, model_version.sha256):
        raise ArtifactIntegrityError(
            f"the artifact of {model_version} has sha256 {sha}, its row expects {model_version.sha256}"
        )
    current = library_versions()
    wanted = model_version.library_versions or {}
    different = {
        name: (wanted.get(name), version)
        for name, version in current.items()
        if _comparable(name, wanted.get(name)) != _comparable(name, version)
    }
    if different:
        raise ArtifactVersionMismatch(f"{model_version} was trained with other library versions: {different}")
    ranker = joblib.load(io.BytesIO(data))
    if not isinstance(ranker, Ranker):
        raise ArtifactIntegrityError(f"the artifact of {model_version} holds a {type(ranker).__name__}, not a Ranker")
    return ranker


def artifact_move_to_database(*, model_version_id: int) -> ModelVersion:
    """Copy a files-store version's artifact into the database, after checking it
    against the version's sha256, and make the database its store: a one-machine
    deployment moving to pods keeps its history and can roll back to it. The file
    is left where it is."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=model_version_id)
        if version.store == ArtifactStore.DATABASE:
            return version
        data = _artifact_bytes(version)
        sha = hashlib.sha256(data).hexdigest()
        if not hmac.compare_digest(sha, version.sha256):
            raise ArtifactIntegrityError(
                f"the artifact of {version} has sha256 {sha}, its row expects {version.sha256}"
            )
        ModelArtifact.objects.create(model_version=version, data=data)
        version.store = ArtifactStore.DATABASE
        version.save(update_fields=["store", "updated_at"])
    return version
