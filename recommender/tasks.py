"""Celery tasks of the recommender: thin, they call one service and say what happened."""

from celery import shared_task
from django.conf import settings

from ingestion.clients import CerthelperTransientError
from jobs.services import JobAlreadyRunning


@shared_task(acks_late=True)
def retrain(force: bool = False) -> str:
    from .services import model_retrain

    try:
        result = model_retrain(force=force)
    except JobAlreadyRunning as exc:
        return f"skipped: {exc}"
    if result.status != "trained":
        return f"{result.status}: {result.message}"
    version = result.model_version
    return f"trained model #{version.pk}, {'activated' if result.activated else 'kept as candidate'}"


@shared_task(acks_late=True)
def refresh_recommendations(newest_runs: int = 200) -> str:
    from .services import recommendations_refresh

    return f"stored recommendations for {recommendations_refresh(newest_runs=newest_runs)} run reconstructions"


@shared_task(acks_late=True)
def login_records_prune() -> str:
    """Beat, hourly: drop login-failure counters and known addresses that no longer matter."""
    from accounts.login import login_records_prune as prune

    return f"{prune()} login records pruned"


@shared_task(
    acks_late=True,
    autoretry_for=(CerthelperTransientError,),
    max_retries=3,
    # Certhelper must not be called twice within an hour: retry no sooner.
    default_retry_delay=3700,
    retry_backoff=3700,
    retry_backoff_max=4 * 3700,
    retry_jitter=False,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def sync_certhelper(force: bool = False, job_id: int | None = None) -> str:
    """Certhelper's pairs (beat, daily), imported as labels."""
    from .certhelper_sync import certhelper_sync

    try:
        job = certhelper_sync(force=force, job_id=job_id)
    except JobAlreadyRunning as exc:
        return f"skipped: {exc}"
    return f"job {job.pk} {job.status}: {job.message}"
