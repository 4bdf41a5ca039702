"""Tracker certification and run state from the Run Registry.

Per run: the Run Registry's class and `significant` (on `Run`). Per run and offline
dataset (`TrackerCertification`, natural key run + dataset name): the dataset's
state in the tracker workspace (OPEN, SIGNOFF, COMPLETED), the tracker-pixel,
tracker-strip and tracker-track flags, and how many of its lumisections are GOOD
for all three (from the lumisection ranges by component).

Upserts keep what is stored when the Run Registry gives nothing (a value is never
blanked by a missing one), so a second sync writes nothing. Each page is written in
its own transaction: when the Run Registry fails mid-way, the pages before stay and
TrackerCertificationSyncError carries their counts. Runs RefRun does not mirror yet
(no OMS sync reached them) are skipped and counted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..models import ComponentStatus, DatasetState, Run, TrackerCertification
from ..runregistry_client import RunRegistryClient, RunRegistryError

logger = logging.getLogger(__name__)

# Run Registry component name -> TrackerCertification field.
TRACKER_COMPONENTS = {"tracker-pixel": "pixel", "tracker-strip": "strip", "tracker-track": "tracking"}
ONLINE_DATASET = "online"
# Ultra-legacy reprocessing: /ReReco/Run2018A_UL2018/DQM, /ReReco/..._UL/DQM
_ULTRA_LEGACY = re.compile(r"[_/-]UL(\d|[_/-]|$)")
_STATUSES = tuple(ComponentStatus.values)
_STATES = {s.lower(): s for s in DatasetState.values}
_CERT_FIELDS = ("reconstruction", "state", "pixel", "strip", "tracking", "good_lumisections", "lumisections")


class TrackerCertificationSyncError(Exception):
    """The Run Registry failed (down, 5xx, timeout, refused credentials, a malformed or
    truncated page). `counts` is what was stored before it did."""

    def __init__(self, message: str, *, counts: TrackerCertificationCounts) -> None:
        super().__init__(message)
        self.counts = counts


@dataclass
class TrackerCertificationCounts:
    datasets: int = 0  # offline datasets read
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    runs_updated: int = 0  # runs whose class or significant changed
    unknown_runs: int = 0  # datasets of runs not in the mirror, skipped
    pages: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def reconstruction_of_dataset(name: str) -> str:
    """/Express/... -> express, /PromptReco/... -> prompt, /ReReco/...UL... -> rerecoul,
    /ReReco/... -> rereco, online -> online; "" for anything else."""
    if name == ONLINE_DATASET:
        return "online"
    head = name.strip("/").split("/", 1)[0].lower()
    if head == "express":
        return "express"
    if head.startswith("prompt"):
        return "prompt"
    if head.startswith("rereco"):
        return "rerecoul" if _ULTRA_LEGACY.search(name) else "rereco"
    return ""


def component_flag(summary: Any) -> str:
    """A component's flag from its triplet summary ({"GOOD": n, "BAD": m, ...}):
    GOOD if any lumisection is good, else the most frequent other status; "" if none."""
    if not isinstance(summary, dict):
        return ""
    counts = {s: _count(summary.get(s)) for s in _STATUSES}
    if counts["GOOD"] > 0:
        return "GOOD"
    best = max(_STATUSES, key=lambda s: counts[s])
    return best if counts[best] > 0 else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def good_lumisections(ranges: dict[str, list[dict[str, Any]]]) -> tuple[int | None, int | None]:
    """(lumisections GOOD for every tracker component, lumisections listed) from the
    ranges by component; (None, None) when the tracker has no ranges."""
    per_component: list[dict[int, str]] = []
    last = 0
    for component in TRACKER_COMPONENTS:
        statuses: dict[int, str] = {}
        for span in ranges.get(component) or []:
            if not isinstance(span, dict):
                raise RunRegistryError(f"a {component} range is not an object")
            start, end = span.get("start"), span.get("end", span.get("stop"))
            if not isinstance(start, int) or not isinstance(end, int) or start < 1 or end < start:
                raise RunRegistryError(f"a {component} range has no valid start/end: {span!r:.100}")
            for ls in range(start, end + 1):
                statuses[ls] = str(span.get("status", ""))
            last = max(last, end)
        per_component.append(statuses)
    if last == 0:
        return None, None
    good = sum(1 for ls in range(1, last + 1) if all(c.get(ls) == "GOOD" for c in per_component))
    return good, last


def _parse(dataset: Any) -> dict[str, Any]:
    if not isinstance(dataset, dict):
        raise RunRegistryError("a dataset is not an object")
    run_number, name = dataset.get("run_number"), dataset.get("name")
    if not isinstance(run_number, int) or isinstance(run_number, bool) or not isinstance(name, str) or not name:
        raise RunRegistryError(f"a dataset without run_number/name: {str(dataset)[:120]}")
    attributes = dataset.get("dataset_attributes") or {}
    run = dataset.get("Run") or {}
    rr = run.get("rr_attributes") if isinstance(run, dict) else None
    rr = rr if isinstance(rr, dict) else {}
    triplets = (dataset.get("DatasetTripletCache") or {}).get("triplet_summary") or {}
    if not isinstance(attributes, dict) or not isinstance(triplets, dict):
        raise RunRegistryError(f"dataset {run_number} {name}: dataset_attributes/triplet_summary not objects")
    state = attributes.get("tracker_state") or attributes.get("global_state") or ""
    significant = rr.get("significant")
    return {
        "run_number": run_number,
        "dataset": name,
        "run_class": rr.get("class") if isinstance(rr.get("class"), str) else "",
        "significant": significant if isinstance(significant, bool) else None,
        "values": {
            "reconstruction": reconstruction_of_dataset(name),
            "state": _STATES.get(str(state).lower(), ""),
            **{field: component_flag(triplets.get(component)) for component, field in TRACKER_COMPONENTS.items()},
        },
    }


def _merged(current: Any, new: Any) -> Any:
    """Never blank a stored value with a missing one."""
    return current if new is None or new == "" else new


def tracker_certification_sync(
    *, run_min: int, run_max: int, client: RunRegistryClient | None = None
) -> TrackerCertificationCounts:
    """Store the Run Registry's tracker certification of runs run_min..run_max.

    Raises TrackerCertificationSyncError (with the counts stored so far) when the Run
    Registry fails; every page stored before the failure stays."""
    client = client or RunRegistryClient.from_settings()
    counts = TrackerCertificationCounts()
    try:
        for page in client.dataset_pages(run_min=run_min, run_max=run_max):
            parsed = [_parse(d) for d in page]
            for item in parsed:
                if item["dataset"] != ONLINE_DATASET:
                    ranges = client.lumisection_ranges(run_number=item["run_number"], dataset_name=item["dataset"])
                    good, total = good_lumisections(ranges)
                    item["values"].update(good_lumisections=good, lumisections=total)
            _store_page(parsed, counts)
            counts.pages += 1
    except RunRegistryError as exc:
        logger.warning("Run Registry sync of %d-%d stopped: %s (stored: %s)", run_min, run_max, exc, counts.as_dict())
        raise TrackerCertificationSyncError(f"Run Registry: {exc}", counts=counts) from exc
    return counts


@transaction.atomic
def _store_page(parsed: list[dict[str, Any]], counts: TrackerCertificationCounts) -> None:
    now = timezone.now()  # bulk_update does not set auto_now fields
    numbers = {item["run_number"] for item in parsed}
    runs = {run.run_number: run for run in Run.objects.filter(run_number__in=numbers)}
    stored = {
        (row.run_id, row.dataset): row for row in TrackerCertification.objects.filter(run__run_number__in=numbers)
    }
    runs_changed: dict[int, Run] = {}
    create: list[TrackerCertification] = []
    update: list[TrackerCertification] = []
    for item in parsed:
        run = runs.get(item["run_number"])
        if run is None:
            counts.unknown_runs += item["dataset"] != ONLINE_DATASET
            continue
        run_class = _merged(run.runregistry_class, item["run_class"])
        significant = _merged(run.significant, item["significant"])
        if (run_class, significant) != (run.runregistry_class, run.significant):
            run.runregistry_class, run.significant, run.updated_at = run_class, significant, now
            runs_changed[run.pk] = run
        if item["dataset"] == ONLINE_DATASET:
            continue
        counts.datasets += 1
        values = item["values"]
        row = stored.get((run.pk, item["dataset"]))
        if row is None:
            row = TrackerCertification(run=run, dataset=item["dataset"], **values)
            stored[(run.pk, item["dataset"])] = row
            create.append(row)
            continue
        changed = False
        for field in _CERT_FIELDS:
            value = _merged(getattr(row, field), values.get(field))
            if value != getattr(row, field):
                setattr(row, field, value)
                changed = True
        if changed and row.pk is not None and row not in update:
            row.updated_at = now
            update.append(row)
        elif not changed:
            counts.unchanged += 1
    TrackerCertification.objects.bulk_create(create)
    counts.created += len(create)
    if update:
        TrackerCertification.objects.bulk_update(update, [*_CERT_FIELDS, "updated_at"])
        counts.updated += len(update)
    if runs_changed:
        Run.objects.bulk_update(list(runs_changed.values()), ["runregistry_class", "significant", "updated_at"])
        counts.runs_updated += len(runs_changed)
