"""Celery tasks of the recommender: thin, they call one service and say what happened."""

from celery import shared_task


@shared_task(acks_late=True)
def retrain(force: bool = False) -> str:
    from ingestion.services import JobAlreadyRunning

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
