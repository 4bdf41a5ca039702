"""The catalogue of the OMS quantities RefRun mirrors: one entry per stored value.

Everything that names these quantities reads them from here: the models' help
texts and text lengths (ingestion.models), the OMS client's `fields=`
(ingestion.clients), the parsers (ingestion.parsers.oms), the source-precedence
groups (ingestion.services.precedence), the model's run features
(recommender.ml.dataset), the local OMS (demo.fake_oms) and the simulation
writer. Adding a quantity means adding an entry here, the model field (whose help
text and length come from the entry), and a migration; a test checks that every
entry reaches every one of those places (tests/ingestion/test_quantities.py).

Luminosities are stored in one canonical unit per kind whatever the unit OMS used
that year; the unit OMS sent is kept in a *source unit* entry beside the value.
"""

from __future__ import annotations

from dataclasses import dataclass

# Canonical units. OMS changed them over the years (10^30 before 2018, 10^34 for
# 2018 pp, 10^27 for heavy ions, 10^33 in Run 3); ingestion converts to these.
INSTANT_LUMI_UNIT = "10^{34}cm^{-2}s^{-1}"
INTEGRATED_LUMI_UNIT = "pb^{-1}"

FILL = "fill"
RUN = "run"
LUMISECTION = "lumisection"

# Unit kinds: the two luminosity kinds are converted to the canonical units above.
INSTANT_LUMI = "instant_lumi"
INTEGRATED_LUMI = "integrated_lumi"
LUMI_KINDS = (INSTANT_LUMI, INTEGRATED_LUMI)

# The natural keys OMS sends with every row (not mirrored values: the upserts key on them).
KEYS = {FILL: ("fill_number",), RUN: ("run_number",), LUMISECTION: ("run_number", "lumisection_number")}


@dataclass(frozen=True)
class Quantity:
    entity: str  # FILL, RUN or LUMISECTION
    name: str  # the model field and the key in parsed rows (run's fill_number: the fill foreign key)
    type: str  # "int", "float", "bool", "datetime", "text", "list"
    help: str = ""
    unit: str = ""  # unit kind: INSTANT_LUMI / INTEGRATED_LUMI (converted), else a plain unit ("s", "GeV")
    # Run precedence: attributes of one group are written together, from one source.
    group: str = ""
    # The OMS attribute, when OMS projects it (`fields=`); None for values from elsewhere.
    oms: str | None = None
    max_length: int | None = None  # text: stored length (longer values are rejected)
    minimum: int | None = None  # int: smallest accepted value
    maximum: int | None = None  # int: largest accepted value
    source_unit: str = ""  # luminosity: the entry that keeps the unit OMS sent
    feature: bool = False  # a column of the model's run features

    @property
    def is_source_unit(self) -> bool:
        return self.type == "text" and self.name.endswith("_source_unit")


DB_BIGINT_MAX = 2**63 - 1
_OMS = object()  # "the OMS attribute has the quantity's name"


def _q(entity: str, name: str, type: str, help: str = "", *, oms: object = _OMS, **kwargs) -> Quantity:
    return Quantity(entity, name, type, help, oms=name if oms is _OMS else oms, **kwargs)  # type: ignore[arg-type]


def _source_unit(entity: str, name: str, help: str = "Unit OMS reported", *, group: str = "") -> Quantity:
    return Quantity(entity, name, "text", help, group=group, max_length=40)


_IL, _GL = INSTANT_LUMI_UNIT, INTEGRATED_LUMI_UNIT

