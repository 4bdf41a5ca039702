"""Store simulated records in one transaction: the mirror (fills, runs, lumisections)
through ingestion's upserts, so the precedence rules and the run-class derivation
apply as to any OMS data; the labels in bulk on recommender's models (see simulation_write)."""

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from ingestion import quantities
from ingestion.models import Fill, Lumisection, Run
from ingestion.quantities import INSTANT_LUMI, INTEGRATED_LUMI
from ingestion.services import fills_upsert, lumisections_upsert, runs_upsert, tables_analyze
from recommender.models import DeclaredReference, LabelSource, ReferencePair, RunReconstruction

from .generator import SimulatedData

BATCH_SIZE = 2000
# What OMS reports in Run 3; the values are stored in the canonical units
# (ingestion.models), as the importers do.
RUN3_INSTANT_LUMI_UNIT = "10^{33}cm^{-2}s^{-1}"
INTEGRATED_LUMI_UNIT = "pb^{-1}"
# The simulation stands in for the OMS API (the demo's local OMS serves these very
# rows), so it writes with that source's precedence.
MIRROR_SOURCE = "oms_api"
# The simulation ramps the whole tracker's high voltage at once: every partition's
# DCS flag of a lumisection is the same.
_TRACKER_HV_READY = ("bpix_ready", "fpix_ready", "tibtid_ready", "tob_ready", "tecp_ready", "tecm_ready")


@dataclass(frozen=True)
class WriteSummary:
    fills: int
    runs: int
    lumisections: int
    reconstructions: int
    labels: int
    declared: int
    skipped_fills: int
    skipped_runs: int

    def as_text(self) -> str:
        text = (
            f"{self.fills} fills, {self.runs} runs, {self.lumisections} lumisections, "
            f"{self.reconstructions} run reconstructions, {self.labels} reference pairs, "
            f"{self.declared} declared references"
        )
        if self.skipped_fills or self.skipped_runs:
            text += f"; skipped {self.skipped_fills} fills and {self.skipped_runs} runs already in the database"
        return text


def _source_units(entity: str) -> dict[str, str]:
    """Each source-unit field of the entity -> the unit OMS would have sent in Run 3."""
    sent = {INSTANT_LUMI: RUN3_INSTANT_LUMI_UNIT, INTEGRATED_LUMI: INTEGRATED_LUMI_UNIT}
    return {q.source_unit: sent[q.unit] for q in quantities.of(entity) if q.source_unit}


def _values(entity: str, record) -> dict:
    """The record's value of every catalogued quantity (source units aside)."""
    return {q.name: getattr(record, q.name) for q in quantities.of(entity) if not q.is_source_unit}


def _fill(record) -> dict:
    return {"fill_number": record.fill_number, **_values(quantities.FILL, record), **_source_units(quantities.FILL)}


def _run(record) -> dict:
    # run_class is not written: runs_upsert derives it from these OMS attributes.
    values = _values(quantities.RUN, record)
    values["fill_number"] = record.fill_number or None
    return {"run_number": record.run_number, **values, **_source_units(quantities.RUN)}


def _lumisections(block) -> list[dict]:
    rows = []
    init, end = block.init_lumi.tolist(), block.end_lumi.tolist()
    delivered, recorded = block.delivered_lumi.tolist(), block.recorded_lumi.tolist()
    pileup, ready = block.pileup.tolist(), block.hv_ready.tolist()
    for i in range(len(init)):
        hv = ready[i]
        rows.append(
            dict(
                run_number=block.run_number,
                number=i + 1,
                init_lumi=init[i],
                end_lumi=end[i],
                delivered_lumi=delivered[i],
                recorded_lumi=recorded[i],
                pileup=pileup[i],
                physics_flag=block.stable and hv,
                cms_active=True,
                beam1_present=block.beams,
                beam2_present=block.beams,
                beam1_stable=block.stable,
                beam2_stable=block.stable,
                **dict.fromkeys(_TRACKER_HV_READY, hv),
            )
        )
    return rows


def _plain(row: dict) -> dict:
    # The generator's numpy scalars as Python numbers: the upserts compare values
    # with "" and [] to tell empty ones, which a numpy scalar turns into an array.
    return {name: value.item() if isinstance(value, np.generic) else value for name, value in row.items()}


def _span(numbers) -> tuple[int, int]:
    values = list(numbers)
    return (min(values), max(values)) if values else (0, -1)


