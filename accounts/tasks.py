"""The accounts app's one task: the beat's pruning of login records."""

from celery import shared_task

from jobs.renamed_tasks import task_renamed


@shared_task(acks_late=True)
def login_records_prune() -> str:
    """Beat, hourly: drop login-failure counters and known addresses that no longer matter."""
    from .login import login_records_prune

    return f"{login_records_prune()} login records pruned"


# Its name while it was the recommender's, for messages still queued when a worker is
# upgraded; it goes in the release after this one (jobs.renamed_tasks).
task_renamed("recommender.tasks.login_records_prune", login_records_prune)
