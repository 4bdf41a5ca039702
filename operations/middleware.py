"""The request id, and the probe and metrics endpoints answered before the rest of the stack."""

from __future__ import annotations

import logging
import re
import time
import uuid

from django.conf import settings

from . import views
from .logs import LogContext, log_context

access_logger = logging.getLogger("refrun.access")

# An incoming X-Request-ID is kept only if it is a short plain token: it is copied
# into every log line and into a response header, where a newline, a quote or a
# kilobyte of text would forge or bloat entries.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _unlogged(path: str) -> bool:
    # Probes come every few seconds and static files with every page: noise.
    return path in views.PROBES or path.startswith("/" + settings.STATIC_URL.lstrip("/"))


class RequestIdMiddleware:
    """Gives each request an id (the caller's X-Request-ID if sane, else a new one),
    sets it on the response, and makes it, the user and the run number part of every
    log record written while the request runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.request_id = request_id
        token = log_context.set(LogContext(request_id=request_id, request=request))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if settings.LOG_REQUESTS and not _unlogged(request.path_info):
                access_logger.info(
                    "%s %s %s %.0f ms",
                    request.method,
                    request.path,
                    response.status_code,
                    (time.perf_counter() - started) * 1000,
                )
            return response
        finally:
            log_context.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Resolve the user before the view runs so that its log lines can name them
        # (the log filter never resolves a user itself). Every page but the login
        # page needs the user anyway; the API's token users replace it later.
        user = getattr(request, "user", None)
        if user is not None:
            user.is_authenticated  # noqa: B018
        return None


class ProbeMiddleware:
    """Answers /healthz, /readyz and /metrics before host validation and the HTTPS
    redirect: the kubelet and Prometheus call the pod's own address over plain HTTP,
    which is neither in ALLOWED_HOSTS nor HTTPS, and would get 400 or a redirect.
    /metrics still checks its own access rules (operations.metrics)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = views.PROBES.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