def simulation_write(*, data: SimulatedData, skip_existing: bool = False) -> WriteSummary:
    """Write `data` in one transaction.

    With `skip_existing`, fills and runs whose numbers are already in the
    database are left alone (with their lumisections, reconstructions and any
    label or declared reference that involves a skipped run); a new run of a
    skipped fill is linked to the existing fill of that number.
    """
    now = dt.datetime.now(dt.UTC)
    with transaction.atomic():
        existing_fills: set[int] = set()
        existing_runs: set[int] = set()
        if skip_existing:
            existing_fills = set(Fill.objects.values_list("fill_number", flat=True))
            existing_runs = set(Run.objects.values_list("run_number", flat=True))
        fills = [_plain(_fill(f)) for f in data.fills if f.fill_number not in existing_fills]
        for start in range(0, len(fills), BATCH_SIZE):
            fills_upsert(rows=fills[start : start + BATCH_SIZE], source=MIRROR_SOURCE)
        runs = [_plain(_run(r)) for r in data.runs if r.run_number not in existing_runs]
        for start in range(0, len(runs), BATCH_SIZE):
            runs_upsert(rows=runs[start : start + BATCH_SIZE], source=MIRROR_SOURCE)
        written = {r["run_number"] for r in runs}
        span = _span(written)
        # Range queries, not IN lists: 20,000 numbers exceed some databases' parameter limits.
        run_ids = {
            number: pk
            for number, pk in Run.objects.filter(run_number__range=span).values_list("run_number", "id")
            if number in written
        }

        ls_rows = 0
        batch: list[dict] = []
        for block in data.lumisections:
            if block.run_number in written:
                batch += _lumisections(block)
            if len(batch) >= BATCH_SIZE:
                ls_rows += lumisections_upsert(rows=batch).created
                batch = []
        ls_rows += lumisections_upsert(rows=batch).created

        # Labels stay bulk inserts: reference_pairs_upsert stamps a whole batch with one
        # import time, while each simulated label carries the time its run was certified,
        # which training windows and the evaluation read.
        recos = [
            RunReconstruction(
                run_id=run_ids[r.run_number],
                reconstruction=r.reconstruction,
                dataset=r.dataset,
                created_at=now,
                updated_at=now,
            )
            for r in data.reconstructions
            if r.run_number in written
        ]
        RunReconstruction.objects.bulk_create(recos, batch_size=BATCH_SIZE)
        reco_ids = {
            (number, reco): pk
            for number, reco, pk in RunReconstruction.objects.filter(run__run_number__range=span).values_list(
                "run__run_number", "reconstruction", "id"
            )
            if number in written
        }
        pairs = [
            ReferencePair(
                run_reconstruction_id=reco_ids[(label.run_number, label.reconstruction)],
                reference_id=reco_ids[(label.reference_run_number, label.reference_reconstruction)],
                source=LabelSource.CERTHELPER,
                is_positive=True,
                recorded_at=label.recorded_at,
                created_at=now,
                updated_at=now,
            )
            for label in data.labels
            if (label.run_number, label.reconstruction) in reco_ids
            and (label.reference_run_number, label.reference_reconstruction) in reco_ids
        ]
        ReferencePair.objects.bulk_create(pairs, batch_size=BATCH_SIZE)
        declared = [
            DeclaredReference(
                run_reconstruction_id=reco_ids[(d.run_number, d.reconstruction)],
                run_class=d.run_class,
                reconstruction=d.reconstruction,
                b_field_on=d.b_field_on,
                apv_mode=d.apv_mode,
                from_run=d.from_run,
                until_run=d.until_run,
                period=d.period,
                note=d.note,
                created_at=now,
                updated_at=now,
            )
            for d in data.declared
            if (d.run_number, d.reconstruction) in reco_ids
        ]
        if skip_existing:
            # declarations have no natural key to conflict on: skip those already written
            existing = set(DeclaredReference.objects.values_list("run_reconstruction_id", "run_class", "from_run"))
            declared = [d for d in declared if (d.run_reconstruction_id, d.run_class, d.from_run) not in existing]
        DeclaredReference.objects.bulk_create(declared, batch_size=BATCH_SIZE)
    tables_analyze(models=[Fill, Run, Lumisection, RunReconstruction, ReferencePair, DeclaredReference])
    return WriteSummary(
        fills=len(fills),
        runs=len(runs),
        lumisections=ls_rows,
        reconstructions=len(recos),
        labels=len(pairs),
        declared=len(declared),
        skipped_fills=len(data.fills) - len(fills),
        skipped_runs=len(data.runs) - len(runs),
    )


def runs_hold_back(*, count: int) -> list[int]:
    """Delete the newest `count` runs and all that hangs off them (lumisections,
    reconstructions, labels, labels that used them as reference).

    The demo holds back what the local OMS still has, so its first sync visibly
    brings new runs in. Returns the run numbers deleted.
    """
    numbers = list(Run.objects.order_by("-run_number").values_list("run_number", flat=True)[:count])
    with transaction.atomic():
        ReferencePair.objects.filter(reference__run__run_number__in=numbers).delete()
        Run.objects.filter(run_number__in=numbers).delete()
    return numbers
