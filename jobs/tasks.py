"""The jobs app's one task: the beat sweep of jobs whose worker was killed."""

from celery import shared_task


@shared_task(acks_late=True)
def jobs_sweep() -> str:
    """Beat, every 10 minutes: fail jobs of every kind whose worker was killed, so the
    jobs page stops waiting for them and the next trigger can start."""
    from .services import jobs_stale_fail

    return f"{jobs_stale_fail()} stale jobs failed"
