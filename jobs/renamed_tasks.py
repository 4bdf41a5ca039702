"""Old task names, kept for one release after a task is renamed.

Messages sent under the old name just before an upgrade (beat's last runs, a
retry's countdown, a trigger from the jobs page) may still sit in Redis, and a
worker drops a message whose task name it does not know. The old name queues each
such message again under the new one, so the new task's retries and time limits
apply. Remove an old name in the release after the one that renamed it, once no
worker or beat of the older release is left (the beat rows take the new names at
that release's `migrate`: jobs.beat.beat_rows_sync).
"""

from celery import Task, shared_task


def task_renamed(old_name: str, task: Task) -> None:
    @shared_task(name=old_name, acks_late=True)
    def forward(*args, **kwargs) -> str:
        task.apply_async(args, kwargs)
        return f"{old_name} is now {task.name}: queued there"
