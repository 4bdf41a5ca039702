"""Liveness, readiness and metrics endpoints, for the cluster rather than for people."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from . import metrics, selectors


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, broker or file is touched, so a slow
    database never makes the kubelet restart healthy web pods."""
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """200 when this pod can serve: database reachable and migrated, broker
    reachable (when REDIS_URL names one), active model loadable. No active model is
    ready: the persistence ranking serves until the first training. 503 otherwise.
    The endpoint needs no login and the Route reaches it: the checks' details
    (database vendor, model number, migration state) go only to whoever may read
    /metrics (metrics.metrics_allowed); the kubelet and everyone else get the status alone."""
    checks = selectors.readiness_checks()
    ready = all(check.ok for check in checks)
    body: dict[str, object] = {"status": "ready" if ready else "not ready"}
    if metrics.metrics_allowed(request):
        body["checks"] = {check.name: {"ok": check.ok, "detail": check.detail} for check in checks}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics.metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.metrics_text(), content_type=CONTENT_TYPE_PLAIN_0_0_4)


# Paths answered by operations.middleware.ProbeMiddleware (and routed in urls.py too).
PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": metrics_view}
