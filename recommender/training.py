"""Writes of the model life cycle: train, store the artifact, activate.

Retraining (beat -> tasks.retrain -> model_train, or `manage.py train`):
1. labels (Certhelper + shifter feedback) -> fingerprint; unchanged since the last
   version? stop;
2. fit on all labels but the newest ones, evaluate on the newest prequentially
   (evaluation.md), the active model on the same pairs;
3. store a candidate ModelVersion + joblib artifact (its bytes in the database, or
   for the demo a file under MODEL_DIR: temp file, then rename; settings.MODEL_STORE);
4. activate it unless it scores worse than the active model on the newest labels.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import platform
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import sklearn
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .exceptions import ArtifactIntegrityError, ArtifactVersionMismatch, ModelArtifactError, NotEnoughLabels
from .ml.certification import with_good_lumisections
from .ml.crossval import DEFAULT_CONFIDENCE_THRESHOLDS, confidence_thresholds, fit_calibrator
from .ml.evaluation import prequential_records, summary
from .ml.features import RunTable
from .ml.model import Ranker, fit_ranker
from .models import ArtifactStore, LabelSource, ModelArtifact, ModelVersion, ModelVersionStatus
from .selectors import labels_frame, run_features_frame

logger = logging.getLogger(__name__)

# The newest labels a new model is judged on: this share of the labelled runs.
HOLDOUT_FRACTION = 0.1
MIN_TRAINING_LABELS = 20
# The figure a new model must not be worse on: MRR of all headline pairs.
ACTIVATION_METRIC = ("all", "mrr")


@dataclass(frozen=True)
class TrainResult:
    status: str  # "trained", "skipped", "no_labels"
    model_version: ModelVersion | None = None
    activated: bool = False
    message: str = ""


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


def label_fingerprint(labels: pd.DataFrame) -> str:
    """sha256 of the label set, independent of row order."""
    columns = ["run_number", "reconstruction", "reference_run_number", "reference_reconstruction", "dataset"]
    columns += ["is_positive", "source"]
    rows = sorted("|".join(str(v) for v in row) for row in labels[columns].itertuples(index=False, name=None))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest()


# What a files-store artifact name may be: one plain file name, never a path.
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def _artifact_name() -> str:
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


def _split_newest(labels: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = np.sort(labels["run_number"].unique())
    n_test = max(1, round(len(runs) * fraction))
    if len(runs) <= n_test:
        return labels, labels.iloc[0:0]
    cut = runs[-n_test]
    return labels[labels["run_number"] < cut], labels[labels["run_number"] >= cut]


def model_train(*, force: bool = False, holdout_fraction: float = HOLDOUT_FRACTION) -> TrainResult:
    labels = labels_frame()
    if labels.empty:
        return TrainResult(status="no_labels", message="no labels to train on")
    fingerprint = label_fingerprint(labels)
    latest = ModelVersion.objects.order_by("-created_at", "-id").first()
    if not force and latest is not None and latest.label_fingerprint == fingerprint:
        return TrainResult(status="skipped", model_version=latest, message="labels unchanged since the last model")

    train, newest = _split_newest(labels, holdout_fraction)
    if int(train["is_positive"].sum()) < MIN_TRAINING_LABELS:
        raise NotEnoughLabels(f"{int(train['is_positive'].sum())} labels; at least {MIN_TRAINING_LABELS} are needed")
    runs = RunTable(with_good_lumisections(run_features_frame(), settings.REFRUN_DATA))
    ranker = fit_ranker(train, runs)

    rankers = {"new": ranker}
    active = ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).first()
    if active is not None:
        try:
            rankers["active"] = artifact_load(active)
        except ModelArtifactError as error:
            logger.warning("active model cannot be loaded, the new one replaces it: %s", error)
    figures: dict = {}
    # Judged on Certhelper's labels alone: shifter labels (which any shifter can
    # write) stay history, so they cannot decide which model serves.
    judged = newest[newest["source"] == LabelSource.CERTHELPER]
    history = pd.concat([train, newest[newest["source"] != LabelSource.CERTHELPER]], ignore_index=True)
    if not judged.empty:
        records = prequential_records(history, judged, runs, rankers=rankers, predecessor=False)
        figures = summary(records, [*rankers, "persistence"])
        figures.update(_calibrate(ranker, records))
    figures["holdout_run_min"] = int(newest["run_number"].min()) if not newest.empty else None
    figures.setdefault("confidence_thresholds", dict(DEFAULT_CONFIDENCE_THRESHOLDS))

    data, sha = artifact_serialize(ranker)
    counts = labels.groupby(["source", "is_positive"]).size()
    with transaction.atomic():
        version = ModelVersion.objects.create(
            artifact=_artifact_name(),
            store=settings.MODEL_STORE,
            sha256=sha,
            library_versions=library_versions(),
            label_fingerprint=fingerprint,
            training_run_min=int(train["run_number"].min()),
            training_run_max=int(train["run_number"].max()),
            label_counts={f"{src}:{'positive' if pos else 'negative'}": int(n) for (src, pos), n in counts.items()},
            evaluation=figures,
        )
        artifact_write(model_version=version, data=data)
    activate = "active" not in rankers or _not_worse(figures)
    if activate:
        model_version_activate(model_version_id=version.id)
        version.refresh_from_db()
    return TrainResult(status="trained", model_version=version, activated=activate)


def _calibrate(ranker: Ranker, records: pd.DataFrame) -> dict:
    """Fit the rank-1 calibration on the newest labels, which the ranker never saw (out of
    period, as on the folds), and derive the confidence thresholds from it (EVALUATION.md)."""
    head = records[~records["excluded"].to_numpy(dtype=bool)] if len(records) else records
    if head.empty or "top_score_new" not in head:
        return {}
    raw = head["top_score_new"].to_numpy(dtype=float)
    correct = (head["rank_new"] == 1).to_numpy()
    calibrator = fit_calibrator(raw, correct)
    if calibrator is None:
        return {}
    ranker.calibrator = calibrator
    probabilities = ranker.confidence(np.nan_to_num(raw))
    return {
        "confidence_thresholds": confidence_thresholds(probabilities, correct),
        "calibration": {"pairs": len(raw), "rank1_correct": float(correct.mean())},
    }


def _not_worse(figures: dict) -> bool:
    slice_name, metric = ACTIVATION_METRIC
    new = figures.get("new", {}).get(slice_name, {}).get(metric)
    old = figures.get("active", {}).get(slice_name, {}).get(metric)
    if new is None or old is None or np.isnan(old):
        return True
    return bool(new >= old - 1e-12)


def model_version_activate(*, model_version_id: int) -> ModelVersion:
    """Make this version the one that serves; the previous active one is retired."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().get(pk=model_version_id)
        ModelVersion.objects.filter(status=ModelVersionStatus.ACTIVE).exclude(pk=version.pk).update(
            status=ModelVersionStatus.RETIRED
        )
        version.status = ModelVersionStatus.ACTIVE
        version.activated_at = timezone.now()
        version.was_ever_active = True
        version.save(update_fields=["status", "activated_at", "was_ever_active", "updated_at"])
        # The stored rankings are the old model's: pages compute the new one's in memory
        # until the refresh has stored them, so queue it as soon as this commits.
        transaction.on_commit(recommendations_refresh_enqueue)
    return version


def recommendations_refresh_enqueue() -> None:
    from kombu.exceptions import OperationalError

    from .tasks import refresh_recommendations

    try:
        refresh_recommendations.delay()
    except OperationalError as exc:
        # The activation (or declaration) stands; the beat's next refresh stores the rankings instead.
        logger.warning("refresh after activation not queued (broker unreachable: %s)", exc)
