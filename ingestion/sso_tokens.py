"""The CERN SSO client-credentials grant, as every service client of RefRun asks it
(OMS, DIALS, the Run Registry): one request shape, one set of messages that name the
settings to check, and the token's renewal time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def client_credentials_token(
    *,
    post: Callable[[dict[str, str]], Any],
    token_url: str,
    client_id: str,
    client_secret: str,
    audience: str,
    service: str,
    settings_prefix: str,
    audience_setting: str,
    error: type[Exception],
    refused: type[Exception] | None = None,
) -> tuple[str, float]:
    """(access token, seconds it is valid) from `post(form)`, the client's own transport.

    Missing or refused credentials raise `refused` (default `error`); an answer without
    a token raises `error`."""
    refused = refused or error
    if not client_id or not client_secret:
        raise refused(
            f"{service} credentials are not configured: set {settings_prefix}_CLIENT_ID and "
            f"{settings_prefix}_CLIENT_SECRET"
        )
    response = post(
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": audience,
        }
    )
    if response.status_code != 200:
        # The body of a refused token request may echo the request; keep it out of logs.
        raise refused(
            f"{service} token request to {token_url} refused with HTTP {response.status_code}; "
            f"check {settings_prefix}_CLIENT_ID, {settings_prefix}_CLIENT_SECRET and {audience_setting}"
        )
    try:
        body = response.json()
        return str(body["access_token"]), float(body.get("expires_in", 300))
    except (ValueError, KeyError, TypeError):
        raise error(f"{service} token endpoint {token_url} answered without access_token/expires_in") from None


def token_renewal_time(*, now: float, expires_in: float, margin_s: float) -> float:
    """When to ask again: a margin before expiry, at most a tenth of the lifetime."""
    return now + expires_in - min(margin_s, expires_in / 10)
