"""The CERN SSO client-credentials grant, as every service client of RefRun asks it
(OMS, DIALS, the Run Registry): one request shape, one set of messages that name the
settings to check, and the token kept until shortly before it expires."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SsoAccount:
    """A service's client-credentials account, and the names its messages give: the
    service, and the settings (`<settings_prefix>_CLIENT_ID`, ...) that configure it."""

    service: str
    settings_prefix: str
    audience_setting: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    audience: str


def client_credentials_token(
    account: SsoAccount,
    *,
    post: Callable[[dict[str, str]], Any],
    error: type[Exception],
    refused: type[Exception] | None = None,
) -> tuple[str, float]:
    """(access token, seconds it is valid) from `post(form)`, the client's own transport.

    Missing or refused credentials raise `refused` (default `error`); an answer without
    a token raises `error`."""
    refused = refused or error
    service, prefix, token_url = account.service, account.settings_prefix, account.token_url
    if not account.client_id or not account.client_secret:
        raise refused(f"{service} credentials are not configured: set {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET")
    response = post(
        {
            "grant_type": "client_credentials",
            "client_id": account.client_id,
            "client_secret": account.client_secret,
            "audience": account.audience,
        }
    )
    if response.status_code != 200:
        # The body of a refused token request may echo the request; keep it out of logs.
        raise refused(
            f"{service} token request to {token_url} refused with HTTP {response.status_code}; "
            f"check {prefix}_CLIENT_ID, {prefix}_CLIENT_SECRET and {account.audience_setting}"
        )
    try:
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 300))
    except (ValueError, KeyError, TypeError):
        raise error(f"{service} token endpoint {token_url} answered without access_token/expires_in") from None


def token_renewal_time(*, now: float, expires_in: float, margin_s: float) -> float:
    """When to ask again: a margin before expiry, at most a tenth of the lifetime."""
    return now + expires_in - min(margin_s, expires_in / 10)


class BearerToken:
    """An account's token, asked for with `post` and kept until `margin_s` before it
    expires, so no call leaves with a token that dies in flight. Thread-safe: threads
    sharing a client ask for it once."""

    def __init__(
        self,
        account: SsoAccount,
        *,
        post: Callable[[dict[str, str]], Any],
        error: type[Exception],
        refused: type[Exception] | None = None,
        margin_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._post = post
        self._error = error
        self._refused = refused
        self.margin_s = margin_s
        self._clock = clock
        self.value: str | None = None
        self._valid_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the token
        return f"BearerToken({self.account!r}, cached={self.value is not None})"

    def get(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or self.value is None or self._clock() >= self._valid_until:
                self.value, expires_in = client_credentials_token(
                    self.account, post=self._post, error=self._error, refused=self._refused
                )
                self._valid_until = token_renewal_time(now=self._clock(), expires_in=expires_in, margin_s=self.margin_s)
                logger.info(
                    "%s token obtained for client %s, valid %.0f s",
                    self.account.service,
                    self.account.client_id,
                    expires_in,
                )
            return self.value
