"""Log records that say which request (or task), user and run they belong to.

RequestIdMiddleware puts a LogContext in a context variable for the length of a
request; RequestContextFilter copies it onto every record; JsonFormatter writes one
JSON object per line (LOG_FORMAT=json) for the cluster's log collector.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from dataclasses import dataclass

from django.utils.functional import LazyObject, empty


@dataclass(frozen=True)
class LogContext:
    request_id: str
    request: object | None = None


log_context: contextvars.ContextVar[LogContext | None] = contextvars.ContextVar("refrun_log_context", default=None)


def _username(request) -> str | None:
    user = getattr(request, "user", None) if request is not None else None
    if user is None:
        return None
    if isinstance(user, LazyObject) and user._wrapped is empty:
        # Not looked up yet: resolving it here would query the session inside a
        # log call (and log from within logging, for the database's own logger).
        return None
    if not user.is_authenticated:
        return None
    return user.get_username()


def _run_number(request) -> int | None:
    # Every page and API endpoint about a run names it `run_number` in its URL.
    match = getattr(request, "resolver_match", None)
    run_number = match.kwargs.get("run_number") if match is not None else None
    return run_number if isinstance(run_number, int) else None


class RequestContextFilter(logging.Filter):
    """Adds request_id, user and run to each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context.get()
        if context is not None:
            request, request_id = context.request, context.request_id
        else:
            # Django logs a 4xx/5xx response ("django.request") after the middleware
            # has returned, with the request attached to the record.
            request = getattr(record, "request", None)
            request_id = getattr(request, "request_id", None)
        record.request_id = request_id
        record.user = _username(request)
        record.run = _run_number(request)
        return True


class PlainFormatter(logging.Formatter):
    """The text format, with the request id where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return text if request_id is None else f"{text} [request {request_id}]"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback is a field, never extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "user": getattr(record, "user", None),
            "run": getattr(record, "run", None),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)
