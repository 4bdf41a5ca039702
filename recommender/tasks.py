"""Celery tasks of the recommender: thin, they call one service and say what happened."""

from celery import shared_task


@shared_task(acks_late=True)
def retrain(force: bool = False) -> str:
    from .services import model_retrain

    result = model_retrain(force=force)
    if result.status != "trained":
        return f"{result.status}: {result.message}"
    version = result.model_version
    return f"trained model #{version.pk}, {'activated' if result.activated else 'kept as candidate'}"
