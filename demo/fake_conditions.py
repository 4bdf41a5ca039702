"""Local doubles of the conditions services, served by `manage.py fake_oms` beside OMS.

They speak the HTTP the real clients send (ingestion.conditions_clients):

    GET /apv/getReadOutmode.pl?RUN=<run>       the APV-mode CGI: [["<run>","DECO"]], or [] when unknown
    GET /dials/api/v1/th1/?me=...&run_number__gte=...&run_number__lte=...&page_size=N[&next_token=T]
                                               DIALS per-lumisection 1D histograms, paged by next_token;
                                               needs `Authorization: Bearer <token>` from fake_oms's
                                               token endpoint (any client id and secret)
    GET /dials/api/v1/run/?run_number__gte=...&run_number__lte=...&dataset__regex=...&page_size=N[&next_token=T]
                                               DIALS's run list: each run's DQMIO datasets, paged alike

so APV_MODE_URL=http://127.0.0.1:P/apv/getReadOutmode.pl, DIALS_API_URL=http://127.0.0.1:P/dials/api/v1
and DIALS_TOKEN_URL=<fake_oms's token URL> point RefRun at them.

What they serve: with `--data DIR`, the shared files (APV modes 2016-2021 from
apv_mode_runs_2016_2021.csv; PV means 2015-2018 from pv_mean_per_run_2015_2018.csv.gz,
each (run, stream) row as one DQMIO dataset); otherwise the simulation's values in
RefRun's database (each run's apv_mode and pv_mean, and for a run with an era its
express and prompt DQMIO datasets; no shared file lists DQMIO names per run, so with
`--data` the run list is empty). A PV mean becomes one
histogram of the PV multiplicity per lumisection (bins of one vertex from -0.5):
lumisections in pairs with 800 and 1200 entries and means 10% above and a
compensating amount below the run's value, so the entries-weighted mean over the
run is the value itself.

Faults come from fake_oms's `POST /_faults` with "resource": "apv" or "dials":
error_500 / error_429 / slow (transport), reject_tokens (DIALS 401, APV 403),
malformed_row (a garbled APV body; a DIALS histogram without its data, a run-list row
without its dataset), short_page (a DIALS histogram with fewer bins than it
announces), cut_body (the connection closes mid-body).
"""

from __future__ import annotations

import csv
import json
import math
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

if TYPE_CHECKING:
    from demo.fake_oms import FakeOmsData, FakeOmsHandler

APV_PREFIX = "/apv/"
APV_PATH = "/apv/getReadOutmode.pl"
DIALS_PREFIX = "/dials/"
DIALS_API = "/dials/api/v1"
PREFIXES = (APV_PREFIX, DIALS_PREFIX)

PV_ME = "OfflinePV/offlinePrimaryVertices/vtxNbr"
PV_BINS = 100  # one bin per vertex count, centred on 0, 1, ..., 99
PV_X_MIN = -0.5
# Histograms per run: the run's lumisections, at most this many (a double, not a DQM archive).
MAX_LUMISECTIONS = 300
DEFAULT_LUMISECTIONS = 10
DIALS_DEFAULT_PAGE_SIZE = 50
DIALS_MAX_PAGE_SIZE = 1000

APV_FILE = "apv_mode_runs_2016_2021.csv"
PV_FILE = "pv_mean_per_run_2015_2018.csv.gz"


