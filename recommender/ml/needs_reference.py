"""When the shift leaders should declare a new reference, and how well that flag foretells
the shifters' own switches.

A run needs a reference when no declaration covers it and its conditions differ from
those of the reference in use for its group (persistence's pick): another B field state,
APV mode (cosmics), beam, beam energy or era. Unknown values never differ.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .baselines import persistence_ranking
from .declarations import Conditions, conditions_differ
from .model import walk
from .run_table import RunTable, Target

# A flag that no switch of its group follows within this many of the group's runs is false.
FOLLOW_WINDOW = 20


def run_conditions(
    runs: RunTable, run_number: int, *, reconstruction: str, run_class: str, beams: Mapping[int, str] | None = None
) -> Conditions:
    """A run's conditions from the run table (NaN or "" where unknown); the beam from `beams`."""
    apv_mode = runs.value(run_number, "apv_mode")
    return Conditions(
        run_class=run_class,
        reconstruction=reconstruction,
        b_field=float(runs.value(run_number, "b_field")),
        apv_mode=apv_mode if isinstance(apv_mode, str) else "",
        beam=(beams or {}).get(int(run_number), ""),
        energy=float(runs.value(run_number, "energy")),
    )


def _era(runs: RunTable, run_number: int) -> str:
    era = runs.value(run_number, "era")
    return era if isinstance(era, str) else ""


def new_conditions(
    runs: RunTable, target: Target, reference: int, *, beams: Mapping[int, str] | None = None
) -> list[str]:
    """What is new in the target's conditions against the reference in use: "B field",
    "APV mode", "beam", "beam energy", "era" ([] when nothing known differs)."""
    run = run_conditions(
        runs, target.run_number, reconstruction=target.reconstruction, run_class=target.run_class, beams=beams
    )
    ref = run_conditions(runs, reference, reconstruction="", run_class=target.run_class, beams=beams)
    out = conditions_differ(run, ref)
    run_era, ref_era = _era(runs, target.run_number), _era(runs, reference)
    if run_era and ref_era and run_era != ref_era:
        out.append("era")
    return out


@dataclass(frozen=True)
class _Step:
    run_number: int
    flagged: bool
    switched: bool


def _group_steps(labels, runs: RunTable) -> dict[tuple[str, str], list[_Step]]:
    """Per group (run class, reconstruction), each labelled run in order: was it flagged
    (new conditions against the reference in use), did the shifter switch (another
    reference than persistence's pick)? Prequential: only earlier labels make the pick."""
    steps: dict[tuple[str, str], list[_Step]] = defaultdict(list)
    for history, rows in walk(labels):
        for row in rows:
            target = row.target
            picks = persistence_ranking(history, target)
            if not picks:
                continue  # a group's first run: nothing in use to switch from
            pick = picks[0]
            flagged = bool(new_conditions(runs, target, pick))
            steps[(target.run_class, target.reconstruction)].append(
                _Step(target.run_number, flagged, row.reference != pick)
            )
    return steps


def switch_detection(
    labels, runs: RunTable, windows: Iterable[tuple[str, int, int]], *, follow: int = FOLLOW_WINDOW
) -> list[dict]:
    """Per window (name, first run, first run after) and run class: the switches, the share
    of them whose run or one of the group's `follow` runs before it was flagged, the flags,
    and the flags per 100 runs that no switch of the group followed within `follow` of its
    runs (the flag's own run included)."""
    steps = _group_steps(labels, runs)
    out = []
    for name, origin, end in windows:
        by_class: dict[str, dict[str, int]] = defaultdict(
            lambda: {"runs": 0, "switches": 0, "detected": 0, "flags": 0, "false_flags": 0}
        )
        for (run_class, _reco), group in steps.items():
            counts = by_class[run_class]
            for i, step in enumerate(group):
                if not origin <= step.run_number < end:
                    continue
                counts["runs"] += 1
                if step.switched:
                    counts["switches"] += 1
                    counts["detected"] += any(s.flagged for s in group[max(0, i - follow + 1) : i + 1])
                if step.flagged:
                    counts["flags"] += 1
                    counts["false_flags"] += not any(s.switched for s in group[i : i + follow])
        for run_class, counts in sorted(by_class.items()):
            if not counts["runs"]:
                continue
            out.append(
                {
                    "window": name,
                    "run_class": run_class,
                    **counts,
                    "detected_share": counts["detected"] / counts["switches"] if counts["switches"] else math.nan,
                    "false_flags_per_100_runs": 100.0 * counts["false_flags"] / counts["runs"],
                }
            )
    return out
