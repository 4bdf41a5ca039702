"""Celery tasks of the recommender: thin, they call one service and say what happened.
Each is named after its service."""

from celery import shared_task
from django.conf import settings

from ingestion.clients import CerthelperTransientError
from jobs.renamed_tasks import task_renamed
from jobs.services import JobAlreadyRunning


@shared_task(acks_late=True)
def model_version_train(force: bool = False) -> str:
    from .training import model_version_train

    try:
        result = model_version_train(force=force)
    except JobAlreadyRunning as exc:
        return f"skipped: {exc}"
    if result.status != "trained":
        return f"{result.status}: {result.message}"
    version = result.model_version
    return f"trained model #{version.pk}, {'activated' if result.activated else 'kept as candidate'}"


@shared_task(acks_late=True)
def recommendations_refresh(newest_runs: int = 200) -> str:
    from .services import recommendations_refresh

    return f"stored recommendations for {recommendations_refresh(newest_runs=newest_runs)} run reconstructions"


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
def certhelper_sync(force: bool = False, job_id: int | None = None) -> str:
    """Certhelper's pairs (beat, daily), imported as labels."""
    from .certhelper_sync import certhelper_sync

    try:
        job = certhelper_sync(force=force, job_id=job_id)
    except JobAlreadyRunning as exc:
        return f"skipped: {exc}"
    return f"job {job.pk} {job.status}: {job.message}"


# The old names, for messages still queued when a worker is upgraded; they go in the
# release after this one (jobs.renamed_tasks).
task_renamed("recommender.tasks.retrain", model_version_train)
task_renamed("recommender.tasks.refresh_recommendations", recommendations_refresh)
task_renamed("recommender.tasks.sync_certhelper", certhelper_sync)
