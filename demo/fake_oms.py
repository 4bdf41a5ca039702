"""A local stand-in for CMS OMS, its SSO token endpoint and Certhelper's export.

`python manage.py fake_oms --port P [--data DIR]` serves, in the real JSON shapes
(../shared/docs/oms_api.md §2, certhelper_api.md §1):

    POST /auth/realms/cern/api-access/token      client-credentials token
    POST /runregistry/api/...                    the Run Registry (demo.fake_runregistry)
    GET  /agg/api/v1/{runs,fills,lumisections}/  filter[...], fields, sort, page[...]
    GET  /certify/allRunsRefRuns/                every (run, reference) pair

so settings OMS_API_URL=http://127.0.0.1:P/agg/api,
OMS_TOKEN_URL=http://127.0.0.1:P/auth/realms/cern/api-access/token and
CERTHELPER_URL=http://127.0.0.1:P/certify/allRunsRefRuns/ point RefRun at it.

Data comes from RefRun's own database (the demo's runs) or from the shared dumps
(`--data ../shared/data`); tests build a `FakeOmsData` directly.

Faults are injected through `POST /_faults` with a JSON object, listed by
`GET /_faults` (with request counters) and cleared by `DELETE /_faults`:

    {"fault": "error_500", "count": 2}             next 2 API answers are HTTP 500
    {"fault": "error_429", "count": 1}             ... HTTP 429 with Retry-After: 0
    {"fault": "slow", "count": 1, "seconds": 3}    answer after 3 s (past a client timeout)
    {"fault": "expire_tokens"}                     tokens issued so far now get 401
    {"fault": "reject_tokens", "count": 2}         next 2 API calls get 401 whatever the token
    {"fault": "malformed_row", "count": 1}         one row of the next page is malformed
    {"fault": "unit_change", "count": 5}           next 5 pages use other (valid) lumi units
    {"fault": "unknown_unit", "count": 1}          a unit no converter knows
    {"fault": "short_page", "count": 1}            a page with fewer rows than announced
    {"fault": "cut_body", "count": 1}              the connection closes mid-body

The APV-mode and DIALS doubles (demo.fake_conditions) answer under /apv/ and
/dials/, the Run Registry double (demo.fake_runregistry) under /runregistry/api, with
the same faults for resources "apv", "dials" and "runregistry".

Each fault may carry "resource" (runs, fills, lumisections, certhelper, token, apv, dials,
runregistry) and, for lumisections, "run_number", to hit only those requests. Nothing
here is used in production.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from demo import fake_conditions
from demo.fake_runregistry import RUNREGISTRY_PREFIX, FakeRunRegistryData, runregistry_post
from ingestion.quantities import INSTANT_LUMI_UNIT, INTEGRATED_LUMI_UNIT, lumisection_flags

LUMISECTION_FLAGS = lumisection_flags()

logger = logging.getLogger(__name__)

API_PREFIX = "/agg/api/v1/"
TOKEN_PATH = "/auth/realms/cern/api-access/token"
CERTHELPER_PATH = "/certify/allRunsRefRuns/"
FAULTS_PATH = "/_faults"

INSTANT_ATTRS = ("init_lumi", "end_lumi", "peak_lumi")
INTEGRATED_ATTRS = ("delivered_lumi", "recorded_lumi")
# Valid units a "unit_change" fault switches to, with the factor applied to values.
CHANGED_INSTANT = ("10^{33}cm^{-2}s^{-1}", 10.0)
CHANGED_INTEGRATED = ("nb^{-1}", 1000.0)
FAULT_NAMES = frozenset(
    {
        "error_500",
        "error_429",
        "slow",
        "expire_tokens",
        "reject_tokens",
        "malformed_row",
        "unit_change",
        "unknown_unit",
        "short_page",
        "cut_body",
    }
)
OPS = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "LT": lambda a, b: a is not None and a < b,
    "GT": lambda a, b: a is not None and a > b,
    "LE": lambda a, b: a is not None and a <= b,
    "GE": lambda a, b: a is not None and a >= b,
    "LIKE": lambda a, b: a is not None and str(b).strip("%").lower() in str(a).lower(),
}


@dataclass
class FakeOmsData:
    """What the fake serves. Attribute dicts hold OMS attribute names; units are
    per resource and attribute, as `meta.row` reports them."""

    runs: dict[int, dict[str, Any]] = field(default_factory=dict)
    fills: dict[int, dict[str, Any]] = field(default_factory=dict)
    lumisections: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    certhelper_pairs: list[dict[str, Any]] = field(default_factory=list)
    run_units: dict[str, str] = field(default_factory=dict)
    fill_units: dict[str, str] = field(default_factory=dict)
    lumisection_units: dict[str, str] = field(default_factory=dict)
    # Per-row unit overrides (fills in the dumps carry their own unit columns).
    fill_row_units: dict[int, dict[str, str]] = field(default_factory=dict)
    # What the APV-mode and DIALS doubles serve; None: the runs' own values.
    conditions: fake_conditions.ConditionsData | None = None
    # The Run Registry double's datasets (demo.fake_runregistry).
    runregistry: FakeRunRegistryData = field(default_factory=FakeRunRegistryData)

    def __post_init__(self) -> None:
        canonical = {a: INSTANT_LUMI_UNIT for a in INSTANT_ATTRS} | {a: INTEGRATED_LUMI_UNIT for a in INTEGRATED_ATTRS}
        for units in (self.run_units, self.fill_units, self.lumisection_units):
            for attr, unit in canonical.items():
                units.setdefault(attr, unit)

    @property
    def lumisection_count(self) -> int:
        return sum(len(rows) for rows in self.lumisections.values())

    @classmethod
    def from_dumps(cls, directory: Path) -> FakeOmsData:
        """Load the shared CMS dumps (../shared/data). Files that are absent are skipped."""
        import pandas as pd

        data = cls()
        runs_all = directory / "oms_runs_2018_apr_may_all.csv.gz"
        runs_coll = directory / "oms_runs_2018_collisions.csv.gz"
        frames = [pd.read_csv(p) for p in (runs_all, runs_coll) if p.exists()]
        for frame in frames:
            for record in _records(frame):
                run_number = int(record["run_number"])
                merged = data.runs.setdefault(run_number, {})
                for key, value in record.items():
                    if merged.get(key) is None:
                        merged[key] = value
        for run in data.runs.values():
            _normalise_run(run)

        fills_path = directory / "oms_fills_2018.csv.gz"
        if fills_path.exists():
            for record in _records(pd.read_csv(fills_path)):
                fill_number = int(record["fill_number"])
                units = {k[: -len("_unit")]: v for k, v in record.items() if k.endswith("_unit") and v}
                attrs = {k: v for k, v in record.items() if not k.endswith("_unit")}
                for key in ("fill_number", "bunches_colliding", "bunches_target", "bunches_beam1", "bunches_beam2"):
                    if attrs.get(key) is not None:
                        attrs[key] = int(attrs[key])
                data.fills[fill_number] = attrs
                data.fill_row_units[fill_number] = units
        for run in data.runs.values():
            fill = data.fills.get(run.get("fill_number"))
            if fill and not run.get("era"):
                run["era"] = fill.get("era")

        ls_path = directory / "oms_lumisections_2018_apr_may.csv.gz"
        if ls_path.exists():
            data.lumisections = _lumisections_from_dump(pd.read_csv(ls_path))

        pairs_path = directory / "certhelper_pairs.csv.gz"
        if pairs_path.exists():
            data.certhelper_pairs = _records(pd.read_csv(pairs_path))
        data.conditions = fake_conditions.ConditionsData.from_dumps(directory, data)
        data.runregistry = FakeRunRegistryData.from_masks(directory, data.runs)
        return data

    @classmethod
    def from_database(cls) -> FakeOmsData:
        """Serve RefRun's own mirror (the demo's runs), in canonical units."""
        from ingestion.models import Fill, Lumisection, Run

        data = cls()
        for fill in Fill.objects.values():
            data.fills[fill["fill_number"]] = {
                k: _isoformat(v) for k, v in fill.items() if k not in {"id", "created_at", "updated_at"}
            }
        fill_numbers = dict(Fill.objects.values_list("id", "fill_number"))
        run_numbers: dict[int, int] = {}
        for run in Run.objects.values():
            run_numbers[run["id"]] = run["run_number"]
            attrs = {k: _isoformat(v) for k, v in run.items() if k not in _NOT_OMS_RUN_FIELDS}
            attrs["fill_number"] = fill_numbers.get(run["fill_id"])
            data.runs[run["run_number"]] = attrs
        for ls in Lumisection.objects.order_by("run_id", "number").values().iterator(chunk_size=5000):
            run_number = run_numbers[ls.pop("run_id")]
            ls.pop("id")
            ls["lumisection_number"] = ls.pop("number")
            ls["run_number"] = run_number
            ls["fill_number"] = data.runs[run_number].get("fill_number")
            data.lumisections.setdefault(run_number, []).append(ls)
        data.certhelper_pairs = _pairs_from_database()
        data.runregistry = FakeRunRegistryData.from_database()
        return data


# Run fields that are RefRun's or the Run Registry's, not OMS attributes.
_NOT_OMS_RUN_FIELDS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "fill_id",
        "sources",
        "run_class_source",
        "runregistry_class",
        "significant",
        "apv_mode_asked_at",
        "dqmio_datasets",
    }
)


def _pairs_from_database() -> list[dict[str, Any]]:
    # The demo app sits above both product apps: it reads the labels directly.
    from recommender.models import ReferencePair

    rows = ReferencePair.objects.filter(source="certhelper").values_list(
        "run_reconstruction__run__run_number",
        "run_reconstruction__reconstruction",
        "reference__run__run_number",
        "reference__reconstruction",
        "run_reconstruction__dataset",
    )
    return [
        {
            "run_number": run,
            "run_reconstruction_type": reco,
            "reference_run_number": ref,
            "reference_run_reconstruction_type": ref_reco,
            "dataset": dataset or None,
        }
        for run, reco, ref, ref_reco, dataset in rows
    ]


def _isoformat(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _records(frame: Any) -> list[dict[str, Any]]:
    """DataFrame rows as dicts with None for missing values and Python scalars."""
    out = []
    for record in frame.to_dict(orient="records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else _py(v)) for k, v in record.items()})
    return out


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _normalise_run(run: dict[str, Any]) -> None:
    for key in ("run_number", "fill_number", "last_lumisection_number", "initial_prescale_index"):
        if run.get(key) is not None:
            run[key] = int(run[key])
    if run.get("hlt_physics_counter") is not None:
        run["hlt_physics_counter"] = int(run["hlt_physics_counter"])
    components = run.get("components")
    run["components"] = components.split(";") if isinstance(components, str) and components else None
    if isinstance(run.get("stable_beam"), str):
        run["stable_beam"] = run["stable_beam"].lower() == "true"
    if run.get("duration") is None and run.get("start_time") and run.get("end_time"):
        from datetime import datetime

        start = datetime.fromisoformat(run["start_time"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(run["end_time"].replace("Z", "+00:00"))
        run["duration"] = int((end - start).total_seconds())
    if run.get("duration") is not None:
        run["duration"] = int(run["duration"])


def _lumisections_from_dump(frame: Any) -> dict[int, list[dict[str, Any]]]:
    """Per-LS delivered/recorded luminosity in the dump is already what OMS sends:
    cumulative since LS 1, in pb^-1 (oms_api.md §2.6)."""
    frame = frame.sort_values(["run_number", "lumisection_number"])
    by_run: dict[int, list[dict[str, Any]]] = {}
    for record in _records(frame):
        for flag in LUMISECTION_FLAGS:
            if record.get(flag) is not None:
                record[flag] = bool(record[flag])
        record["run_number"] = int(record["run_number"])
        record["lumisection_number"] = int(record["lumisection_number"])
        if record.get("fill_number") is not None:
            record["fill_number"] = int(record["fill_number"])
        by_run.setdefault(record["run_number"], []).append(record)
    return by_run


class Faults:
    """Armed faults, consumed by the requests they hit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[dict[str, Any]] = []
        self.expired_before = 0.0  # tokens issued before this are refused

    def arm(self, spec: dict[str, Any]) -> None:
        name = spec.get("fault")
        if name not in FAULT_NAMES:
            raise ValueError(f"unknown fault {name!r}; known: {sorted(FAULT_NAMES)}")
        if name == "expire_tokens":
            self.expired_before = time.time() + 1e-6
            return
        with self._lock:
            self._armed.append({"count": 1, **spec})

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
        self.expired_before = 0.0

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._armed]

    def take(self, names: set[str], *, resource: str, run_number: int | None = None) -> dict[str, Any] | None:
        """Consume one armed fault among `names` that targets this request."""
        with self._lock:
            for fault in self._armed:
                if fault["fault"] not in names:
                    continue
                if fault.get("resource") and fault["resource"] != resource:
                    continue
                if fault.get("run_number") is not None and fault["run_number"] != run_number:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self._armed.remove(fault)
                return dict(fault)
        return None


class FakeOmsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        data: FakeOmsData,
        *,
        token_ttl_s: int = 600,
        client_id: str = "",
        client_secret: str = "",
    ) -> None:
        super().__init__(address, FakeOmsHandler)
        self.data = data
        self.faults = Faults()
        self.token_ttl_s = token_ttl_s
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: dict[str, float] = {}  # token -> issued at
        self.counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, key: str) -> None:
        with self._counter_lock:
            self.counters[key] += 1

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="fake-oms", daemon=True)
        thread.start()
        return thread


class FakeOmsHandler(BaseHTTPRequestHandler):
    server: FakeOmsServer
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY each keep-alive
    # answer waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake_oms %s " + format, self.address_string(), *args)

    # --- plumbing -------------------------------------------------------------------

    def _send_json(self, status: int, body: Any, *, headers: dict[str, str] | None = None, cut: bool = False) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if cut:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut:
            # Announce the whole body, send half of it, hang up.
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    # --- verbs ----------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        if path == FAULTS_PATH:
            self._send_json(200, {"faults": self.server.faults.listing(), "counters": dict(self.server.counters)})
            return
        if path.rstrip("/") == CERTHELPER_PATH.rstrip("/"):
            self._certhelper()
            return
        if fake_conditions.path_matches(path):
            fake_conditions.handle(self, path, parts.query)
            return
        if path.startswith(API_PREFIX):
            resource = path[len(API_PREFIX) :].strip("/")
            if resource in {"runs", "fills", "lumisections"}:
                self._api(resource, parse_qs(parts.query, keep_blank_values=True))
                return
        self._send_json(404, {"errors": [{"detail": f"no such path {path}"}]})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        if path == FAULTS_PATH:
            try:
                spec = json.loads(body or b"{}")
                specs = spec if isinstance(spec, list) else [spec]
                for item in specs:
                    self.server.faults.arm(item)
            except (ValueError, TypeError, AttributeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"faults": self.server.faults.listing()})
            return
        if path == TOKEN_PATH:
            self._token(parse_qs(body.decode()))
            return
        if path.startswith(RUNREGISTRY_PREFIX):
            runregistry_post(self, path[len(RUNREGISTRY_PREFIX) :], body)
            return
        self._send_json(404, {"errors": [{"detail": f"no such path {path}"}]})

    def do_DELETE(self) -> None:
        if urlsplit(self.path).path == FAULTS_PATH:
            self.server.faults.clear()
            self._send_json(200, {"faults": []})
            return
        self._send_json(404, {"errors": [{"detail": "no such path"}]})

    # --- endpoints ------------------------------------------------------------------

    def _token(self, form: dict[str, list[str]]) -> None:
        server = self.server
        server.count("token")
        value = {k: v[0] for k, v in form.items()}
        if value.get("grant_type") != "client_credentials" or not value.get("client_id"):
            self._send_json(400, {"error": "invalid_request"})
            return
        if server.client_id and (
            value.get("client_id") != server.client_id or value.get("client_secret") != server.client_secret
        ):
            self._send_json(401, {"error": "unauthorized_client"})
            return
        if not value.get("client_secret"):
            self._send_json(401, {"error": "unauthorized_client"})
            return
        token = secrets.token_urlsafe(24)
        server.tokens[token] = time.time()
        self._send_json(200, {"access_token": token, "expires_in": server.token_ttl_s, "token_type": "Bearer"})

    def _authorised(self, resource: str) -> bool:
        server = self.server
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        issued = server.tokens.get(token)
        if issued is None or issued < server.faults.expired_before or time.time() - issued > server.token_ttl_s:
            return False
        return server.faults.take({"reject_tokens"}, resource=resource) is None

    def _transport_fault(self, resource: str, run_number: int | None = None) -> bool:
        """Apply an error/slow fault; True if the answer was already sent."""
        fault = self.server.faults.take({"error_500", "error_429", "slow"}, resource=resource, run_number=run_number)
        if fault is None:
            return False
        if fault["fault"] == "slow":
            time.sleep(float(fault.get("seconds", 5)))
            return False
        if fault["fault"] == "error_429":
            self._send_json(429, {"errors": [{"detail": "too many requests"}]}, headers={"Retry-After": "0"})
        else:
            self._send_json(500, {"errors": [{"detail": "injected failure"}]})
        return True

    def _certhelper(self) -> None:
        self.server.count("certhelper")
        if self._transport_fault("certhelper"):
            return
        cut = self.server.faults.take({"cut_body"}, resource="certhelper") is not None
        self._send_json(200, self.server.data.certhelper_pairs, cut=cut)

    def _api(self, resource: str, query: dict[str, list[str]]) -> None:
        server = self.server
        server.count(resource)
        if not self._authorised(resource):
            self._send_json(401, {"errors": [{"status": "401", "detail": "invalid or expired token"}]})
            return
        try:
            filters, fields, sort, offset, limit = _parse_query(query)
        except ValueError as exc:
            self._send_json(400, {"errors": [{"status": "400", "detail": str(exc)}]})
            return
        run_eq = next((v for (a, op), v in filters if a == "run_number" and op == "EQ"), None)
        if self._transport_fault(resource, run_eq):
            return
        rows = self._select(resource, filters)
        for key in reversed(sort):
            descending = key.startswith("-")
            attr = key.lstrip("-")
            rows.sort(key=lambda r, a=attr: (r.get(a) is None, r.get(a)), reverse=descending)
        total = len(rows)
        page_rows = rows[offset : offset + limit]
        faults = server.faults
        if page_rows and faults.take({"short_page"}, resource=resource, run_number=run_eq):
            page_rows = page_rows[: len(page_rows) // 2]
        unit_fault = faults.take({"unit_change", "unknown_unit"}, resource=resource, run_number=run_eq)
        malformed = faults.take({"malformed_row"}, resource=resource, run_number=run_eq) if page_rows else None
        items = [self._item(resource, row, fields, unit_fault) for row in page_rows]
        if malformed is not None:
            _break_row(resource, items[len(items) // 2])
        base = f"http://{self.headers.get('Host', 'localhost')}{API_PREFIX}{resource}/"
        next_offset = offset + len(page_rows)
        body = {
            "data": items,
            "links": {
                "self": f"{base}?page[offset]={offset}&page[limit]={limit}",
                "next": f"{base}?page[offset]={next_offset}&page[limit]={limit}" if next_offset < total else None,
                "prev": None,
            },
            "meta": {"totalResourceCount": total},
        }
        cut = faults.take({"cut_body"}, resource=resource, run_number=run_eq) is not None
        self._send_json(200, body, cut=cut)

    def _select(self, resource: str, filters: list[tuple[tuple[str, str], Any]]) -> list[dict[str, Any]]:
        data = self.server.data
        # Sorted afresh each time (a few thousand keys): tests add runs while serving.
        if resource == "runs":
            candidates = _range_select(sorted(data.runs), data.runs, "run_number", filters)
        elif resource == "fills":
            candidates = _range_select(sorted(data.fills), data.fills, "fill_number", filters)
        else:
            run_numbers = _range_keys(sorted(data.lumisections), "run_number", filters)
            candidates = [row for n in run_numbers for row in data.lumisections[n]]
        return [row for row in candidates if all(OPS[op](row.get(attr), value) for (attr, op), value in filters)]

    def _item(
        self, resource: str, row: dict[str, Any], fields: list[str], unit_fault: dict[str, Any] | None
    ) -> dict[str, Any]:
        data = self.server.data
        if resource == "runs":
            ident, units = str(row["run_number"]), data.run_units
        elif resource == "fills":
            ident = str(row["fill_number"])
            units = {**data.fill_units, **data.fill_row_units.get(row["fill_number"], {})}
        else:
            ident, units = f"{row['run_number']}_{row['lumisection_number']}", data.lumisection_units
        attributes = {f: row.get(f) for f in fields} if fields else dict(row)
        row_units = {a: u for a, u in units.items() if a in attributes}
        if unit_fault is not None:
            for attr in list(row_units):
                value = attributes.get(attr)
                if unit_fault["fault"] == "unknown_unit":
                    row_units[attr] = "furlongs^{-2}fortnight^{-1}"
                elif attr in INSTANT_ATTRS:
                    row_units[attr] = CHANGED_INSTANT[0]
                    attributes[attr] = None if value is None else value * CHANGED_INSTANT[1]
                elif attr in INTEGRATED_ATTRS:
                    row_units[attr] = CHANGED_INTEGRATED[0]
                    attributes[attr] = None if value is None else value * CHANGED_INTEGRATED[1]
        return {
            "id": ident,
            "type": resource,
            "attributes": attributes,
            "links": {"self": f"{API_PREFIX}{resource}/{ident}"},
            "meta": {"row": {a: {"units": u} for a, u in row_units.items()}},
        }


def _break_row(resource: str, item: dict[str, Any]) -> None:
    """Make one row invalid the way OMS has: a key attribute of the wrong type."""
    key = {"runs": "run_number", "fills": "fill_number"}.get(resource, "lumisection_number")
    item["attributes"][key] = "not-a-number"


def _parse_query(
    query: dict[str, list[str]],
) -> tuple[list[tuple[tuple[str, str], Any]], list[str], list[str], int, int]:
    filters: list[tuple[tuple[str, str], Any]] = []
    for key, values in query.items():
        if not key.startswith("filter["):
            continue
        parts = [p.rstrip("]") for p in key[len("filter[") :].split("[")]
        if len(parts) == 3:  # the resource-prefixed form OMS echoes in links
            parts = parts[1:]
        if len(parts) != 2 or parts[1].upper() not in OPS:
            raise ValueError(f"bad filter {key}")
        filters.append(((parts[0], parts[1].upper()), _coerce(values[-1])))
    fields = [f for f in (query.get("fields", [""])[-1]).split(",") if f]
    sort = [s for s in (query.get("sort", [""])[-1]).split(",") if s]
    offset = int(query.get("page[offset]", ["0"])[-1])
    limit = int(query.get("page[limit]", ["10"])[-1])
    if offset < 0 or limit < 1:
        raise ValueError("page[offset] must be >= 0 and page[limit] >= 1")
    return filters, fields, sort, offset, limit


def _coerce(value: str) -> Any:
    lowered = value.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered == "null":
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _range_keys(keys: list[int], attr: str, filters: list[tuple[tuple[str, str], Any]]) -> list[int]:
    """The sorted keys allowed by the EQ/GE/LE/GT/LT filters on `attr` (bisect, no scan)."""
    lo, hi = 0, len(keys)
    for (name, op), value in filters:
        if name != attr or not isinstance(value, int | float):
            continue
        if op in {"GE", "EQ"}:
            lo = max(lo, bisect.bisect_left(keys, value))
        if op == "GT":
            lo = max(lo, bisect.bisect_right(keys, value))
        if op in {"LE", "EQ"}:
            hi = min(hi, bisect.bisect_right(keys, value))
        if op == "LT":
            hi = min(hi, bisect.bisect_left(keys, value))
    return keys[lo:hi]


def _range_select(
    keys: list[int], rows: dict[int, dict[str, Any]], attr: str, filters: list[tuple[tuple[str, str], Any]]
) -> list[dict[str, Any]]:
    return [rows[k] for k in _range_keys(keys, attr, filters)]


def make_server(
    data: FakeOmsData, *, host: str = "127.0.0.1", port: int = 0, token_ttl_s: int = 600, **kwargs: Any
) -> FakeOmsServer:
    """A server bound to host:port (0 picks a free port); call serve_forever or start_in_thread."""
    return FakeOmsServer((host, port), data, token_ttl_s=token_ttl_s, **kwargs)
