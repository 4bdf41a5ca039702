"""A thin client of the CMS Run Registry on the endpoints the `runregistry` client uses.

Why not `runregistry` (PyPI, 3.1.2) itself: its configuration is module state set
at import time (`api_url` from ENVIRONMENT, `setup("local")` hard-codes
http://localhost:9500, `load_dotenv()` reads any .env in the working directory); it
asks cernrequests for a new SSO token before every page; its timeout is 600 s; it
prints filters to stdout; and it has no retries and no check of what a page holds.
None of that can be pointed at a local double per call or tested with a fault.
What it sends is kept exactly:

    POST {api}/datasets_filtered_ordered   {"page", "filter", "page_size", "sortings"}
         -> {"datasets": [...], "pages": P, "count": C}
         each dataset: run_number, name, dataset_attributes (global_state, tracker_state),
         Run.rr_attributes (class, significant, state), DatasetTripletCache.triplet_summary
         ({"tracker-pixel": {"GOOD": n, "BAD": m, ...}, ...})
    POST {api}/lumisections/rr_lumisection_ranges_by_component  {"run_number", "dataset_name"}
         -> {"tracker-pixel": [{"start": 1, "end": 88, "status": "GOOD"}, ...], ...}

with `Authorization: Bearer <token>` from a CERN SSO client-credentials token for the
RR SSO proxy (the `target_application` cernrequests asks for), `Content-type:
application/json`. Every call has a timeout and verifies TLS; connection errors,
timeouts and 5xx are retried a few times, then raise RunRegistryTransientError.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from .http import TokenClient, TokenService, Transport, json_of, require_200, split_account

logger = logging.getLogger(__name__)

DATASETS_PATH = "/datasets_filtered_ordered"
RANGES_PATH = "/lumisections/rr_lumisection_ranges_by_component"
PAGE_SIZE = 50
TOKEN_EXPIRY_MARGIN_S = 30.0
# Defaults, so a client built without credentials fails at its first call with a
# message naming the settings to set, rather than at its construction.
ACCOUNT_DEFAULTS = {"token_url": "", "client_id": "", "client_secret": "", "audience": "cmsrunregistry-sso-proxy"}


class RunRegistryError(Exception):
    """The Run Registry refused, or answered something RefRun cannot read."""


class RunRegistryTransientError(RunRegistryError):
    """Down, timing out or answering 5xx after the client's retries."""


class RunRegistryClient(TokenClient):
    service = TokenService(
        name="Run Registry",
        settings_prefix="RUNREGISTRY",
        audience_setting="RUNREGISTRY_AUDIENCE",
        error=RunRegistryError,
        token_margin_s=TOKEN_EXPIRY_MARGIN_S,
        token_what="Run Registry token",
    )

    def __init__(
        self,
        *,
        max_retries: int = 3,
        page_size: int = PAGE_SIZE,
        **options: Any,
    ) -> None:
        """`options`: the account (api_url, required; token_url, client_id,
        client_secret and audience, defaults in ACCOUNT_DEFAULTS) and what goes to
        ingestion.http.Transport (timeout_s, verify, backoff_base_s, session, sleep)."""
        account, transport_options = split_account(options)
        # As the Run Registry's own client: 5xx retried (a 429 is not), after 0.5, 1, 2 ... s.
        transport = Transport(
            service="Run Registry",
            transient_error=RunRegistryTransientError,
            max_retries=max_retries,
            retry_status=lambda status: status >= 500,
            jitter=False,
            **transport_options,
        )
        super().__init__(**{**ACCOUNT_DEFAULTS, **account}, transport=transport)
        self.page_size = page_size

    def refused_hint(self) -> str:
        return f"is client {self.client_id} authorised for the Run Registry?"

    @classmethod
    def own_settings(cls) -> dict[str, Any]:
        from django.conf import settings

        return {"max_retries": settings.RUNREGISTRY_MAX_RETRIES}

    # --- transport ----------------------------------------------------

    def _post_json(self, path: str, body: dict[str, Any], *, what: str) -> Any:
        url = f"{self.api_url}{path}"
        headers = {"Content-type": "application/json"}
        response = self.authorised.send("POST", url, what=what, headers=headers, data=json.dumps(body))
        require_200(response, what=what, error=RunRegistryError)
        answer = json_of(response, what=what, error=RunRegistryError)
        if isinstance(answer, dict) and "err" in answer:
            raise RunRegistryError(f"{what}: the Run Registry says {str(answer['err'])[:200]}")
        return answer

    # --- resources ---------------------------------------------------------------

    def dataset_pages(self, *, run_min: int, run_max: int) -> Iterator[list[dict[str, Any]]]:
        """The datasets of runs run_min..run_max, a page at a time, oldest run first.

        A page that is not a list of datasets, or that holds fewer than the page size
        before the last page, raises RunRegistryError (what came before it is yielded)."""
        run_filter = {"run_number": {"and": [{">=": run_min}, {"<=": run_max}]}}
        page = 0
        pages = 1
        while page < pages:
            body = {
                "page": page,
                "filter": run_filter,
                "page_size": self.page_size,
                "sortings": [["run_number", "ASC"]],
            }
            answer = self._post_json(DATASETS_PATH, body, what=f"Run Registry datasets page {page}")
            if not isinstance(answer, dict) or not isinstance(answer.get("datasets"), list):
                raise RunRegistryError(f"Run Registry datasets page {page}: no datasets list in the answer")
            try:
                pages = int(answer["pages"])
                count = int(answer["count"])
            except (KeyError, TypeError, ValueError):
                raise RunRegistryError(f"Run Registry datasets page {page}: no pages/count in the answer") from None
            rows = answer["datasets"]
            expected = min(self.page_size, max(count - page * self.page_size, 0))
            if len(rows) != expected:
                raise RunRegistryError(
                    f"Run Registry datasets page {page}: {len(rows)} datasets where {expected} were announced"
                )
            yield rows
            page += 1

    def lumisection_ranges(self, *, run_number: int, dataset_name: str) -> dict[str, list[dict[str, Any]]]:
        """Per component, its lumisection ranges with their status."""
        answer = self._post_json(
            RANGES_PATH,
            {"run_number": run_number, "dataset_name": dataset_name},
            what=f"Run Registry lumisection ranges of {run_number} {dataset_name}",
        )
        if not isinstance(answer, dict) or not all(isinstance(v, list) for v in answer.values()):
            raise RunRegistryError(f"Run Registry lumisection ranges of {run_number} {dataset_name}: not a mapping")
        return answer
