"""Source precedence of the mirror: which source may overwrite which.

The run attribute groups and the fill fields come from the catalogue
(ingestion.quantities); the order of sources is written here, highest first.
"""

from ..quantities import (
    fill_fields,
    fill_unit_of,
    lumisection_fields,
    run_empty_values,
    run_groups,
    run_unit_fields,
)

# The live OMS client, and OMS API JSON pages: the best source of everything.
SOURCE_OMS_API = "oms_api"

# An admin's correction in Django admin (APV mode, PV mean): kept over every source.
SOURCE_ADMIN = "admin"

# Highest priority first. The live conditions services (ingestion.sources) rank
# above the files that copied them once.
RUN_SOURCE_PRIORITY = [
    SOURCE_ADMIN,
    SOURCE_OMS_API,
    "oms_runs_2018_collisions",
    "oms_runs_2018_apr_may_all",
    "oms_runs_csv",
    "oms_runs_json",
    "apv_mode_service",
    "dials",
    "cosmics_counter",
    "apv_mode_runs",
    "run_duration_fill",
    "pv_mean_per_run",
    "oms_fills_2009_2022",
    "brilcalc_run_lumisections",
    "oms_lumisections",
    "runs_features_merged",
]
RUN_RANK = {source: rank for rank, source in enumerate(RUN_SOURCE_PRIORITY)}

# Attribute groups of a run: written together, from one source. The *_source_unit
# fields travel with their values but do not claim a group on their own.
RUN_GROUPS: dict[str, tuple[str, ...]] = run_groups()
RUN_UNIT_FIELDS = run_unit_fields()
# Model fields whose "no value" is "" or [] rather than NULL.
RUN_EMPTY = run_empty_values()
RUN_WRITE_FIELDS = [
    ("fill_id" if name == "fill_number" else name) for names in RUN_GROUPS.values() for name in names
] + ["run_class", "run_class_source", "sources"]

FILL_PRIMARY_SOURCES = {SOURCE_OMS_API, "oms_fills"}
FILL_SECONDARY_SOURCES = {"oms_fills_2009_2022"}
FILL_FIELDS = fill_fields()
# Value fields paired with the unit field that describes them (written together).
FILL_UNIT_OF = fill_unit_of()

LUMISECTION_FIELDS = lumisection_fields()