QUANTITIES: tuple[Quantity, ...] = (
    # --- Fills ---------------------------------------------------------------------
    _q(FILL, "start_time", "datetime", "Fill creation time (UTC)"),
    _q(FILL, "end_time", "datetime"),
    _q(FILL, "start_stable_beam", "datetime"),
    _q(FILL, "end_stable_beam", "datetime"),
    _q(FILL, "duration", "int", "Stable-beam duration, s (as OMS defines it for fills)", unit="s", minimum=0),
    # OMS has sent negative bunch counts (they broke Certhelper's DB constraint).
    _q(FILL, "bunches_colliding", "int", "Colliding bunch pairs", minimum=0, feature=True),
    _q(FILL, "bunches_target", "int", minimum=0),
    _q(FILL, "injection_scheme", "text", max_length=120),
    _q(
        FILL,
        "init_lumi",
        "float",
        f"Initial instantaneous luminosity, {_IL}",
        unit=INSTANT_LUMI,
        source_unit="init_lumi_source_unit",
    ),
    _source_unit(FILL, "init_lumi_source_unit"),
    _q(
        FILL,
        "peak_lumi",
        "float",
        f"Peak instantaneous luminosity, {_IL}",
        unit=INSTANT_LUMI,
        source_unit="peak_lumi_source_unit",
    ),
    _source_unit(FILL, "peak_lumi_source_unit"),
    _q(FILL, "peak_pileup", "float", "Peak mean inelastic interactions per crossing"),
    _q(
        FILL,
        "delivered_lumi",
        "float",
        f"Delivered luminosity, {_GL}",
        unit=INTEGRATED_LUMI,
        source_unit="integrated_lumi_source_unit",
    ),
    _q(
        FILL,
        "recorded_lumi",
        "float",
        f"Recorded luminosity, {_GL}",
        unit=INTEGRATED_LUMI,
        source_unit="integrated_lumi_source_unit",
    ),
    _source_unit(FILL, "integrated_lumi_source_unit"),
    _q(FILL, "energy", "float", "Beam energy, GeV", unit="GeV"),
    _q(FILL, "b_field", "float", "Solenoid field, T", unit="T"),
    _q(FILL, "fill_type_runtime", "text", "e.g. PROTONS, IONS, COSMICS", max_length=40),
    _q(FILL, "fill_type_party1", "text", max_length=20),
    _q(FILL, "fill_type_party2", "text", max_length=20),
    _q(FILL, "era", "text", "e.g. Run2018A, Commissioning2024", max_length=60),
    _q(FILL, "first_run_number", "int", minimum=1),
    _q(FILL, "last_run_number", "int", minimum=1),
    # --- Runs ----------------------------------------------------------------------
    _q(RUN, "fill_number", "int", group="fill", feature=True),
    _q(RUN, "start_time", "datetime", "UTC", group="times", feature=True),
    _q(RUN, "end_time", "datetime", "UTC; empty while the run is open", group="times"),
    _q(RUN, "duration", "int", "Run duration, s", unit="s", group="duration", feature=True),
    _q(
        RUN,
        "init_lumi",
        "float",
        f"Instantaneous luminosity at run start, {_IL}",
        unit=INSTANT_LUMI,
        group="instant_lumi",
        source_unit="instant_lumi_source_unit",
        feature=True,
    ),
    _q(
        RUN,
        "end_lumi",
        "float",
        f"Instantaneous luminosity at run end, {_IL}",
        unit=INSTANT_LUMI,
        group="instant_lumi",
        source_unit="instant_lumi_source_unit",
        feature=True,
    ),
    _source_unit(RUN, "instant_lumi_source_unit", "Unit OMS reported for init/end lumi", group="instant_lumi"),
    _q(
        RUN,
        "delivered_lumi",
        "float",
        f"Delivered luminosity, {_GL}",
        unit=INTEGRATED_LUMI,
        group="integrated_lumi",
        source_unit="integrated_lumi_source_unit",
        feature=True,
    ),
    _q(
        RUN,
        "recorded_lumi",
        "float",
        f"Recorded luminosity, {_GL}",
        unit=INTEGRATED_LUMI,
        group="integrated_lumi",
        source_unit="integrated_lumi_source_unit",
        feature=True,
    ),
    _source_unit(RUN, "integrated_lumi_source_unit", group="integrated_lumi"),
    _q(RUN, "b_field", "float", "Solenoid field, T (3.8 on, ~0 off)", unit="T", group="b_field", feature=True),
    _q(RUN, "energy", "float", "Beam energy, GeV (0 without beam)", unit="GeV", group="energy", feature=True),
    _q(RUN, "stable_beam", "bool", group="beam"),
    _q(RUN, "fill_type_runtime", "text", group="beam", max_length=40),
    _q(RUN, "l1_hlt_mode", "text", "e.g. collisions2018, cosmics2024", group="trigger_mode", max_length=80),
    _q(RUN, "hlt_key", "text", group="run_config", max_length=200),
    _q(RUN, "sequence", "text", "GLOBAL-RUN for global runs", group="run_config", max_length=40),
    _q(RUN, "components", "list", "Subsystems in the run", group="run_config"),
    _q(RUN, "era", "text", group="run_config", max_length=60, feature=True),
    _q(RUN, "l1_rate", "float", "Hz", unit="Hz", group="rates"),
    _q(RUN, "hlt_physics_rate", "float", "Hz", unit="Hz", group="rates", feature=True),
    _q(RUN, "hlt_physics_counter", "int", "Events", group="rates", minimum=0, maximum=DB_BIGINT_MAX),
    _q(RUN, "last_lumisection_number", "int", group="lumisections", minimum=0),
    # Not from OMS: the strip readout mode (cosmics counter, APV-mode lists), DQM's
    # primary vertices, and the mean over the stored lumisections.
    _q(
        RUN,
        "apv_mode",
        "text",
        "Strip APV readout mode (cosmics)",
        oms=None,
        group="apv_mode",
        max_length=4,
        feature=True,
    ),
    _q(
        RUN,
        "pv_mean",
        "float",
        "Mean reconstructed primary vertices per event (DQM)",
        oms=None,
        group="pv_mean",
        feature=True,
    ),
    _q(RUN, "pileup_mean", "float", "Mean pileup over the run's lumisections", oms=None, group="pileup_mean"),
    # --- Lumisections ----------------------------------------------------------------
    _q(LUMISECTION, "init_lumi", "float", f"{_IL}", unit=INSTANT_LUMI),
    _q(LUMISECTION, "end_lumi", "float", f"{_IL}", unit=INSTANT_LUMI),
    # Per-LS delivered/recorded are cumulative since LS 1, in pb^-1 (checked in the
    # data; the data README's "ub^-1 per LS" is wrong).
    _q(LUMISECTION, "delivered_lumi", "float", f"Cumulative since LS 1, {_GL}", unit=INTEGRATED_LUMI),
    _q(LUMISECTION, "recorded_lumi", "float", f"Cumulative since LS 1, {_GL}", unit=INTEGRATED_LUMI),
    _q(LUMISECTION, "pileup", "float", "Mean pileup in the lumisection"),
    _q(LUMISECTION, "physics_flag", "bool"),
    _q(LUMISECTION, "cms_active", "bool"),
    _q(LUMISECTION, "beam1_present", "bool"),
    _q(LUMISECTION, "beam2_present", "bool"),
    _q(LUMISECTION, "beam1_stable", "bool"),
    _q(LUMISECTION, "beam2_stable", "bool"),
    _q(LUMISECTION, "bpix_ready", "bool", "DCS: barrel pixel HV on"),
    _q(LUMISECTION, "fpix_ready", "bool", "DCS: forward pixel HV on"),
    _q(LUMISECTION, "tibtid_ready", "bool", "DCS: TIB/TID HV on"),
    _q(LUMISECTION, "tob_ready", "bool", "DCS: TOB HV on"),
    _q(LUMISECTION, "tecp_ready", "bool", "DCS: TEC+ HV on"),
    _q(LUMISECTION, "tecm_ready", "bool", "DCS: TEC- HV on"),
)