@dataclass
class ConditionsData:
    apv_modes: dict[int, str] = field(default_factory=dict)
    # run -> DQMIO dataset -> mean vertices per event
    pv_means: dict[int, dict[str, float]] = field(default_factory=dict)
    lumisections: dict[int, int] = field(default_factory=dict)
    # run -> the DQMIO datasets DIALS's run list gives it
    dqmio_datasets: dict[int, list[str]] = field(default_factory=dict)
    me: str = PV_ME

    @classmethod
    def from_dumps(cls, directory: Path, oms: FakeOmsData) -> ConditionsData:
        data = cls(lumisections=_lumisection_counts(oms))
        apv = directory / APV_FILE
        if apv.exists():
            with apv.open(encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    mode = (row.get("apv_mode") or "").strip().upper()
                    if mode in {"DECO", "PEAK"}:
                        data.apv_modes.setdefault(int(row["run_number"]), mode)
        pv = directory / PV_FILE
        if pv.exists():
            import gzip

            with gzip.open(pv, "rt", encoding="utf-8", newline="") as handle:
                for row in csv.DictReader(handle):
                    try:
                        run_number, value = int(row["run_number"]), float(row["pv_mean"])
                    except (KeyError, TypeError, ValueError):
                        continue
                    era = (oms.runs.get(run_number) or {}).get("era") or f"Run{row.get('year', '')}"
                    dataset = _dataset(row.get("stream") or "", era)
                    data.pv_means.setdefault(run_number, {}).setdefault(dataset, value)
        return data

    @classmethod
    def from_oms_data(cls, oms: FakeOmsData) -> ConditionsData:
        """The values the runs carry (the demo's database: the simulation's)."""
        data = cls(lumisections=_lumisection_counts(oms))
        for number, run in oms.runs.items():
            if run.get("apv_mode") in {"DECO", "PEAK"}:
                data.apv_modes[number] = run["apv_mode"]
            if isinstance(run.get("pv_mean"), int | float):
                data.pv_means[number] = {_dataset("PromptReco/ZeroBias", run.get("era") or ""): float(run["pv_mean"])}
            if run.get("era"):
                data.dqmio_datasets[number] = _simulated_dqmio(run)
        return data

    def lumisections_of(self, run_number: int) -> int:
        return max(1, min(self.lumisections.get(run_number) or DEFAULT_LUMISECTIONS, MAX_LUMISECTIONS))


def _lumisection_counts(oms: FakeOmsData) -> dict[int, int]:
    counts = {n: len(rows) for n, rows in oms.lumisections.items()}
    for number, run in oms.runs.items():
        if number not in counts and isinstance(run.get("last_lumisection_number"), int):
            counts[number] = run["last_lumisection_number"]
    return counts


def _dataset(stream: str, era: str) -> str:
    era = era or "Run"
    if "Express" in stream:
        return f"/StreamExpress/{era}-Express-v1/DQMIO"
    return f"/ZeroBias/{era}-PromptReco-v1/DQMIO"


def _simulated_dqmio(run: dict[str, Any]) -> list[str]:
    """The express and prompt DQMIO datasets the Tier-0 would write for a simulated run
    (version 2 of each, so a name from DIALS differs from the era rule's v1)."""
    era = str(run["era"])
    era = f"Run{era}" if era[:1].isdigit() else era
    if run.get("run_class") == "cosmics" or "cosmic" in str(run.get("l1_hlt_mode") or "").lower():
        return [f"/Cosmics/{era}-PromptReco-v2/DQMIO", f"/StreamExpressCosmics/{era}-Express-v2/DQMIO"]
    return [f"/StreamExpress/{era}-Express-v2/DQMIO", f"/ZeroBias/{era}-PromptReco-v2/DQMIO"]


def ls_histogram(mean: float, index: int, count: int) -> tuple[float, int]:
    """(mean, entries) of lumisection `index` of `count`: pairs of 800 and 1200
    entries whose weighted mean is `mean`; an odd last one has the mean itself."""
    if index == count - 1 and count % 2 == 1:
        return mean, 1000
    spread = min(0.1 * mean, PV_BINS - 2 - mean)
    if index % 2 == 0:
        return mean + spread, 800
    return mean - spread * 800 / 1200, 1200


def histogram_data(mean: float, entries: int) -> list[float]:
    """Bin contents with `entries` in total and exactly that mean over bin centres."""
    data = [0.0] * PV_BINS
    low = min(max(math.floor(mean), 0), PV_BINS - 2)
    fraction = mean - low
    data[low] = entries * (1 - fraction)
    data[low + 1] = entries * fraction
    return data


# --- serving -------------------------------------------------------------------------


def conditions_of(handler: FakeOmsHandler) -> ConditionsData:
    data = handler.server.data
    if data.conditions is None:
        data.conditions = ConditionsData.from_oms_data(data)
    return data.conditions


def handle(handler: FakeOmsHandler, path: str, query: str) -> None:
    """Answer a GET under /apv/ or /dials/ (fake_oms's dispatch)."""
    params = parse_qs(query, keep_blank_values=True)
    if path == APV_PATH:
        _apv(handler, params)
    elif path.rstrip("/") == f"{DIALS_API}/th1":
        _dials_th1(handler, params)
    elif path.rstrip("/") == f"{DIALS_API}/run":
        _dials_run(handler, params)
    else:
        handler._send_json(404, {"detail": f"no such path {path}"})


def _send_text(handler: FakeOmsHandler, status: int, text: str, *, cut: bool = False) -> None:
    payload = text.encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "text/plain; charset=utf-8")
    handler.send_header("Content-Length", str(len(payload)))
    if cut:
        handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(payload[: len(payload) // 2] if cut else payload)
    if cut:
        handler.wfile.flush()
        handler.close_connection = True


def _apv(handler: FakeOmsHandler, params: dict[str, list[str]]) -> None:
    server = handler.server
    server.count("apv")
    try:
        run_number = int(params.get("RUN", [""])[-1])
    except ValueError:
        _send_text(handler, 200, "[]")
        return
    if handler._transport_fault("apv", run_number):
        return
    faults = server.faults
    if faults.take({"reject_tokens"}, resource="apv", run_number=run_number):
        _send_text(handler, 403, "Forbidden")
        return
    if faults.take({"malformed_row"}, resource="apv", run_number=run_number):
        _send_text(handler, 200, f'<html>Software error: [["{run_number}", </html>')
        return
    mode = conditions_of(handler).apv_modes.get(run_number)
    body = json.dumps([[f"{run_number:06d}", mode]]) if mode else "[]"
    cut = faults.take({"cut_body"}, resource="apv", run_number=run_number) is not None
    _send_text(handler, 200, body, cut=cut)


def _int_param(params: dict[str, list[str]], name: str) -> int | None:
    value = params.get(name, [""])[-1]
    return int(value) if value not in ("", None) else None


@dataclass(frozen=True, slots=True)
class _DialsQuery:
    """What every DIALS list reads from its query: the run-number filters and the page."""

    run_eq: int | None
    run_min: int | None
    run_max: int | None
    page_size: int
    offset: int
    dataset_pattern: re.Pattern[str]

    def wants(self, run_number: int) -> bool:
        return (
            (self.run_eq is None or run_number == self.run_eq)
            and (self.run_min is None or run_number >= self.run_min)
            and (self.run_max is None or run_number <= self.run_max)
        )


def _dials_query(handler: FakeOmsHandler, params: dict[str, list[str]]) -> _DialsQuery | None:
    """The query of a DIALS list, after what every list answers first: 401 without a
    token, 400 for a query it cannot read, then any armed transport fault. None when
    that answer is sent already."""
    handler.server.count("dials")
    if not handler._authorised("dials"):
        handler._send_json(401, {"detail": "Authentication credentials were not provided or are invalid."})
        return None
    try:
        token = params.get("next_token", [""])[-1]
        query = _DialsQuery(
            run_eq=_int_param(params, "run_number"),
            run_min=_int_param(params, "run_number__gte"),
            run_max=_int_param(params, "run_number__lte"),
            page_size=min(_int_param(params, "page_size") or DIALS_DEFAULT_PAGE_SIZE, DIALS_MAX_PAGE_SIZE),
            offset=int(token[1:]) if token else 0,
            dataset_pattern=re.compile(params.get("dataset__regex", [""])[-1]),
        )
    except (ValueError, re.error) as exc:
        handler._send_json(400, {"detail": str(exc)})
        return None
    if query.page_size < 1 or query.offset < 0:
        handler._send_json(400, {"detail": "page_size must be >= 1"})
        return None
    if handler._transport_fault("dials", query.run_eq):
        return None
    return query


def _send_dials_page(
    handler: FakeOmsHandler,
    params: dict[str, list[str]],
    query: _DialsQuery,
    rows: list[Any],
    *,
    path: str,
    render: Callable[[Any], dict[str, Any]],
    damage: Callable[[list[dict[str, Any]]], None],
) -> None:
    """The page of `rows` the query asks for, each row rendered, as DIALS pages: `next`
    is the same query with the next page's `next_token`. `damage` applies the armed
    faults of this list to a page that is not empty."""
    page = rows[query.offset : query.offset + query.page_size]
    results = [render(row) for row in page]
    if results:
        damage(results)
    next_url = None
    if query.offset + len(page) < len(rows):
        next_query = {k: v[-1] for k, v in params.items() if k != "next_token"}
        next_query["next_token"] = f"o{query.offset + len(page)}"
        next_url = f"http://{handler.headers.get('Host', 'localhost')}{DIALS_API}/{path}?{urlencode(next_query)}"
    cut = handler.server.faults.take({"cut_body"}, resource="dials", run_number=query.run_eq) is not None
    handler._send_json(200, {"next": next_url, "previous": None, "results": results}, cut=cut)


def _dials_th1(handler: FakeOmsHandler, params: dict[str, list[str]]) -> None:
    query = _dials_query(handler, params)
    if query is None:
        return
    conditions = conditions_of(handler)
    me = params.get("me", [""])[-1]
    dataset = params.get("dataset", [""])[-1]
    keys: list[tuple[int, str, int]] = []
    if not me or me == conditions.me:
        for number in sorted(conditions.pv_means):
            if not query.wants(number):
                continue
            for name in sorted(conditions.pv_means[number]):
                if dataset and name != dataset:
                    continue
                keys.extend((number, name, ls) for ls in range(conditions.lumisections_of(number)))

    def damage(results: list[dict[str, Any]]) -> None:
        faults = handler.server.faults
        if faults.take({"malformed_row"}, resource="dials", run_number=query.run_eq):
            del results[len(results) // 2]["data"]
        if faults.take({"short_page"}, resource="dials", run_number=query.run_eq):
            results[-1]["data"] = results[-1]["data"][: PV_BINS // 2]

    def render(key: tuple[int, str, int]) -> dict[str, Any]:
        return _th1(conditions, *key)

    _send_dials_page(handler, params, query, keys, path="th1/", render=render, damage=damage)


def _dials_run(handler: FakeOmsHandler, params: dict[str, list[str]]) -> None:
    """DIALS's run list: a row per (run, DQMIO dataset), filtered by run number and
    `dataset__regex`, paged by next_token as th1/ is."""
    query = _dials_query(handler, params)
    if query is None:
        return
    conditions = conditions_of(handler)
    rows = [
        {
            "dataset_id": zlib.crc32(name.encode()) % 100000,
            "dataset": name,
            "run_number": number,
            "ls_count": conditions.lumisections_of(number),
            "ls_completeness": 1.0,
        }
        for number in sorted(conditions.dqmio_datasets)
        if query.wants(number)
        for name in conditions.dqmio_datasets[number]
        if query.dataset_pattern.search(name)
    ]

    def damage(results: list[dict[str, Any]]) -> None:
        if handler.server.faults.take({"malformed_row"}, resource="dials", run_number=query.run_eq):
            del results[len(results) // 2]["dataset"]

    _send_dials_page(handler, params, query, rows, path="run/", render=dict, damage=damage)


def _th1(conditions: ConditionsData, run_number: int, dataset: str, index: int) -> dict[str, Any]:
    mean, entries = ls_histogram(
        conditions.pv_means[run_number][dataset], index, conditions.lumisections_of(run_number)
    )
    return {
        "dataset": dataset,
        "me": conditions.me,
        "dataset_id": zlib.crc32(dataset.encode()) % 100000,
        "file_id": run_number,
        "run_number": run_number,
        "ls_number": index + 1,
        "me_id": 1,
        "x_min": PV_X_MIN,
        "x_max": PV_X_MIN + PV_BINS,
        "x_bin": PV_BINS,
        "entries": entries,
        "data": histogram_data(mean, entries),
    }


def path_matches(path: str) -> bool:
    return path.startswith(PREFIXES)


def urls(base: str) -> dict[str, str]:
    """The settings that point RefRun at these doubles on `base`."""
    return {"APV_MODE_URL": f"{base}{APV_PATH}", "DIALS_API_URL": f"{base}{DIALS_API}"}
