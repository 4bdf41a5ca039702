"""A local stand-in for the CMS Run Registry, served by fake_oms under /runregistry/api.

It answers what ingestion.runregistry_client (the `runregistry` client's requests) sends:

    POST /runregistry/api/datasets_filtered_ordered
         {"page": 0, "filter": {"run_number": {"and": [{">=": A}, {"<=": B}]}},
          "page_size": 50, "sortings": [["run_number", "ASC"]]}
         -> {"datasets": [...], "pages": P, "count": C}
    POST /runregistry/api/lumisections/rr_lumisection_ranges_by_component
         {"run_number": N, "dataset_name": "/PromptReco/Collisions2018A/DQM"}
         -> {"tracker-pixel": [{"start": 1, "end": 88, "status": "GOOD"}, ...], ...}

with a Bearer token from fake_oms's token endpoint. Faults armed on fake_oms's /_faults
with "resource": "runregistry" hit these: error_500, slow, reject_tokens, malformed_row
(a dataset without its run number), short_page (fewer datasets than announced), cut_body.

What it serves: with --data, 2018 from the certification masks (a run in the tracker
mask: GOOD over its ranges, BAD elsewhere; in the DCS-only mask but not the tracker
mask: BAD), every dataset COMPLETED; without, the demo's runs from RefRun's database,
the last few days' datasets OPEN as on a real shift.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .fake_oms import FakeOmsHandler

RUNREGISTRY_PREFIX = "/runregistry/api"
RESOURCE = "runregistry"
TRACKER = ("tracker-pixel", "tracker-strip", "tracker-track")
STATUSES = ("GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET", "EMPTY")
MAX_PAGE_SIZE = 500
# Demo pace: express is certified within ~2 days, prompt (48 h later) within ~4.
EXPRESS_OPEN_DAYS = 2
PROMPT_DELAY_DAYS = 2
PROMPT_OPEN_DAYS = 4


@dataclass
class RrDataset:
    run_number: int
    name: str
    state: str
    run_class: str = ""
    significant: bool = True
    # Per tracker component: [(start, end, status), ...]
    ranges: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)

    def triplet_summary(self) -> dict[str, dict[str, int]]:
        summary = {}
        for component, spans in self.ranges.items():
            counts = dict.fromkeys(STATUSES, 0)
            for start, end, status in spans:
                counts[status] += end - start + 1
            summary[component] = counts
        return summary

    def as_json(self) -> dict[str, Any]:
        return {
            "run_number": self.run_number,
            "name": self.name,
            "dataset_attributes": {"global_state": self.state, "tracker_state": self.state},
            "Run": {
                "run_number": self.run_number,
                "rr_attributes": {"class": self.run_class, "significant": self.significant, "state": "SIGNOFF"},
            },
            "DatasetTripletCache": {"triplet_summary": self.triplet_summary()},
        }


@dataclass
class FakeRunRegistryData:
    datasets: dict[tuple[int, str], RrDataset] = field(default_factory=dict)

    def add(self, dataset: RrDataset) -> None:
        self.datasets[(dataset.run_number, dataset.name)] = dataset

    @classmethod
    def from_masks(cls, directory: Path, runs: dict[int, dict[str, Any]]) -> FakeRunRegistryData:
        """2018 from the tracker and DCS-only masks; `runs` (OMS attributes) give eras and last LS."""
        data = cls()
        tracker = _mask(directory / "certification_json_trk_promptreco_2018.json")
        dcs = _mask(directory / "certification_json_dcsonly_2018.json")
        for run_number in sorted(set(tracker) | set(dcs)):
            oms = runs.get(run_number) or {}
            spans = tracker.get(run_number) or dcs[run_number]
            last = max([end for _, end in spans] + [int(oms.get("last_lumisection_number") or 0)])
            if run_number in tracker:
                ranges = _good_and_bad(tracker[run_number], last)
            else:
                ranges = [(1, last, "BAD")]
            era = str(oms.get("era") or "Run2018A")
            letter = era[-1] if era[-1:].isalpha() else "A"
            cosmic = "cosmic" in str(oms.get("l1_hlt_mode") or "").lower()
            kind = "Cosmics" if cosmic else "Collisions"
            run_class = f"{kind}18"
            data.add(RrDataset(run_number, "online", "COMPLETED", run_class, True, {}))
            data.add(
                RrDataset(
                    run_number,
                    f"/PromptReco/{kind}2018{letter}/DQM",
                    "COMPLETED",
                    run_class,
                    True,
                    dict.fromkeys(TRACKER, ranges),
                )
            )
        return data

    @classmethod
    def from_database(cls) -> FakeRunRegistryData:
        """The demo's runs: express and prompt datasets, open for the last few days."""
        from ingestion.models import Run, RunClass
        from recommender.models import ReferencePair, RunReconstruction

        data = cls()
        runs = list(
            Run.objects.filter(
                run_class__in=[RunClass.COLLISIONS_PP, RunClass.HEAVY_ION, RunClass.COSMICS, RunClass.COMMISSIONING]
            ).values("id", "run_number", "start_time", "last_lumisection_number", "run_class", "era", "components")
        )
        starts = [r["start_time"] for r in runs if r["start_time"] is not None]
        if not starts:
            return data
        newest = max(starts)
        datasets = {
            (rr.run_id, rr.reconstruction): rr.dataset
            for rr in RunReconstruction.objects.exclude(dataset__in=("", "To Be Defined")).only(
                "run_id", "reconstruction", "dataset"
            )
        }
        labelled = set(
            ReferencePair.objects.values_list("run_reconstruction__run_id", "run_reconstruction__reconstruction")
        )
        for run in runs:
            components = run["components"] or []
            if "TRACKER" not in components and "PIXEL" not in components:
                continue
            last = int(run["last_lumisection_number"] or 0)
            age = newest - run["start_time"] if run["start_time"] else timedelta(days=365)
            year = run["start_time"].year if run["start_time"] else 2024
            kind = "Cosmics" if run["run_class"] == RunClass.COSMICS else "Collisions"
            run_class = f"{kind}{year % 100:02d}"
            significant = last >= 10
            ranges = _demo_ranges(run["run_number"], last)
            data.add(RrDataset(run["run_number"], "online", "COMPLETED", run_class, significant, {}))
            if not significant:
                continue
            for reco, open_days, delay in (
                ("express", EXPRESS_OPEN_DAYS, 0),
                ("prompt", PROMPT_OPEN_DAYS, PROMPT_DELAY_DAYS),
            ):
                if age < timedelta(days=delay):
                    continue  # prompt reconstruction has not run yet
                era_letter = (run["era"] or "A")[-1]
                default = (
                    f"/Express/{kind}{year}/DQM" if reco == "express" else f"/PromptReco/{kind}{year}{era_letter}/DQM"
                )
                name = datasets.get((run["id"], reco)) or default
                state = "OPEN" if age < timedelta(days=open_days) and (run["id"], reco) not in labelled else "COMPLETED"
                data.add(RrDataset(run["run_number"], name, state, run_class, significant, ranges))
        return data