_BY_KEY = {(q.entity, q.name): q for q in QUANTITIES}


def of(entity: str) -> tuple[Quantity, ...]:
    return tuple(q for q in QUANTITIES if q.entity == entity)


def quantity(entity: str, name: str) -> Quantity:
    return _BY_KEY[(entity, name)]


def help_text(entity: str, name: str) -> str:
    """The model field's help text (ingestion.models)."""
    return _BY_KEY[(entity, name)].help


def max_length(entity: str, name: str) -> int:
    length = _BY_KEY[(entity, name)].max_length
    assert length is not None, f"{entity}.{name} is not a text quantity"
    return length


def names(entity: str) -> tuple[str, ...]:
    return tuple(q.name for q in of(entity))


def oms_fields(entity: str) -> tuple[str, ...]:
    """What the OMS client asks OMS for (`fields=`): the keys, then every attribute OMS projects."""
    return (*KEYS[entity], *(q.oms for q in of(entity) if q.oms is not None))


# --- What the precedence rules read --------------------------------------------------


def run_groups() -> dict[str, tuple[str, ...]]:
    groups: dict[str, tuple[str, ...]] = {}
    for q in of(RUN):
        groups[q.group] = (*groups.get(q.group, ()), q.name)
    return groups


def run_unit_fields() -> frozenset[str]:
    """Source-unit fields travel with their values but do not claim a group on their own."""
    return frozenset(q.name for q in of(RUN) if q.is_source_unit)


def run_empty_values() -> dict[str, object]:
    """Run fields whose "no value" is "" or [] (a factory) rather than NULL."""
    empty: dict[str, object] = {}
    for q in of(RUN):
        if q.type == "text":
            empty[q.name] = ""
        elif q.type == "list":
            empty[q.name] = list
    return empty


def fill_fields() -> list[str]:
    return list(names(FILL))


def fill_unit_of() -> dict[str, str]:
    """Fill value fields -> the source-unit field written with them."""
    return {q.name: q.source_unit for q in of(FILL) if q.source_unit}


def lumisection_values() -> tuple[str, ...]:
    return tuple(q.name for q in of(LUMISECTION) if q.type != "bool")


def lumisection_flags() -> tuple[str, ...]:
    return tuple(q.name for q in of(LUMISECTION) if q.type == "bool")


def lumisection_fields() -> list[str]:
    return [*lumisection_values(), *lumisection_flags()]


def run_feature_quantities() -> list[str]:
    """The catalogued quantities the model uses as run features (run's own, then its fill's)."""
    return [q.name for entity in (RUN, FILL) for q in of(entity) if q.feature]
