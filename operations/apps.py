from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Operations: health, metrics, logs"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from .logs import LogContext, log_context

        # A task's log lines carry its task id where a request's carry the request id.
        tokens = {}

        def started(task_id=None, **_):
            if log_context.get() is None:  # an eager task inside a request keeps the request's id
                tokens[task_id] = log_context.set(LogContext(request_id=task_id))

        def finished(task_id=None, **_):
            token = tokens.pop(task_id, None)
            if token is not None:
                log_context.reset(token)

        task_prerun.connect(started, weak=False, dispatch_uid="operations.task_log_context.started")
        task_postrun.connect(finished, weak=False, dispatch_uid="operations.task_log_context.finished")
