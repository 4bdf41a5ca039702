"""The model page's data: the active model version, the versions before it, the first
choice's accuracy by month and acceptance, and the evaluation in a shift leader's words."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.db.models import QuerySet

from .. import selectors
from ..models import ModelVersion
from .charts import Series, line_chart_svg

# The evaluation's method and slice names, in words a shift leader reads without a glossary.
METHOD_WORDS = {
    "new": "This model",
    "active": "The model it replaced",
    "persistence": "Keep the reference last used",
    "predecessor": "The previous run's reference",
}
SLICE_WORDS = {
    "all": "all runs",
    "switch": "runs where the reference changed",
    "new": "runs that took a never-used reference",
}
VERSIONS_SHOWN = 20


@dataclass(frozen=True)
class ModelPage:
    """What `recommender/model_detail.html` shows; each field is the template variable
    of its name."""

    active: ModelVersion | None
    versions: QuerySet[ModelVersion]  # the newest VERSIONS_SHOWN, read when shown
    accuracy: list[selectors.MonthlyAccuracy]
    accuracy_chart: str  # "" with fewer than two months
    acceptance: selectors.AcceptanceRate
    evaluation_rows: list[tuple[str, str, dict]]  # (method words, slice words, its figures)

    def as_context(self) -> dict:
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


def _evaluation_rows(evaluation: dict | None) -> list[tuple[str, str, dict]]:
    rows = []
    for method, slices in (evaluation or {}).items():
        if not isinstance(slices, dict) or "all" not in slices:
            continue  # not a method's figures (e.g. the confidence thresholds)
        for name, metrics in slices.items():
            if isinstance(metrics, dict) and metrics.get("n"):
                rows.append(
                    (
                        METHOD_WORDS.get(method, method.replace("_", " ")),
                        SLICE_WORDS.get(name, name.replace("_", " ")),
                        metrics,
                    )
                )
    return rows


def model_page_build() -> ModelPage:
    active = selectors.model_version_active()
    accuracy = selectors.model_accuracy_by_month()
    chart = line_chart_svg(
        title="Share of first choices that were the reference used, by month",
        unit="",
        series=[Series("top-1", [(i + 1, m.top1) for i, m in enumerate(accuracy)], "run-line")],
    )
    return ModelPage(
        active=active,
        versions=selectors.model_versions()[:VERSIONS_SHOWN],
        accuracy=accuracy,
        accuracy_chart=chart if len(accuracy) > 1 else "",
        acceptance=selectors.first_choice_acceptance(model_version=active),
        evaluation_rows=_evaluation_rows(active.evaluation if active else None),
    )