def _mask(path: Path) -> dict[int, list[tuple[int, int]]]:
    if not path.exists():
        return {}
    with path.open() as handle:
        return {int(run): [(int(a), int(b)) for a, b in spans] for run, spans in json.load(handle).items()}


def _good_and_bad(good: list[tuple[int, int]], last: int) -> list[tuple[int, int, str]]:
    """GOOD over the mask's ranges, BAD over the gaps, up to the last lumisection."""
    out: list[tuple[int, int, str]] = []
    ls = 1
    for start, end in sorted(good):
        if start > ls:
            out.append((ls, start - 1, "BAD"))
        out.append((start, end, "GOOD"))
        ls = end + 1
    if ls <= last:
        out.append((ls, last, "BAD"))
    return out


def _demo_ranges(run_number: int, last: int) -> dict[str, list[tuple[int, int, str]]]:
    """Mostly GOOD; one run in twenty has bad pixels, one in fifty a bad end of run."""
    if last < 1:
        return {}
    roll = int(hashlib.sha256(str(run_number).encode()).hexdigest()[:8], 16) % 100
    good = [(1, last, "GOOD")]
    ranges = {key: list(good) for key in TRACKER}
    if roll < 5:
        ranges["tracker-pixel"] = [(1, last, "BAD")]
    elif roll < 7 and last > 4:
        cut = last - last // 4
        ranges = {key: [(1, cut, "GOOD"), (cut + 1, last, "BAD")] for key in TRACKER}
    return ranges


