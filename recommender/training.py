"""Writes of the model life cycle: train, store the artifact, activate.

Retraining (beat -> tasks.retrain -> model_train, or `manage.py train`):
1. labels (Certhelper + shifter feedback) -> fingerprint; unchanged since the last
   version? stop;
2. fit on all labels but the newest ones, evaluate on the newest prequentially
   (evaluation.md), the active model on the same pairs;
3. store a candidate ModelVersion + joblib artifact (temp file, then rename);
4. activate it unless it scores worse than the active model on the newest labels.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
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
from .ml.dataset import labels_frame, run_features_frame
from .ml.evaluation import prequential_records, summary
from .ml.features import RunTable
from .ml.model import Ranker, fit_ranker
from .models import ModelVersion, ModelVersionStatus

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


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def artifact_write(ranker: Ranker, *, directory: Path | None = None) -> tuple[str, str]:
    """Write the ranker to MODEL_DIR atomically; return (file name, sha256)."""
    directory = Path(directory or settings.MODEL_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"model-{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.joblib"
    handle, temp = tempfile.mkstemp(dir=directory, suffix=".part")
    os.close(handle)
    try:
        joblib.dump(ranker, temp)
        sha = _sha256_of(Path(temp))
        os.replace(temp, directory / name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return name, sha


def artifact_load(model_version: ModelVersion) -> Ranker:
    """Load a version's ranker after checking its hash and library versions."""
    path = Path(settings.MODEL_DIR) / model_version.artifact
    if not path.exists():
        raise ArtifactIntegrityError(f"model file {path} of {model_version} is missing")
    sha = _sha256_of(path)
    if sha != model_version.sha256:
        raise ArtifactIntegrityError(
            f"model file {path} has sha256 {sha}, {model_version} expects {model_version.sha256}"
        )
    current = library_versions()
    different = {
        name: (wanted, current.get(name))
        for name, wanted in model_version.library_versions.items()
        if current.get(name) != wanted
    }
    if different:
        raise ArtifactVersionMismatch(f"{model_version} was trained with other library versions: {different}")
    ranker = joblib.load(path)
    if not isinstance(ranker, Ranker):
        raise ArtifactIntegrityError(f"model file {path} holds a {type(ranker).__name__}, not a Ranker")
    return ranker


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
    if not newest.empty:
        records = prequential_records(train, newest, runs, rankers=rankers, predecessor=False)
        figures = summary(records, [*rankers, "persistence"])
        figures.update(_calibrate(ranker, records))
    figures["holdout_run_min"] = int(newest["run_number"].min()) if not newest.empty else None
    figures.setdefault("confidence_thresholds", dict(DEFAULT_CONFIDENCE_THRESHOLDS))

    name, sha = artifact_write(ranker)
    counts = labels.groupby(["source", "is_positive"]).size()
    version = ModelVersion.objects.create(
        artifact=name,
        sha256=sha,
        library_versions=library_versions(),
        label_fingerprint=fingerprint,
        training_run_min=int(train["run_number"].min()),
        training_run_max=int(train["run_number"].max()),
        label_counts={f"{src}:{'positive' if pos else 'negative'}": int(n) for (src, pos), n in counts.items()},
        evaluation=figures,
    )
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
        version.save(update_fields=["status", "activated_at", "updated_at"])
    return version
