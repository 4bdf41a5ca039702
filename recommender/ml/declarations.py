"""The shift leaders' declared references as plain data, and which one a run falls under.

A declaration names a scope (run class, reconstruction, the conditions it is for) and
the runs it applies to (from its first run, until its last while it is ended). A blank
condition means "any"; a run whose value is unknown matches only "any", because a
leader who wrote "3.8 T" did not vouch for a run of unknown field.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .run_table import B_FIELD_ON_T

# Beam energies of one configuration agree within this share (6.8 TeV runs read 6799-6800).
ENERGY_TOLERANCE = 0.02
# Rereco may compare with a later run; every other reconstruction only with an earlier one.
RERECO_TYPES = frozenset({"rereco", "rerecoul"})


@dataclass(frozen=True)
class Conditions:
    """What is known of one run reconstruction's conditions (NaN or "" when unknown)."""

    run_class: str
    reconstruction: str
    b_field: float = math.nan
    apv_mode: str = ""
    beam: str = ""
    energy: float = math.nan


@dataclass(frozen=True)
class Declaration:
    pk: int
    reference: int  # run number of the reference
    reference_reconstruction: str
    run_class: str
    reconstruction: str = ""  # blank: every reconstruction
    b_field_on: bool | None = None
    apv_mode: str = ""
    beam: str = ""
    beam_energy: float | None = None
    from_run: int = 0
    until_run: int | None = None
    note: str = ""
    declared_by: str = ""
    declared_at: dt.datetime | None = None

    @property
    def in_use(self) -> bool:
        return self.until_run is None

    def applies_to(self, run_number: int) -> bool:
        return self.from_run <= run_number and (self.until_run is None or run_number <= self.until_run)

    def covers(self, run_number: int, conditions: Conditions) -> bool:
        """Whether the run falls under this declaration: in its runs, of its class and
        reconstruction, and every condition it names matches a known value."""
        if not self.applies_to(run_number) or run_number == self.reference:
            return False
        if conditions.reconstruction not in RERECO_TYPES and self.reference > run_number:
            return False
        if conditions.run_class != self.run_class:
            return False
        if self.reconstruction and conditions.reconstruction != self.reconstruction:
            return False
        return not self.conflicts(conditions, unknown_conflicts=True)

    def conflicts(self, conditions: Conditions, *, unknown_conflicts: bool = False) -> list[str]:
        """The conditions this declaration names that the run's values contradict
        ("B field", "APV mode", "beam", "beam energy"); an unknown value counts only
        with `unknown_conflicts`."""
        out = []
        if self.b_field_on is not None:
            if math.isnan(conditions.b_field):
                if unknown_conflicts:
                    out.append("B field")
            elif (conditions.b_field > B_FIELD_ON_T) != self.b_field_on:
                out.append("B field")
        if self.apv_mode and (conditions.apv_mode or unknown_conflicts) and conditions.apv_mode != self.apv_mode:
            out.append("APV mode")
        if self.beam and (conditions.beam or unknown_conflicts) and conditions.beam.upper() != self.beam.upper():
            out.append("beam")
        if self.beam_energy is not None:
            if math.isnan(conditions.energy):
                if unknown_conflicts:
                    out.append("beam energy")
            elif abs(conditions.energy - self.beam_energy) > ENERGY_TOLERANCE * max(self.beam_energy, 1.0):
                out.append("beam energy")
        return out


def _newest_first(declaration: Declaration) -> tuple:
    at = declaration.declared_at.timestamp() if declaration.declared_at else 0.0
    return (-declaration.from_run, -at, -declaration.pk)


def declared_for(declarations: Iterable[Declaration], run_number: int, conditions: Conditions) -> Declaration | None:
    """The newest declaration covering the run (latest first run, then latest declared)."""
    covering = [d for d in declarations if d.covers(run_number, conditions)]
    return min(covering, key=_newest_first) if covering else None


def stale_use(
    declaration: Declaration, decisions: Sequence[tuple[int, int]], *, in_a_row: int
) -> tuple[int, int] | None:
    """(the reference the shifters use instead, how many decisions in a row) when the last
    `in_a_row` decisions under this declaration all took another reference than the
    declared one; None otherwise. `decisions`: (run number, reference run number) of the
    positive labels of the runs it covers, in run order."""
    if in_a_row < 1 or len(decisions) < in_a_row:
        return None
    last = [reference for _, reference in decisions[-in_a_row:]]
    if declaration.reference in last:
        return None
    streak = 0
    for _, reference in reversed(decisions):
        if reference == declaration.reference:
            break
        streak += 1
    used, _ = Counter(last).most_common(1)[0]
    return used, streak


def conditions_differ(run: Conditions, reference: Conditions) -> list[str]:
    """The conditions in which a run and a reference are known to differ: B field state,
    APV mode (cosmics), beam, beam energy. Unknown values never differ."""
    out = []
    if not (math.isnan(run.b_field) or math.isnan(reference.b_field)):
        if (run.b_field > B_FIELD_ON_T) != (reference.b_field > B_FIELD_ON_T):
            out.append("B field")
    if run.run_class == "cosmics" and run.apv_mode and reference.apv_mode and run.apv_mode != reference.apv_mode:
        out.append("APV mode")
    if run.beam and reference.beam and run.beam.upper() != reference.beam.upper():
        out.append("beam")
    if not (math.isnan(run.energy) or math.isnan(reference.energy)) and min(run.energy, reference.energy) > 0:
        if abs(run.energy - reference.energy) > ENERGY_TOLERANCE * max(run.energy, reference.energy):
            out.append("beam energy")
    return out
