"""HTTP clients for the conditions OMS does not have: the APV readout mode and DIALS.

APV mode (oms_api.md section 3): `GET <APV_MODE_URL>?RUN=<run>`, the personal CGI
Certhelper reads. No auth, plain HTTP, slow: one request a second at most and a
timeout. The body holds `[["<run>","<MODE>"]]`; the echoed run must be the one asked.

DIALS: a thin client on the endpoints the `cmsdials` package (2.4.1) calls, not the
package itself: cmsdials pins urllib3<2.0.0 and we pin urllib3==2.8.0
(constraints.txt; requests 2.34 wants urllib3 2), so the two cannot share one
environment. What it sends, and what this client sends too:
- a token from CERN's Keycloak `.../realms/cern/api-access/token` (client
  credentials, with DIALS's `audience`), as `Authorization: Bearer <token>`;
- the `Workspace: <name>` header (the tracker's workspace holds the tracker MEs);
- `GET <api>/th1/?me=...&run_number__gte=...&run_number__lte=...&page_size=N`, the
  per-lumisection 1D histograms, and `GET <api>/run/?run_number__gte=...&run_number__lte=...
  &dataset__regex=...&page_size=N`, the run list (each run's DQMIO datasets); a page is `{"next", "previous", "results"}` and the
  next page is the same query with the `next_token` found in `next` (cmsdials
  re-sends its filters with that token rather than following the URL, and so do we).

Both clients retry connection errors, timeouts, 429 and 5xx with jittered backoff,
then raise `ConditionsTransientError`; anything else they cannot use is
`ConditionsError`. Neither the client secret nor the token is logged.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings

from .clients import RateLimiter, backoff_delay
from .sso_tokens import client_credentials_token, token_renewal_time

logger = logging.getLogger(__name__)

APV_MODES = ("DECO", "PEAK")
# Certhelper's parse of the getReadOutmode body: the run echoed, then its mode.
_APV_ANSWER = re.compile(r'\[\s*\[\s*"(?P<run>\d+)"\s*,\s*"(?P<mode>[A-Za-z?]*)"\s*\]\s*\]')
_EMPTY_ANSWER = re.compile(r"^\s*\[\s*\]\s*$")

DIALS_PAGE_SIZE = 500
TOKEN_EXPIRY_MARGIN_S = 60.0


class ConditionsError(Exception):
    """A conditions service answered something we cannot use; retrying will not help."""


class ConditionsTransientError(ConditionsError):
    """Unreachable, timed out, 429 or 5xx, after the client's retries."""


class ConditionsRefused(ConditionsError):
    """The service refused us (credentials missing or refused, HTTP 401/403): every
    further request would be refused too."""


