"""RefRun's page for a failed CSRF check (settings.CSRF_FAILURE_VIEW)."""

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The reason is Django's technical detail: logged by the CSRF middleware, not shown.
    return HttpResponse(render_to_string("403_csrf.html", request=request), status=403)
