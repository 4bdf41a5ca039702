"""What every RefRun client of a CMS web service does on the wire (OMS, DIALS, the APV
mode service, the Run Registry), written once:

- each request has a timeout, verifies TLS, never follows a redirect (a CERN service
  that redirects is sending us to its SSO login page) and waits for its turn under the
  client's request rate;
- connection errors, timeouts, a body cut short and the statuses the service calls
  transient are retried with exponential backoff, then raise the client's transient
  error as `<what>: <problem> after N attempts (<url without query>)`;
- a call refused with the cached bearer token is sent once more with a fresh one;
- an answer is read as JSON or fails with one message.

The clients keep what differs: their errors, their paging and their answers' shapes.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Any, ClassVar, Self

import requests
from django.conf import settings

from .sso_tokens import BearerToken, SsoAccount

logger = logging.getLogger(__name__)


class RateLimiter:
    """At most `per_second` calls per second from this client: each call waits
    until 1/per_second has passed since the previous one. None or 0 disables it."""

    def __init__(
        self,
        per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = 1.0 / per_second if per_second else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_at = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.min_interval:
            return
        with self._lock:
            now = self._clock()
            delay = self._next_at - now
            self._next_at = max(now, self._next_at) + self.min_interval
        if delay > 0:
            self._sleep(delay)


def backoff_delay(attempt: int, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base*2^attempt)].

    Jitter spreads the retries of several workers hit by the same outage.
    """
    return random.uniform(0.0, min(cap, base * (2**attempt)))


def overloaded_or_failing(status: int) -> bool:
    """429 and 5xx: the statuses OMS and the conditions services answer when a later try may work."""
    return status == 429 or status >= 500


@dataclass(kw_only=True, eq=False)
class Transport:
    """One client's requests: timeout, TLS, no redirects, rate limit and retries.

    `retry_status` says which statuses are transient; `jitter=False` doubles the delay
    exactly (the Run Registry's own client does); `honour_retry_after` waits at least
    what a 429/5xx's `Retry-After` asks, up to the cap."""

    service: str
    transient_error: type[Exception]
    max_retries: int
    timeout_s: float = 30.0
    verify: bool | str = True
    max_requests_per_s: InitVar[float | None] = None
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    retry_status: Callable[[int], bool] = overloaded_or_failing
    jitter: bool = True
    honour_retry_after: bool = False
    session: requests.Session | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: InitVar[Callable[[], float]] = time.monotonic
    requests_made: int = field(default=0, init=False)  # for job records, logs and benchmarks

    def __post_init__(self, max_requests_per_s: float | None, clock: Callable[[], float]) -> None:
        self.session = self.session or requests.Session()
        self.rate_limiter = RateLimiter(max_requests_per_s, clock=clock, sleep=self.sleep)

    def backoff(self, attempt: int) -> float:
        """The wait before retry number `attempt` + 1."""
        if self.jitter:
            return backoff_delay(attempt, base=self.backoff_base_s, cap=self.backoff_cap_s)
        return min(self.backoff_cap_s, self.backoff_base_s * 2**attempt)

    def send(self, method: str, url: str, *, what: str | None = None, **kwargs: Any) -> requests.Response:
        """One request, retried on transient failures; returns any non-transient response."""
        what = what or self.service
        attempt = 0
        while True:
            self.rate_limiter.wait()
            self.requests_made += 1
            retry_after = None
            try:
                response = self.session.request(
                    method, url, timeout=self.timeout_s, verify=self.verify, allow_redirects=False, **kwargs
                )
                if not self.retry_status(response.status_code):
                    # Read the whole body now, so a body cut short is retried here.
                    _ = response.content
                    return response
                problem = f"HTTP {response.status_code}"
                if self.honour_retry_after:
                    retry_after = _retry_after_s(response)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem = type(exc).__name__
            if attempt >= self.max_retries:
                raise self.transient_error(f"{what}: {problem} after {attempt + 1} attempts ({safe_url(url)})")
            delay = self.backoff(attempt)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.backoff_cap_s))
            logger.warning(
                "%s: %s (%s), retry %d/%d in %.2f s", what, problem, safe_url(url), attempt + 1, self.max_retries, delay
            )
            self.sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class Authorised:
    """A client's requests with its bearer token. A refusal (`refused_statuses`) is
    tried once more with a fresh token: a cached one may have been revoked early.
    Refused again raises `refused_error` as `<what>: HTTP <status> even with a fresh
    token; <refused_hint>`."""

    transport: Transport
    token: BearerToken
    refused_statuses: tuple[int, ...]
    refused_error: type[Exception]
    refused_hint: str

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        headers: dict[str, str],
        retries_what: str | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """`Transport.send` with `Authorization: Bearer <token>`; its retries name the
        call `retries_what` (default `what`)."""
        renewed = False
        while True:
            with_token = {**headers, "Authorization": f"Bearer {self.token.get()}"}
            response = self.transport.send(method, url, what=retries_what or what, headers=with_token, **kwargs)
            if response.status_code not in self.refused_statuses:
                return response
            if renewed:
                raise self.refused_error(
                    f"{what}: HTTP {response.status_code} even with a fresh token; {self.refused_hint}"
                )
            logger.info("%s: HTTP %d, renewing the %s token once", what, response.status_code, self.transport.service)
            self.token.get(renew=True)
            renewed = True