class _Transport:
    """One request with a timeout, TLS verification, no redirects, a rate limit and retries."""

    def __init__(
        self,
        *,
        service: str,
        timeout_s: float,
        max_requests_per_s: float | None,
        max_retries: int,
        verify: bool | str = True,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.verify = verify
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.session = session or requests.Session()
        self.rate_limiter = RateLimiter(max_requests_per_s, sleep=sleep)
        self._sleep = sleep
        self.requests_made = 0

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        attempt = 0
        while True:
            self.rate_limiter.wait()
            self.requests_made += 1
            try:
                response = self.session.request(
                    method, url, timeout=self.timeout_s, verify=self.verify, allow_redirects=False, **kwargs
                )
                if response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                else:
                    _ = response.content  # a body cut short is retried here
                    return response
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem = type(exc).__name__
            if attempt >= self.max_retries:
                raise ConditionsTransientError(
                    f"{self.service}: {problem} after {attempt + 1} attempts ({url.split('?', 1)[0]})"
                )
            delay = backoff_delay(attempt, base=self.backoff_base_s, cap=self.backoff_cap_s)
            logger.warning("%s: %s, retry %d/%d in %.2f s", self.service, problem, attempt + 1, self.max_retries, delay)
            self._sleep(delay)
            attempt += 1


class ApvModeClient:
    """The getReadOutmode service: one run per request."""

    def __init__(self, *, url: str, transport: _Transport) -> None:
        self.url = url
        self.transport = transport

    @classmethod
    def from_settings(cls, **overrides: Any) -> ApvModeClient:
        options: dict[str, Any] = {
            "service": "APV mode service",
            "timeout_s": settings.APV_MODE_TIMEOUT_S,
            "max_requests_per_s": settings.APV_MODE_MAX_REQUESTS_PER_S or None,
            "max_retries": settings.CONDITIONS_MAX_RETRIES,
        }
        options.update(overrides)
        url = options.pop("url", settings.APV_MODE_URL)
        return cls(url=url, transport=_Transport(**options))

    @property
    def requests_made(self) -> int:
        return self.transport.requests_made

    def apv_mode(self, run_number: int) -> str | None:
        """ "DECO" or "PEAK", or None when the service does not know the run."""
        response = self.transport.send("GET", self.url, params={"RUN": run_number})
        if response.status_code in (401, 403):
            raise ConditionsRefused(f"APV mode service {self.url}: HTTP {response.status_code} (access refused)")
        if response.status_code != 200:
            raise ConditionsError(f"APV mode service: HTTP {response.status_code} for run {run_number}")
        body = response.text
        match = _APV_ANSWER.search(body)
        if match is None:
            if _EMPTY_ANSWER.match(body):
                return None
            raise ConditionsError(f"APV mode service: unreadable answer for run {run_number}: {body[:80]!r}")
        if int(match["run"]) != run_number:
            raise ConditionsError(f"APV mode service: asked for run {run_number}, answered for run {match['run']}")
        mode = match["mode"].upper()
        return mode if mode in APV_MODES else None


@dataclass(frozen=True, slots=True)
class Histogram1D:
    """One lumisection's 1D histogram of a monitor element, as DIALS lists it."""

    dataset: str
    run_number: int
    ls_number: int
    x_min: float
    x_max: float
    x_bin: int
    entries: int
    data: tuple[float, ...]

    def mean(self) -> float | None:
        """The histogram's mean over bin centres, or None when it is empty."""
        total = sum(self.data)
        if total <= 0 or self.x_bin <= 0:
            return None
        width = (self.x_max - self.x_min) / self.x_bin
        return sum(c * (self.x_min + (i + 0.5) * width) for i, c in enumerate(self.data)) / total


def _histogram(item: Any) -> Histogram1D:
    try:
        data = tuple(float(v) for v in item["data"])
        histogram = Histogram1D(
            dataset=str(item["dataset"]),
            run_number=int(item["run_number"]),
            ls_number=int(item["ls_number"]),
            x_min=float(item["x_min"]),
            x_max=float(item["x_max"]),
            x_bin=int(item["x_bin"]),
            entries=int(item["entries"]),
            data=data,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConditionsError(f"DIALS th1: a histogram without a usable {exc}") from None
    if len(histogram.data) != histogram.x_bin:
        raise ConditionsError(
            f"DIALS th1: run {histogram.run_number} LS {histogram.ls_number} has {len(data)} bins, "
            f"x_bin says {histogram.x_bin}"
        )
    return histogram


class DialsClient:
    """The DIALS API: client-credentials token, then paged lists."""

    def __init__(
        self,
        *,
        api_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str,
        workspace: str,
        transport: _Transport,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.audience = audience
        self.workspace = workspace
        self.transport = transport
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the secret or the token
        return f"DialsClient(api_url={self.api_url!r}, client_id={self.client_id!r})"

    @classmethod
    def from_settings(cls, **overrides: Any) -> DialsClient:
        transport_options: dict[str, Any] = {
            "service": "DIALS",
            "timeout_s": settings.DIALS_TIMEOUT_S,
            "max_requests_per_s": settings.DIALS_MAX_REQUESTS_PER_S or None,
            "max_retries": settings.CONDITIONS_MAX_RETRIES,
            "verify": settings.DIALS_CA_BUNDLE,
        }
        options: dict[str, Any] = {
            "api_url": settings.DIALS_API_URL,
            "token_url": settings.DIALS_TOKEN_URL,
            "client_id": settings.DIALS_CLIENT_ID,
            "client_secret": settings.DIALS_CLIENT_SECRET,
            "audience": settings.DIALS_AUDIENCE,
            "workspace": settings.DIALS_WORKSPACE,
        }
        for key in list(overrides):
            if key in options:
                options[key] = overrides.pop(key)
        transport_options.update(overrides)
        return cls(**options, transport=_Transport(**transport_options))

    @property
    def requests_made(self) -> int:
        return self.transport.requests_made

    def _bearer(self, *, renew: bool = False) -> str:
        with self._lock:
            if renew or self._token is None or time.monotonic() >= self._token_valid_until:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _fetch_token(self) -> None:
        self._token, expires_in = client_credentials_token(
            post=lambda form: self.transport.send(
                "POST", self.token_url, data=form, headers={"Accept": "application/json"}
            ),
            token_url=self.token_url,
            client_id=self.client_id,
            client_secret=self._client_secret,
            audience=self.audience,
            service="DIALS",
            settings_prefix="DIALS",
            audience_setting="DIALS_AUDIENCE",
            error=ConditionsError,
            refused=ConditionsRefused,
        )
        self._token_valid_until = token_renewal_time(
            now=time.monotonic(), expires_in=expires_in, margin_s=TOKEN_EXPIRY_MARGIN_S
        )

    def _get_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.api_url}/{path}"
        renewed = False
        while True:
            headers = {
                "Authorization": f"Bearer {self._bearer()}",
                "Accept": "application/json",
                "Workspace": self.workspace,
            }
            response = self.transport.send("GET", url, params=params, headers=headers)
            if response.status_code in (401, 403) and not renewed:
                self._bearer(renew=True)
                renewed = True
                continue
            break
        if response.status_code in (401, 403):
            raise ConditionsRefused(
                f"DIALS {path}: HTTP {response.status_code} even with a fresh token; "
                f"is client {self.client_id} granted API access in workspace {self.workspace!r}?"
            )
        if response.status_code != 200:
            raise ConditionsError(f"DIALS {path}: HTTP {response.status_code}")
        try:
            page = response.json()
        except (ValueError, RecursionError):
            raise ConditionsError(f"DIALS {path}: the answer is not JSON ({len(response.content)} bytes)") from None
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise ConditionsError(f"DIALS {path}: the answer has no results list")
        return page

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """The results of a paged list, a page at a time: the same query again with the
        `next_token` of `next`, as cmsdials does."""
        name = path.rstrip("/")
        seen_tokens: set[str] = set()
        while True:
            page = self._get_page(path, params)
            yield page["results"]
            token = _next_token(page.get("next"), name)
            if token is None:
                return
            if token in seen_tokens:
                raise ConditionsError(f"DIALS {name}: the pages loop (a next_token came back)")
            seen_tokens.add(token)
            params = {**params, "next_token": token}

    def histograms_1d(
        self, *, me: str, run_min: int, run_max: int, page_size: int = DIALS_PAGE_SIZE
    ) -> Iterator[list[Histogram1D]]:
        """The per-lumisection histograms of `me` for runs in [run_min, run_max], a page at a time."""
        params: dict[str, Any] = {
            "me": me,
            "run_number__gte": run_min,
            "run_number__lte": run_max,
            "page_size": page_size,
        }
        for results in self._paged("th1/", params):
            yield [_histogram(item) for item in results]

    def run_datasets(
        self, *, run_min: int, run_max: int, page_size: int = DIALS_PAGE_SIZE
    ) -> Iterator[list[RunDataset]]:
        """DIALS's run list for runs in [run_min, run_max]: a row per (run, dataset) it
        holds, a page at a time (cmsdials `RunClient`: `run/` with the run-number and
        `dataset__regex` filters). Its `dataset` is the DQMIO name itself; the dataset
        index (`dataset-index/`) splits that name into era, primary dataset and
        processing version, which the name already gives us."""
        params: dict[str, Any] = {
            "run_number__gte": run_min,
            "run_number__lte": run_max,
            "dataset__regex": DQMIO_REGEX,
            "page_size": page_size,
        }
        for results in self._paged("run/", params):
            yield [_run_dataset(item) for item in results]


@dataclass(frozen=True, slots=True)
class RunDataset:
    """One row of DIALS's run list: a run as one DQMIO dataset holds it."""

    run_number: int
    dataset: str


# DIALS ingests DQMIO files only, but its run list says nothing of the tier: ask for it.
DQMIO_REGEX = "/DQMIO$"


def _run_dataset(item: Any) -> RunDataset:
    try:
        row = RunDataset(run_number=int(item["run_number"]), dataset=str(item["dataset"]).strip())
    except (KeyError, TypeError, ValueError) as exc:
        raise ConditionsError(f"DIALS run: a row without a usable {exc}") from None
    if not row.dataset:
        raise ConditionsError(f"DIALS run: run {row.run_number} with an empty dataset name")
    return row


def _next_token(next_url: Any, name: str) -> str | None:
    if not next_url:
        return None
    if not isinstance(next_url, str):
        raise ConditionsError(f"DIALS {name}: `next` is not a URL")
    values = parse_qs(urlsplit(next_url).query).get("next_token")
    if not values:
        raise ConditionsError(f"DIALS {name}: `next` carries no next_token")
    return values[0]
