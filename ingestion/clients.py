"""HTTP clients for CMS OMS and Certhelper.

Both point anywhere through settings (OMS_API_URL, OMS_TOKEN_URL, CERTHELPER_URL),
so development and tests run against `manage.py fake_oms`.

OMS (see ../shared/docs/oms_api.md):
- CERN SSO client-credentials token, cached until shortly before it expires and
  renewed once when a call answers 401.
- Every call has a timeout, verifies TLS (OMS_CA_BUNDLE may name the CERN CA
  bundle), never follows redirects (a 302 means "go to the SSO login page"), and
  waits for its turn under a per-client request rate.
- Connection errors, timeouts, 429 and 5xx are retried with exponential backoff
  and full jitter; anything else fails at once with `OmsError`.
- Pages are requested by offset from the configured base URL. `links.next` is
  never followed: OMS has sent malformed hosts there (`https://https://...`).

Certhelper: one GET of the whole pairs table, no paging and no auth. Its owners
ask that it be called rarely; the spacing between calls is enforced by the sync
service (a claim in the database), not here, because it must hold across
processes.

Neither the client secret nor the token is ever logged or put in an exception.
The transport, the retries and the token cache are the ones every service client
shares (ingestion.http, ingestion.sso_tokens); what is OMS's own is here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from .http import TokenClient, TokenService, Transport, json_of, require_200, split_account
from .parsers.common import RowInvalid, to_required_int
from .quantities import FILL, LUMISECTION, RUN, oms_fields

logger = logging.getLogger(__name__)

# Attributes we mirror, from the catalogue (ingestion.quantities). Projecting them
# with `fields=` keeps OMS responses small.
RUN_FIELDS = oms_fields(RUN)
FILL_FIELDS = oms_fields(FILL)
LUMISECTION_FIELDS = oms_fields(LUMISECTION)

RUNS_PAGE_SIZE = 1000
FILLS_PAGE_SIZE = 1000
# A run rarely has more than ~3000 lumisections (max 3177 in 2018): one page.
LUMISECTIONS_PAGE_SIZE = 5000

# Renew the token this long before OMS says it expires, so a call never leaves
# with a token that dies in flight.
TOKEN_EXPIRY_MARGIN_S = 60.0


class OmsError(Exception):
    """OMS answered something we cannot use; retrying will not help."""


class OmsTransientError(OmsError):
    """A connection error, timeout, 429 or 5xx that outlasted the client's retries.

    Celery tasks retry on this one (later, with backoff); on nothing else.
    """


class CerthelperError(Exception):
    """Certhelper answered something we cannot use."""


class CerthelperTransientError(CerthelperError):
    """Certhelper could not be reached, timed out, or answered 429/5xx."""


@dataclass(frozen=True, slots=True)
class OmsRow:
    """One `data[]` element of an OMS page: its attributes and the units OMS
    declared for them on this row (`meta.row.<attr>.units`)."""

    attributes: dict[str, Any]
    units: dict[str, str] = field(default_factory=dict)


def _units_of(item: dict[str, Any]) -> dict[str, str]:
    meta = item.get("meta")
    row_meta = meta.get("row") if isinstance(meta, dict) else None
    if not isinstance(row_meta, dict):
        return {}
    units: dict[str, str] = {}
    for attr, info in row_meta.items():
        if isinstance(info, dict) and info.get("units") is not None:
            units[attr] = str(info["units"])
    return units


class OmsClient(TokenClient):
    """The OMS aggregation API. One instance per process; not shared across threads
    for paging (the rate limiter and token cache are thread-safe)."""

    service = TokenService(
        name="OMS",
        settings_prefix="OMS",
        audience_setting="OMS_API_AUDIENCE",
        error=OmsError,
        refused_statuses=(401,),
        token_margin_s=TOKEN_EXPIRY_MARGIN_S,
        token_what="OMS token",
    )

    def __init__(
        self,
        *,
        api_version: str = "v1",
        max_requests_per_s: float | None = 2.0,
        max_retries: int = 4,
        clock: Callable[[], float] = time.monotonic,
        **options: Any,
    ) -> None:
        """`options`: the account (api_url, token_url, client_id, client_secret, audience,
        all required) and what goes to ingestion.http.Transport (timeout_s, verify,
        backoff_base_s, backoff_cap_s, session, sleep)."""
        account, transport_options = split_account(options)
        # Only OMS's client ever waited for what a 429/5xx's Retry-After asks; it still does.
        transport = Transport(
            service="OMS",
            transient_error=OmsTransientError,
            honour_retry_after=True,
            max_requests_per_s=max_requests_per_s,
            max_retries=max_retries,
            clock=clock,
            **transport_options,
        )
        super().__init__(**account, transport=transport, clock=clock)
        self.base_url = f"{self.api_url}/{api_version.strip('/')}"

    def __repr__(self) -> str:  # never show the secret or the token
        return f"OmsClient(base_url={self.base_url!r}, client_id={self.client_id!r})"

    @classmethod
    def own_settings(cls) -> dict[str, Any]:
        return {
            "api_version": settings.OMS_API_VERSION,
            "max_requests_per_s": settings.OMS_MAX_REQUESTS_PER_S or None,
            "max_retries": settings.OMS_MAX_RETRIES,
        }

    # --- transport ----------------------------------------------------

    def _get_json(self, resource: str, params: dict[str, Any]) -> dict[str, Any]:
        what = f"OMS {resource}"
        url = f"{self.base_url}/{resource}/"
        response = self.authorised.send("GET", url, what=what, headers={"Accept": "application/json"}, params=params)
        require_200(response, what=what, error=OmsError)
        page = json_of(response, what=what, error=OmsError)
        if not isinstance(page, dict) or not isinstance(page.get("data"), list):
            raise OmsError(f"{what}: the answer has no data list")
        return page

    # --- resources ---------------------------------------------------------------

    def iter_pages(
        self,
        resource: str,
        *,
        filters: dict[tuple[str, str], Any] | None = None,
        fields: tuple[str, ...] = (),
        sort: str = "",
        page_size: int = 1000,
    ) -> Iterator[list[OmsRow]]:
        """The rows of a query, one page at a time.

        Stops when a page is short and the total is reached. A short page before
        the announced total is a page that ended early: it is fetched again, and
        if OMS keeps sending it short the query fails rather than silently
        losing rows.
        """
        params: dict[str, Any] = {}
        for (attr, op), value in (filters or {}).items():
            params[f"filter[{attr}][{op}]"] = _filter_value(value)
        if fields:
            params["fields"] = ",".join(fields)
        if sort:
            params["sort"] = sort
        offset = 0
        short_retries = 0
        while True:
            page_params = {**params, "page[offset]": offset, "page[limit]": page_size}
            page = self._get_json(resource, page_params)
            data = page["data"]
            total = _total_of(page)
            if len(data) < page_size and total is not None and offset + len(data) < total:
                if short_retries >= self.transport.max_retries:
                    raise OmsTransientError(
                        f"OMS {resource}: page at offset {offset} ended early "
                        f"({len(data)} rows where {total - offset} were announced)"
                    )
                logger.warning(
                    "OMS %s: page at offset %d ended early (%d of %d rows); fetching it again",
                    resource,
                    offset,
                    len(data),
                    min(page_size, total - offset),
                )
                self.transport.sleep(self.transport.backoff(short_retries))
                short_retries += 1
                continue
            short_retries = 0
            rows = []
            for item in data:
                attributes = item.get("attributes") if isinstance(item, dict) else None
                if not isinstance(attributes, dict):
                    raise OmsError(f"OMS {resource}: a row at offset {offset} has no attributes")
                rows.append(OmsRow(attributes=attributes, units=_units_of(item)))
            if rows:
                yield rows
            offset += len(data)
            if len(data) < page_size or (total is not None and offset >= total):
                return

    def runs(
        self,
        *,
        run_from: int | None = None,
        run_to: int | None = None,
        fields: tuple[str, ...] = RUN_FIELDS,
        page_size: int = RUNS_PAGE_SIZE,
    ) -> Iterator[OmsRow]:
        """Runs in [run_from, run_to], oldest first."""
        return self._numbered_rows("runs", "run_number", run_from, run_to, fields=fields, page_size=page_size)

    def newest_run_number(self) -> int | None:
        """The highest run number OMS knows, or None."""
        for page in self.iter_pages("runs", fields=("run_number",), sort="-run_number", page_size=1):
            try:
                # Bounds too: a bogus huge number would become millions of sync chunks.
                return to_required_int(page[0].attributes.get("run_number"), "run_number")
            except RowInvalid as exc:
                raise OmsError(f"OMS runs: the newest run has no usable number ({exc})") from None
        return None

    def fills(
        self,
        *,
        fill_from: int | None = None,
        fill_to: int | None = None,
        fields: tuple[str, ...] = FILL_FIELDS,
        page_size: int = FILLS_PAGE_SIZE,
    ) -> Iterator[OmsRow]:
        """Fills in [fill_from, fill_to], oldest first."""
        return self._numbered_rows("fills", "fill_number", fill_from, fill_to, fields=fields, page_size=page_size)

    def _numbered_rows(
        self, resource: str, key: str, low: int | None, high: int | None, *, fields: tuple[str, ...], page_size: int
    ) -> Iterator[OmsRow]:
        # Runs and fills are both numbered in time order: a range of that number,
        # sorted by it, is the rows of a time window, oldest first.
        filters = _number_range(key, low, high)
        for page in self.iter_pages(resource, filters=filters, fields=fields, sort=key, page_size=page_size):
            yield from page

    def lumisections(
        self,
        run_number: int,
        *,
        fields: tuple[str, ...] = LUMISECTION_FIELDS,
        page_size: int = LUMISECTIONS_PAGE_SIZE,
    ) -> Iterator[OmsRow]:
        """The lumisections of one run, in order."""
        for page in self.iter_pages(
            "lumisections",
            filters={("run_number", "EQ"): run_number},
            fields=fields,
            sort="lumisection_number",
            page_size=page_size,
        ):
            yield from page


class CerthelperClient:
    """Certhelper's `allRunsRefRuns` export: every (run, reference) pair at once."""

    def __init__(
        self,
        *,
        url: str,
        timeout_s: float = 60.0,
        verify: bool | str = True,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.verify = verify
        self.session = session or requests.Session()

    @classmethod
    def from_settings(cls, **overrides: Any) -> CerthelperClient:
        options: dict[str, Any] = {
            "url": settings.CERTHELPER_URL,
            "timeout_s": settings.CERTHELPER_TIMEOUT_S,
            "verify": settings.CERTHELPER_CA_BUNDLE,
        }
        options.update(overrides)
        return cls(**options)

    def reference_pairs(self) -> list[dict[str, Any]]:
        """One GET, no retry here: each call loads Certhelper's database, so a
        retry is a later, separately allowed sync."""
        try:
            response = self.session.get(
                self.url, timeout=self.timeout_s, verify=self.verify, headers={"Accept": "application/json"}
            )
            status = response.status_code
            if status == 429 or status >= 500:
                raise CerthelperTransientError(f"Certhelper {self.url}: HTTP {status}")
            if status != 200:
                raise CerthelperError(f"Certhelper {self.url}: HTTP {status}")
            body = response.json()
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise CerthelperTransientError(f"Certhelper {self.url}: {type(exc).__name__}") from None
        except (ValueError, RecursionError):  # RecursionError: arrays nested deeper than the decoder goes
            raise CerthelperError(f"Certhelper {self.url}: the answer is not JSON") from None
        if not isinstance(body, list):
            raise CerthelperError(f"Certhelper {self.url}: expected a JSON array of pairs")
        return body


def _number_range(attribute: str, low: int | None, high: int | None) -> dict[tuple[str, str], Any]:
    """OMS filters for low <= attribute <= high (either end open when None)."""
    filters: dict[tuple[str, str], Any] = {}
    if low is not None:
        filters[(attribute, "GE")] = low
    if high is not None:
        filters[(attribute, "LE")] = high
    return filters


def _filter_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _total_of(page: dict[str, Any]) -> int | None:
    meta = page.get("meta")
    total = meta.get("totalResourceCount") if isinstance(meta, dict) else None
    try:
        return int(total) if total is not None else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None