class ServiceClient:
    """A client whose requests go through `self.transport`."""

    transport: Transport

    @property
    def requests_made(self) -> int:  # for job records, logs and benchmarks
        return self.transport.requests_made


@dataclass(frozen=True, kw_only=True)
class TokenService:
    """What a client signing in with a CERN SSO client-credentials token declares of its
    service: the name its messages give, where its settings are, its errors, which
    statuses refuse a call (and so renew the token once), and how early the token is
    renewed. `refused` is what missing or refused credentials raise (default `error`)."""

    name: str
    settings_prefix: str
    audience_setting: str
    error: type[Exception]
    refused: type[Exception] | None = None
    refused_statuses: tuple[int, ...] = (401, 403)
    token_margin_s: float
    # The token request's retries are named by this (None: by the service); its headers.
    token_what: str | None = None
    token_headers: dict[str, str] | None = None

    def settings(self) -> dict[str, Any]:
        return service_settings(self.settings_prefix, audience_setting=self.audience_setting)


# The keywords of a token client's constructor that are its account; the rest of what
# OMS's and the Run Registry's clients take goes to their Transport.
ACCOUNT_OPTIONS = ("api_url", "token_url", "client_id", "client_secret", "audience")


def split_account(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the account's keywords, everything else) of a token client's keywords."""
    account = {key: options[key] for key in ACCOUNT_OPTIONS if key in options}
    return account, {key: value for key, value in options.items() if key not in ACCOUNT_OPTIONS}


class TokenClient(ServiceClient):
    """A client of a service that wants a CERN SSO bearer token: `self.token`, and
    `self.authorised`, its requests with that token. Each client declares its `service`
    and the hint a refused call's error gives."""

    service: ClassVar[TokenService]

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str,
        transport: Transport,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        service = self.service
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.transport = transport
        account = SsoAccount(
            service.name,
            service.settings_prefix,
            service.audience_setting,
            token_url,
            client_id,
            client_secret,
            audience,
        )
        # Only DIALS's token request has ever sent headers; the others send none at all.
        token_headers = {"headers": dict(service.token_headers)} if service.token_headers else {}
        self.token = BearerToken(
            account,
            post=lambda form: transport.send("POST", token_url, what=service.token_what, data=form, **token_headers),
            error=service.error,
            refused=service.refused,
            margin_s=service.token_margin_s,
            clock=clock,
        )
        refused_error = service.refused or service.error
        self.authorised = Authorised(
            transport, self.token, service.refused_statuses, refused_error, self.refused_hint()
        )

    def refused_hint(self) -> str:
        """What to check when a call is refused even with a fresh token."""
        return f"is client {self.client_id} authorised for {self.service.name}?"

    def __repr__(self) -> str:  # never show the secret or the token
        return f"{type(self).__name__}(api_url={self.api_url!r}, client_id={self.client_id!r})"

    @classmethod
    def from_settings(cls, **overrides: Any) -> Self:
        return cls(**{**cls.service.settings(), **cls.own_settings(), **overrides})

    @classmethod
    def own_settings(cls) -> dict[str, Any]:
        """The options this client reads from settings beyond its account's."""
        return {}


def service_settings(prefix: str, *, audience_setting: str) -> dict[str, Any]:
    """A token client's options from the settings each such service has: `<prefix>_API_URL`,
    `_TOKEN_URL`, `_CLIENT_ID`, `_CLIENT_SECRET`, `_CA_BUNDLE`, `_TIMEOUT_S`, and its audience."""
    return {
        "api_url": getattr(settings, f"{prefix}_API_URL"),
        "token_url": getattr(settings, f"{prefix}_TOKEN_URL"),
        "client_id": getattr(settings, f"{prefix}_CLIENT_ID"),
        "client_secret": getattr(settings, f"{prefix}_CLIENT_SECRET"),
        "audience": getattr(settings, audience_setting),
        "verify": getattr(settings, f"{prefix}_CA_BUNDLE"),
        "timeout_s": getattr(settings, f"{prefix}_TIMEOUT_S"),
    }


def require_200(response: requests.Response, *, what: str, error: type[Exception]) -> None:
    """A redirect (to the SSO login page) or any status but 200 raises `error`, with the
    start of the body for a status."""
    if 300 <= response.status_code < 400:
        raise error(f"{what}: redirected (HTTP {response.status_code}), which means the SSO login page")
    if response.status_code != 200:
        raise error(f"{what}: HTTP {response.status_code}: {response.text[:200]}")


def json_of(response: requests.Response, *, what: str, error: type[Exception]) -> Any:
    """The decoded body; an answer that is not JSON raises `error`."""
    try:
        return response.json()
    except (ValueError, RecursionError):  # RecursionError: arrays nested deeper than the decoder goes
        raise error(f"{what}: the answer is not JSON ({len(response.content)} bytes)") from None


def _retry_after_s(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def safe_url(url: str) -> str:
    """The URL without any query (never carries secrets, but keeps logs short)."""
    return url.split("?", 1)[0]
