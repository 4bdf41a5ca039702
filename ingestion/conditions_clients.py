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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from .http import ServiceClient, TokenClient, TokenService, Transport, json_of, split_account

logger = logging.getLogger(__name__)

APV_MODES = ("DECO", "PEAK")
# Certhelper's parse of the getReadOutmode body: the run echoed, then its mode.
_APV_ANSWER = re.compile(r'\[\s*\[\s*"(?P<run>\d+)"\s*,\s*"(?P<mode>[A-Za-z?]*)"\s*\]\s*\]')
_EMPTY_ANSWER = re.compile(r"^\s*\[\s*\]\s*$")

T = TypeVar("T")

DIALS_PAGE_SIZE = 500
TOKEN_EXPIRY_MARGIN_S = 60.0


class ConditionsError(Exception):
    """A conditions service answered something we cannot use; retrying will not help."""


class ConditionsTransientError(ConditionsError):
    """Unreachable, timed out, 429 or 5xx, after the client's retries."""


class ConditionsRefused(ConditionsError):
    """The service refused us (credentials missing or refused, HTTP 401/403): every
    further request would be refused too."""


def _transport(service: str, options: dict[str, Any]) -> Transport:
    """A conditions client's transport: every service retries CONDITIONS_MAX_RETRIES times
    unless told otherwise, and a request rate of 0 is no limit."""
    options = {"max_retries": settings.CONDITIONS_MAX_RETRIES, **options}
    options["max_requests_per_s"] = options.get("max_requests_per_s") or None
    return Transport(service=service, transient_error=ConditionsTransientError, **options)


class ApvModeClient(ServiceClient):
    """The getReadOutmode service: one run per request."""

    def __init__(self, *, url: str, transport: Transport) -> None:
        self.url = url
        self.transport = transport

    @classmethod
    def from_settings(cls, **overrides: Any) -> ApvModeClient:
        options: dict[str, Any] = {
            "url": settings.APV_MODE_URL,
            "timeout_s": settings.APV_MODE_TIMEOUT_S,
            "max_requests_per_s": settings.APV_MODE_MAX_REQUESTS_PER_S,
            **overrides,
        }
        url = options.pop("url")
        return cls(url=url, transport=_transport("APV mode service", options))

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


class DialsClient(TokenClient):
    """The DIALS API: client-credentials token, then paged lists."""

    service = TokenService(
        name="DIALS",
        settings_prefix="DIALS",
        audience_setting="DIALS_AUDIENCE",
        error=ConditionsError,
        refused=ConditionsRefused,
        token_margin_s=TOKEN_EXPIRY_MARGIN_S,
        token_headers={"Accept": "application/json"},
    )

    def __init__(self, *, workspace: str, transport: Transport, **account: str) -> None:
        """`account`: api_url, token_url, client_id, client_secret, audience."""
        self.workspace = workspace
        super().__init__(**account, transport=transport)

    def refused_hint(self) -> str:
        return f"is client {self.client_id} granted API access in workspace {self.workspace!r}?"

    @classmethod
    def from_settings(cls, **overrides: Any) -> DialsClient:
        options: dict[str, Any] = {
            **cls.service.settings(),
            "workspace": settings.DIALS_WORKSPACE,
            "max_requests_per_s": settings.DIALS_MAX_REQUESTS_PER_S,
            **overrides,
        }
        account, options = split_account(options)
        workspace = options.pop("workspace")
        return cls(**account, workspace=workspace, transport=_transport("DIALS", options))

    def _get_page(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        what = f"DIALS {path}"
        response = self.authorised.send(
            "GET",
            f"{self.api_url}/{path}",
            what=what,
            # Retries are named by the service, as every DIALS call's are.
            retries_what=self.transport.service,
            headers={"Accept": "application/json", "Workspace": self.workspace},
            params=params,
        )
        if response.status_code != 200:
            raise ConditionsError(f"{what}: HTTP {response.status_code}")
        page = json_of(response, what=what, error=ConditionsError)
        if not isinstance(page, dict) or not isinstance(page.get("results"), list):
            raise ConditionsError(f"{what}: the answer has no results list")
        return page

    def _paged(
        self, path: str, parse: Callable[[Any], T], *, run_min: int, run_max: int, page_size: int, **filters: Any
    ) -> Iterator[list[T]]:
        """The rows of a paged list of runs in [run_min, run_max], each read by `parse`, a
        page at a time: the same query again with the `next_token` of `next`, as cmsdials does."""
        params: dict[str, Any] = {
            **filters,
            "run_number__gte": run_min,
            "run_number__lte": run_max,
            "page_size": page_size,
        }
        name = path.rstrip("/")
        seen_tokens: set[str] = set()
        while True:
            page = self._get_page(path, params)
            yield [parse(item) for item in page["results"]]
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
        return self._paged("th1/", _histogram, run_min=run_min, run_max=run_max, page_size=page_size, me=me)

    def run_datasets(
        self, *, run_min: int, run_max: int, page_size: int = DIALS_PAGE_SIZE
    ) -> Iterator[list[RunDataset]]:
        """DIALS's run list for runs in [run_min, run_max]: a row per (run, dataset) it
        holds, a page at a time (cmsdials `RunClient`: `run/` with the run-number and
        `dataset__regex` filters). Its `dataset` is the DQMIO name itself; the dataset
        index (`dataset-index/`) splits that name into era, primary dataset and
        processing version, which the name already gives us."""
        return self._paged(
            "run/", _run_dataset, run_min=run_min, run_max=run_max, page_size=page_size, dataset__regex=DQMIO_REGEX
        )


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
