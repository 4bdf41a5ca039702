"""The accounts app's one task: the beat's pruning of login records."""

from celery import shared_task


@shared_task(acks_late=True)
def login_records_prune() -> str:
    """Beat, hourly: drop login-failure counters and known addresses that no longer matter."""
    from .login import login_records_prune

    return f"{login_records_prune()} login records pruned"
