"""Writes of the model life cycle: train, store the artifact, activate.

Retraining (beat -> tasks.model_version_train -> model_version_train, or `manage.py train`),
recorded as a job of kind training:
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
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import JobKind, JobStatus
from jobs.services import Counts, job_fails_on_error, job_finish, job_start

from .artifacts import artifact_load, artifact_name_new, artifact_serialize, artifact_write, library_versions
from .exceptions import ModelArtifactError, NotEnoughLabels
from .ml.certification import with_good_lumisections
from .ml.crossval import DEFAULT_CONFIDENCE_THRESHOLDS, confidence_thresholds, fit_calibrator
from .ml.evaluation import prequential_records, summary
from .ml.model import Ranker, fit_ranker
from .ml.run_table import RunTable
from .models import LabelSource, ModelVersion, ModelVersionStatus
from .selectors import labels_frame, run_features_frame

logger = logging.getLogger(__name__)

REFRESH_TASK = "recommender.tasks.recommendations_refresh"

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


def _split_newest(labels: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = np.sort(labels["run_number"].unique())
    n_test = max(1, round(len(runs) * fraction))
    if len(runs) <= n_test:
        return labels, labels.iloc[0:0]
    cut = runs[-n_test]
    return labels[labels["run_number"] < cut], labels[labels["run_number"] >= cut]


def model_version_train(*, force: bool = False, holdout_fraction: float = HOLDOUT_FRACTION) -> TrainResult:
    """Train a model version (the steps above) as a job of kind training, so shift
    leaders follow it on the jobs page like a sync. JobAlreadyRunning while another
    training runs; a failure fails the job with its reason and is raised again."""
    job = job_start(kind=JobKind.TRAINING, parameters={"force": force})
    with job_fails_on_error(job.pk):
        result = _model_version_fit(force=force, holdout_fraction=holdout_fraction)
    version = result.model_version
    if result.status == "trained":
        kept = "activated" if result.activated else "kept as candidate: worse than the active model"
        job_finish(
            job_id=job.pk, status=JobStatus.SUCCEEDED, message=f"model #{version.pk} {kept}", counts=Counts(created=1)
        )
    else:
        job_finish(job_id=job.pk, status=JobStatus.SUCCEEDED, message=f"{result.status}: {result.message}")
    return result


def _model_version_fit(*, force: bool, holdout_fraction: float) -> TrainResult:
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
            artifact=artifact_name_new(),
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
    from celery import current_app
    from kombu.exceptions import OperationalError

    # By its name, as the beat names it: tasks sit above training (they call it), so
    # training does not import them (recommender.apps registers them at start-up).
    recommendations_refresh = current_app.tasks[REFRESH_TASK]
    try:
        recommendations_refresh.delay()
    except OperationalError as exc:
        # The activation (or declaration) stands; the beat's next refresh stores the rankings instead.
        logger.warning("refresh after activation not queued (broker unreachable: %s)", exc)