# --- HTTP -------------------------------------------------------------------------------


def runregistry_post(handler: FakeOmsHandler, path: str, body: bytes) -> None:
    """Answer a POST under RUNREGISTRY_PREFIX (path is what follows it)."""
    server = handler.server
    server.count(RESOURCE)
    if not handler._authorised(RESOURCE):
        handler._send_json(401, {"err": "invalid or expired token"})
        return
    if handler._transport_fault(RESOURCE):
        return
    try:
        request = json.loads(body or b"{}")
        if not isinstance(request, dict):
            raise ValueError("the body is not an object")
    except ValueError as exc:
        handler._send_json(400, {"err": str(exc)})
        return
    data: FakeRunRegistryData = server.data.runregistry
    cut = server.faults.take({"cut_body"}, resource=RESOURCE) is not None
    if path == "/datasets_filtered_ordered":
        try:
            answer = _datasets_page(data, request, server.faults)
        except (ValueError, TypeError) as exc:
            handler._send_json(400, {"err": str(exc)})
            return
        handler._send_json(200, answer, cut=cut)
    elif path == "/lumisections/rr_lumisection_ranges_by_component":
        dataset = data.datasets.get((request.get("run_number"), request.get("dataset_name")))
        ranges = dataset.ranges if dataset else {}
        answer = {c: [{"start": a, "end": b, "status": s} for a, b, s in spans] for c, spans in ranges.items()}
        handler._send_json(200, answer, cut=cut)
    else:
        handler._send_json(404, {"err": f"no such path {RUNREGISTRY_PREFIX}{path}"})


_OPS = {
    "=": lambda a, b: a == b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _run_matches(condition: Any, run_number: int) -> bool:
    """The Run Registry's filter on run_number: N, {"=": N}, {">=": A}, {"and": [...]}, {"or": [...]}."""
    if isinstance(condition, int):
        return run_number == condition
    if not isinstance(condition, dict):
        raise ValueError(f"bad run_number filter {condition!r}")
    for op, value in condition.items():
        if op == "and":
            if not all(_run_matches(c, run_number) for c in value):
                return False
        elif op == "or":
            if not any(_run_matches(c, run_number) for c in value):
                return False
        elif op in _OPS:
            if not _OPS[op](run_number, int(value)):
                return False
        else:
            raise ValueError(f"unknown operator {op!r}")
    return True


def _datasets_page(data: FakeRunRegistryData, request: dict[str, Any], faults: Any) -> dict[str, Any]:
    page = int(request.get("page", 0))
    page_size = int(request.get("page_size", 50))
    if page < 0 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page must be >= 0 and page_size 1..{MAX_PAGE_SIZE}")
    condition = (request.get("filter") or {}).get("run_number")
    rows = [d for d in data.datasets.values() if condition is None or _run_matches(condition, d.run_number)]
    rows.sort(key=lambda d: (d.run_number, d.name))
    for key, direction in reversed(request.get("sortings") or []):
        if key == "run_number" and str(direction).upper() == "DESC":
            rows.sort(key=lambda d: d.run_number, reverse=True)
    count = len(rows)
    items = [d.as_json() for d in rows[page * page_size : (page + 1) * page_size]]
    if items and faults.take({"short_page"}, resource=RESOURCE):
        items = items[: len(items) // 2]
    if items and faults.take({"malformed_row"}, resource=RESOURCE):
        del items[len(items) // 2]["run_number"]
    return {"datasets": items, "pages": -(-count // page_size), "count": count}
