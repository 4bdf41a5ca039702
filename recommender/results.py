"""The recommender's result types: what a ranking gives its pages, API and services.

Plain data, below every module that ranks or reads rankings (selectors, serving,
recommending), so that none of them imports another for a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reason:
    feature: str
    description: str
    effect: float  # change of the score against the candidate pool's median value


@dataclass(frozen=True)
class SideBySide:
    name: str
    label: str
    run_value: object
    reference_value: object


@dataclass(frozen=True)
class RecommendationResult:
    reference_run_number: int
    rank: int
    score: float
    reasons: list[Reason] = field(default_factory=list)
    side_by_side: list[SideBySide] = field(default_factory=list)
    model_version_id: int | None = None
