"""The login page, with a limit on failed attempts.

Failures are counted in Django's cache per username (any address: a password
guessed from many machines) and per client address (one machine trying many
usernames). When either count reaches its limit within LOGIN_LOCKOUT_S, logins
for that username, or from that address, are refused without checking the
password until the lockout ends. A successful login resets nothing: a shifter
logging in from elsewhere must not give back the guesses an attacker spent.

The counters live in the shared cache (settings.CACHES), so every web worker
sees the same counts.
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

_PREFIX = "login-failures"


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the right-most address of the header a
    trusted reverse proxy sets (settings.LOGIN_CLIENT_IP_HEADER)."""
    header = settings.LOGIN_CLIENT_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        addresses = [part.strip() for part in value.split(",") if part.strip()]
        if addresses:
            return addresses[-1]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(*, username: str, ip: str) -> list[tuple[str, int]]:
    # Hashed: cache keys must be short and plain, and a username can be anything.
    user = hashlib.sha256(username.strip().lower().encode()).hexdigest()
    return [
        (f"{_PREFIX}:user:{user}", settings.LOGIN_FAILURES_PER_USERNAME),
        (f"{_PREFIX}:ip:{ip}", settings.LOGIN_FAILURES_PER_IP),
    ]


def login_lockout_remaining(*, username: str, ip: str) -> float:
    """Seconds until a login for `username` from `ip` is allowed again (0: now)."""
    now = time.time()
    remaining = 0.0
    for key, _ in _keys(username=username, ip=ip):
        until = cache.get(f"{key}:locked-until")
        if until is not None:
            remaining = max(remaining, until - now)
    return remaining


def login_failure_record(*, username: str, ip: str) -> None:
    """Count one failed login; lock the username or address that reaches its limit."""
    window = settings.LOGIN_LOCKOUT_S
    for key, limit in _keys(username=username, ip=ip):
        # The window starts at the first failure: add() only sets a missing key.
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.set(key, 1, timeout=window)
            count = 1
        if count >= limit:
            cache.set(f"{key}:locked-until", time.time() + window, timeout=window)


def lockout_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return (
        f"Too many failed logins; try again in {minutes} minute{'s' if minutes != 1 else ''}. "
        "If you forgot your password, ask a RefRun admin to reset it."
    )


class RateLimitedLoginView(auth_views.LoginView):
    """Django's LoginView; refuses to check passwords for a locked-out username or address."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        remaining = login_lockout_remaining(username=username, ip=client_ip(request))
        if remaining > 0:
            return self._locked_out(remaining)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form) -> HttpResponse:
        # Only wrong credentials count, not a form sent with an empty field.
        if form.has_error("__all__", "invalid_login") or form.has_error("__all__", "inactive"):
            username = self.request.POST.get("username", "")
            ip = client_ip(self.request)
            login_failure_record(username=username, ip=ip)
            remaining = login_lockout_remaining(username=username, ip=ip)
            if remaining > 0:
                return self._locked_out(remaining)
        return super().form_invalid(form)

    def _locked_out(self, seconds: float) -> HttpResponse:
        context = self.get_context_data(
            form=self.get_form_class()(request=self.request), lockout=lockout_message(seconds)
        )
        return TemplateResponse(self.request, self.get_template_names(), context, status=429)
