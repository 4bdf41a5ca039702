"""Ingestion's write path: one module per concern.

- upserts: the keyed-upsert engine and the fill, run and lumisection upserts
  (source precedence in precedence; the PostgreSQL COPY path in lumisections_copy);
- dump_import: the OMS dump import and its per-file report;
- oms_sync: the OMS sync (incremental and backfill), over chunk claims (chunks);
- conditions_sync: APV mode and primary vertices from their live services;
- certhelper_calls: the spacing of calls to Certhelper;
- tables: planner statistics after bulk loads.

The job record (start, progress, finish) is the neutral `jobs` app's. The names
below are the public services, importable from `ingestion.services`.
"""

from .certhelper_calls import CERTHELPER, CerthelperTooSoon, certhelper_call_claim, certhelper_call_succeeded
from .chunks import ChunkBusy, ClaimLost, SyncRefused, chunk_claim, chunk_ranges
from .conditions_sync import CONDITIONS_STEPS, conditions_configured, conditions_sync
from .dump_import import FileReport, ImportReport, import_job_finish, oms_dump_import
from .oms_sync import (
    OMS_RUNS,
    ChunkOutcome,
    job_chunk_failed,
    runs_backfill_plan,
    runs_chunk_sync,
    runs_chunk_sync_for_job,
    runs_sync,
)
from .precedence import LUMISECTION_FIELDS, RUN_GROUPS, RUN_SOURCE_PRIORITY, SOURCE_OMS_API
from .tables import tables_analyze
from .upserts import (
    DEFAULT_BATCH_SIZE,
    UpsertCounts,
    fills_ensure,
    fills_upsert,
    keyed_upsert,
    lumisections_upsert,
    run_conditions_override,
    runs_ensure,
    runs_pileup_mean_refresh,
    runs_upsert,
)

__all__ = [
    "CERTHELPER",
    "CONDITIONS_STEPS",
    "DEFAULT_BATCH_SIZE",
    "LUMISECTION_FIELDS",
    "OMS_RUNS",
    "RUN_GROUPS",
    "RUN_SOURCE_PRIORITY",
    "SOURCE_OMS_API",
    "CerthelperTooSoon",
    "ChunkBusy",
    "ChunkOutcome",
    "ClaimLost",
    "FileReport",
    "ImportReport",
    "SyncRefused",
    "UpsertCounts",
    "certhelper_call_claim",
    "certhelper_call_succeeded",
    "chunk_claim",
    "chunk_ranges",
    "conditions_configured",
    "conditions_sync",
    "fills_ensure",
    "fills_upsert",
    "import_job_finish",
    "job_chunk_failed",
    "keyed_upsert",
    "lumisections_upsert",
    "oms_dump_import",
    "run_conditions_override",
    "runs_backfill_plan",
    "runs_chunk_sync",
    "runs_chunk_sync_for_job",
    "runs_ensure",
    "runs_pileup_mean_refresh",
    "runs_sync",
    "runs_upsert",
    "tables_analyze",
]
