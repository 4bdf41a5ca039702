"""The login page, with a limit on failed attempts that an attacker cannot turn
against the shift.

Usernames are compared as Django's login compares them: NFKC-normalised (so a
fullwidth or a mathematical-bold `sam` is `sam`), and case-folded. Failures are counted in database
rows (LoginThrottle), never culled while they matter and changed under a row lock:

- per username (a password guessed from many machines) and per client address
  (one machine trying many usernames); at the limit, a lock whose length doubles
  with each further failure (LOGIN_BACKOFF_S, 2x, 4x, ... up to LOGIN_LOCKOUT_S);
- an attempt is counted *before* its password is checked and given back if it
  succeeds, so parallel guesses cannot all slip past the check;
- an address that logged a username in before (LOGIN_KNOWN_ADDRESS_DAYS) is judged
  on that username-at-address counter alone: an attacker elsewhere, or the many
  users behind one proxy address, cannot lock a shifter out of their console;
- an IPv6 client is its LOGIN_IPV6_PREFIX network (/64, as fail2ban and Cloudflare
  count): one machine holds a whole /64 and could take a new address per guess.

Why not django-axes: it has no "known address" exemption and counts after the
password check; the tests in tests/security/test_0[12]_* are the reasons.

A successful login resets nothing: a shifter logging in from elsewhere must not
give back the guesses an attacker spent.
"""

import datetime as dt
import hashlib
import ipaddress
import math
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .models import LoginKnownAddress, LoginThrottle


def _now() -> dt.datetime:
    # time.time(), not timezone.now(): tests move this one clock.
    return dt.datetime.fromtimestamp(time.time(), tz=dt.UTC)


