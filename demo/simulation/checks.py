"""What the recommender will see in simulated labels: the persistence baseline.

The same rule as ../shared/docs/evaluation.md: predict the reference most recently used
for the same (reconstruction, run class), in run order, leaving out references
later than the target. Works on any iterable of label-like records, so the
tests and the command can both report it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class _Label(Protocol):
    run_number: int
    reconstruction: str
    reference_run_number: int
    run_class: str


@dataclass(frozen=True)
class PersistenceReport:
    scored: int
    top1: float
    switches: int
    new_references: int
    switch_top1: float

    def as_text(self) -> str:
        return (
            f"persistence top-1 {self.top1:.1%} on {self.scored} labels; "
            f"{self.switches} switches (top-1 {self.switch_top1:.1%}), {self.new_references} new references"
        )


def persistence_evaluate(*, labels: Iterable[_Label]) -> PersistenceReport:
    ordered = sorted(labels, key=lambda label: (label.run_number, label.reconstruction))
    last: dict[tuple[str, str], list[int]] = {}
    seen: set[int] = set()
    scored = hits = switches = switch_hits = new = 0
    for label in ordered:
        group = (label.reconstruction, label.run_class)
        reference = label.reference_run_number
        history = last.setdefault(group, [])
        if reference < label.run_number and history:
            scored += 1
            prediction = next((r for r in reversed(history) if r < label.run_number), None)
            hit = prediction == reference
            hits += hit
            if history[-1] != reference:
                switches += 1
                switch_hits += hit
                new += reference not in seen
        history.append(reference)
        seen.add(reference)
    return PersistenceReport(
        scored=scored,
        top1=hits / scored if scored else 0.0,
        switches=switches,
        new_references=new,
        switch_top1=switch_hits / switches if switches else 0.0,
    )