def normalised_username(username: str) -> str:
    """The username as Django's login field sees it (NFKC), case-folded."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


def _digest(*parts: str) -> str:
    # Hashed: keys have a fixed length whatever a client sends, and hold no username.
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or, behind LOGIN_TRUSTED_PROXIES reverse
    proxies, the address the outermost of them appended to LOGIN_CLIENT_IP_HEADER
    (entries left of it are whatever the client sent)."""
    header = settings.LOGIN_CLIENT_IP_HEADER
    if header:
        value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        addresses = [part.strip() for part in value.split(",") if part.strip()]
        if addresses:
            depth = max(1, settings.LOGIN_TRUSTED_PROXIES)
            return addresses[-min(depth, len(addresses))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def client_network(ip: str) -> str:
    """What the per-address counters count: an IPv4 address as it is (an IPv4-mapped
    IPv6 address too), an IPv6 address as its LOGIN_IPV6_PREFIX network."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # "unknown", or whatever a misconfigured proxy header held
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is None:
            return str(ipaddress.IPv6Network((address, settings.LOGIN_IPV6_PREFIX), strict=False))
        address = address.ipv4_mapped
    return str(address)


def _is_known(*, user_key: str, address: str) -> bool:
    since = _now() - dt.timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    return LoginKnownAddress.objects.filter(username_key=user_key, address=address, last_login_at__gte=since).exists()


def _keys(*, username: str, ip: str) -> list[tuple[str, int]]:
    user_key, address = _digest(normalised_username(username)), _digest(client_network(ip))
    if _is_known(user_key=user_key, address=address):
        return [(_digest("pair", user_key, address), settings.LOGIN_FAILURES_PER_USERNAME)]
    return [
        (_digest("user", user_key), settings.LOGIN_FAILURES_PER_USERNAME),
        (_digest("ip", address), settings.LOGIN_FAILURES_PER_IP),
    ]


def _lock_for(failures: int, limit: int) -> dt.timedelta:
    seconds = settings.LOGIN_BACKOFF_S * 2 ** min(failures - limit, 30)
    return dt.timedelta(seconds=min(seconds, settings.LOGIN_LOCKOUT_S))


def login_lockout_remaining(*, username: str, ip: str) -> float:
    """Seconds until a login for `username` from `ip` is allowed again (0: now)."""
    now = _now()
    until = LoginThrottle.objects.filter(
        key__in=[key for key, _ in _keys(username=username, ip=ip)], locked_until__gt=now
    ).values_list("locked_until", flat=True)
    return max(((u - now).total_seconds() for u in until), default=0.0)


@dataclass
class Attempt:
    """An attempt counted as a failure until it is known to be something else."""

    refused_for: float = 0.0
    # key -> the lock it had before this attempt set one (restored if it succeeds)
    counted: dict[str, tuple[dt.datetime | None, dt.datetime | None]] | None = None


@transaction.atomic
def login_attempt_begin(*, username: str, ip: str) -> Attempt:
    """Count one attempt, before its password is checked; refuse it (nothing counted)
    while the username or address is locked."""
    now = _now()
    keys = _keys(username=username, ip=ip)
    rows = []
    for key, limit in keys:
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(key=key)
        rows.append((row, limit))
    remaining = max(((row.locked_until - now).total_seconds() for row, _ in rows if row.locked_until), default=0.0)
    if remaining > 0:
        return Attempt(refused_for=remaining)
    counted = {}
    for row, limit in rows:
        if row.last_failure_at and row.last_failure_at < now - dt.timedelta(seconds=settings.LOGIN_LOCKOUT_S):
            row.failures = 0  # the window has passed
        counted[row.key] = (row.locked_until, row.last_failure_at)
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= limit:
            # Locked from now on: attempts arriving while this password is checked are refused.
            row.locked_until = now + _lock_for(row.failures, limit)
        row.save(update_fields=["failures", "last_failure_at", "locked_until", "updated_at"])
    return Attempt(counted=counted)


@transaction.atomic
def login_attempt_not_a_failure(*, attempt: Attempt) -> None:
    """Give back an attempt that succeeded (or never checked a password)."""
    for row in LoginThrottle.objects.select_for_update().filter(key__in=list(attempt.counted or {})):
        locked_until, last_failure_at = attempt.counted[row.key]
        row.failures = max(0, row.failures - 1)
        row.locked_until, row.last_failure_at = locked_until, last_failure_at
        row.save(update_fields=["failures", "last_failure_at", "locked_until", "updated_at"])


def login_address_remember(*, username: str, ip: str) -> None:
    LoginKnownAddress.objects.update_or_create(
        username_key=_digest(normalised_username(username)),
        address=_digest(client_network(ip)),
        defaults={"last_login_at": _now()},
    )


def login_records_prune() -> int:
    """Delete counters whose window and lock are over, and addresses not used for
    LOGIN_KNOWN_ADDRESS_DAYS; returns how many rows went."""
    now = _now()
    window = dt.timedelta(seconds=settings.LOGIN_LOCKOUT_S)
    counters, _ = LoginThrottle.objects.filter(updated_at__lt=now - window).exclude(locked_until__gt=now).delete()
    addresses, _ = LoginKnownAddress.objects.filter(
        last_login_at__lt=now - dt.timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    ).delete()
    return counters + addresses


def lockout_message(seconds: float) -> str:
    if seconds < 60:
        wait = f"{max(1, math.ceil(seconds))} seconds"
    else:
        minutes = math.ceil(seconds / 60)
        wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"Too many failed logins; try again in {wait}. If you forgot your password, ask a RefRun admin to reset it."


LOCAL_LOGIN_OFF_MESSAGE = "Password login is switched off here: log in with CERN SSO."


def local_login_allowed(username: str) -> bool:
    """LOCAL_LOGIN=false: only the named break-glass account may use a password
    (so local superusers cannot bypass CERN's two-factor login)."""
    if settings.LOCAL_LOGIN:
        return True
    break_glass = settings.LOCAL_LOGIN_BREAK_GLASS_USER
    return bool(break_glass) and normalised_username(username) == normalised_username(break_glass)


class RateLimitedLoginView(auth_views.LoginView):
    """Django's LoginView; checks a password only for an attempt the throttle counted."""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")
        if not local_login_allowed(username):
            return self._refused(LOCAL_LOGIN_OFF_MESSAGE, status=403)
        self.attempt = login_attempt_begin(username=username, ip=client_ip(request))
        if self.attempt.refused_for > 0:
            return self._refused(lockout_message(self.attempt.refused_for), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form) -> HttpResponse:
        login_attempt_not_a_failure(attempt=self.attempt)
        login_address_remember(username=form.get_user().get_username(), ip=client_ip(self.request))
        return super().form_valid(form)

    def form_invalid(self, form) -> HttpResponse:
        # Only wrong credentials count, not a form sent with an empty field.
        if not (form.has_error("__all__", "invalid_login") or form.has_error("__all__", "inactive")):
            login_attempt_not_a_failure(attempt=self.attempt)
            return super().form_invalid(form)
        remaining = login_lockout_remaining(username=self.request.POST.get("username", ""), ip=client_ip(self.request))
        if remaining > 0:
            return self._refused(lockout_message(remaining), status=429)
        return super().form_invalid(form)

    def _refused(self, message: str, *, status: int) -> HttpResponse:
        context = self.get_context_data(form=self.get_form_class()(request=self.request), lockout=message)
        return TemplateResponse(self.request, self.get_template_names(), context, status=status)
