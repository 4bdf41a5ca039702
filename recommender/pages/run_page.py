"""The run page's data: the five recommendations with their reasons and links, the
decision state, the confidence, the page's signed record of what it showed, the OMS
summary beside the first choice and the lumisection charts.

Read only: the stored ranking, or one computed now in memory (nothing written). The view
adds the decision form, which carries what the shifter typed when a POST is shown again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from accounts.roles import is_shift_leader
from ingestion.selectors import (
    lumisection_series,
    lumisection_summaries,
    run_rows_by_number,
    tracker_flags_by_run_number,
)

from .. import policy, ranking_reads, selectors
from ..dqm_datasets import DqmDataset, dqm_datasets_for
from ..exceptions import ModelArtifactError
from ..forms import DeclarationForm
from ..models import Reconstruction
from ..results import RecommendationResult
from ..rule_reasons import RULE_DECLARED
from ..shown import shown_sign
from . import display, links, reasons
from .charts import LumisectionRun, Series, charted_runs, line_chart_svg, lumisection_runs, tracker_hv_runs


@dataclass(frozen=True)
class Chart:
    title: str  # shown above the chart, not only as its tooltip
    svg: str


@dataclass(frozen=True)
class CandidateRow:
    """One of the five recommendations as the run page shows it."""

    result: RecommendationResult
    sentences: list
    links: links.ReferenceLinks
    reference_dataset: str
    tracker: dict | None  # the reference's Run Registry flags {"pixel", "strip", "tracking"}
    pv_mean: float | None  # the reference's mean primary vertices


@dataclass(frozen=True)
class RunPage:
    """Everything `recommender/run_detail.html` shows but the decision form; each field
    is the template variable of its name."""

    run: object  # ingestion.models.Run
    tracker: object  # the run's tracker certification for this reconstruction, if any
    reconstruction: str
    reconstructions: list
    recommendations: list[RecommendationResult]
    rows: list[CandidateRow]
    top: RecommendationResult | None
    shown: str  # the signed record of the references shown (recommender.shown), "" with none
    error: str
    state: policy.DecisionState | None  # None before the run reconstruction exists
    may_decide: bool
    can_reopen: bool
    is_leader: bool
    declared: object  # the DeclaredReference covering the run, if any
    declared_stale: tuple[int, int] | None  # (the reference shifters use instead, how many in a row)
    conflicts: list
    declaration_form: DeclarationForm | None
    conditions_known: bool
    confidence: reasons.Confidence | None
    decisions: list
    labels: list
    charts: list[Chart]
    lumisection_notes: list[str]  # which run has no per-lumisection data
    tracker_hv_runs: list[LumisectionRun]  # for runs without beam, in place of the luminosity charts
    bunches: int | None
    values: dict
    side_by_side: list[tuple[str, str, str]]
    run_dqm_url: str
    run_dqm_dataset: DqmDataset
    run_oms_url: str
    fill_oms_url: str

    def feedback_initial(self) -> dict:
        """The decision form's hidden fields: the first choice, its model, the signed record."""
        top = self.top
        return {
            "recommended_run_number": top.reference_run_number if top else None,
            "model_version_id": top.model_version_id if top else None,
            "shown": self.shown,
        }

    def as_context(self) -> dict:
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _lumisection_charts(run_number: int, reference_run_number: int | None) -> list[Chart]:
    numbers = [run_number] + ([reference_run_number] if reference_run_number else [])
    series = lumisection_series(run_numbers=numbers)
    charts = []
    for quantity, title, unit in (
        ("init_lumi", "Instantaneous luminosity", display.INSTANT_UNIT_PP),
        ("pileup", "Pileup", "interactions per crossing"),
    ):
        factor = 1.0
        if quantity == "init_lumi":
            factor, unit = display.instant_lumi_scale(v for n in numbers if n in series for _, v in series[n][quantity])
        lines = [
            Series(
                f"{'run' if n == run_number else 'reference'} {n}",
                [(ls, v * factor if v is not None else None) for ls, v in series[n][quantity]],
                css,
            )
            for n, css in zip(numbers, ("run-line", "reference-line"), strict=False)
            if n in series
        ]
        # The unit goes in the visible title: inside the chart it sat on the top tick.
        full_title = f"{title} per lumisection ({display.unit_words(unit)})" if unit else f"{title} per lumisection"
        svg = line_chart_svg(title=full_title, unit="", series=lines)
        if svg:
            charts.append(Chart(full_title, svg))
    return charts


def _side_by_side_rows(shown_run: dict, shown_reference: dict, lumi_unit: str) -> list[tuple[str, str, str]]:
    labels = {
        "init_lumi": f"Initial inst. luminosity ({display.unit_words(lumi_unit)})",
        "end_lumi": f"End inst. luminosity ({display.unit_words(lumi_unit)})",
    }
    return [(labels.get(name, label), shown_run[name], shown_reference[name]) for name, label in display.SHOWN]


def run_page_build(*, run_number: int, reconstruction: str, user) -> RunPage | None:
    """The run page of `run_number` in `reconstruction` as `user` sees it; None when
    RefRun has no OMS data for the run."""
    run = selectors.run_for_page(run_number=run_number)
    if run is None:
        return None
    error = ""
    active = selectors.model_version_active()
    try:
        recommendations = ranking_reads.recommendations_shown(
            run_number=run_number, reconstruction=reconstruction, model_version=active
        )
    except ModelArtifactError as exc:
        # A model file that fails its checks must not take the page down; say so.
        recommendations, error = [], f"The active model cannot be used ({exc}). A shift leader should retrain."
    top = recommendations[0] if recommendations else None
    run_reconstruction = selectors.run_reconstruction_for_page(run=run, reconstruction=reconstruction)
    decisions = selectors.decisions_for(run_reconstruction=run_reconstruction)
    labels = selectors.labels_for(run_reconstruction=run_reconstruction)
    state = (
        policy.decision_state_shown(run_reconstruction=run_reconstruction, decisions=decisions, labels=labels)
        if run_reconstruction
        else None
    )
    conditions_known = selectors.run_conditions_known(run)
    references = [r.reference_run_number for r in recommendations]
    facts = ranking_reads.reference_facts(run=run, reconstruction=reconstruction, reference_run_numbers=references)
    datasets = selectors.datasets_for(run_numbers=[run_number, *references], reconstruction=reconstruction)
    dqm = dqm_datasets_for(run_numbers=[run_number, *references], reconstruction=reconstruction)
    reference_tracker = tracker_flags_by_run_number(run_numbers=references)
    if top is not None and active is not None and top.model_version_id == active.pk:
        model_version = active
    else:
        model_version = selectors.model_version_for(pk=top.model_version_id) if top else None
    rows = []
    for result in recommendations:
        context = reasons.Context(
            run_class=run.run_class,
            reconstruction=reconstruction,
            facts=facts.get(result.reference_run_number),
            side_by_side={row.name: (row.run_value, row.reference_value) for row in result.side_by_side},
            run_start=run.start_time,
        )
        rows.append(
            CandidateRow(
                result=result,
                sentences=reasons.sentences(
                    reasons=result.reasons, context=context, model_used=result.model_version_id is not None
                ),
                links=links.reference_links(
                    run_number=run_number,
                    dataset=dqm[run_number].name,
                    reference_run_number=result.reference_run_number,
                    reference_dataset=dqm[result.reference_run_number].name,
                ),
                reference_dataset=datasets.get(result.reference_run_number, ""),
                tracker=reference_tracker.get(result.reference_run_number),
                pv_mean=context.side_by_side.get("pv_mean", (None, None))[1],
            )
        )
    confidence = (
        reasons.confidence_for(
            score=top.score,
            evaluation=model_version.evaluation if model_version else None,
            conditions_known=conditions_known,
            declared=bool(top.reasons) and top.reasons[0].feature == RULE_DECLARED,
        )
        if top
        else None
    )
    shown = (
        shown_sign(
            run_number=run_number,
            reconstruction=reconstruction,
            model_version_id=top.model_version_id,
            references=references,
        )
        if top
        else ""
    )
    is_leader = is_shift_leader(user)
    declared = ranking_reads.declaration_covering(run=run, reconstruction=reconstruction)
    stale = ranking_reads.declarations_stale().get(declared.pk) if declared is not None and is_leader else None
    conflicts = (
        selectors.conditions_conflicting(
            run=run, reconstruction=reconstruction, reference_run_number=top.reference_run_number
        )
        if top
        else []
    )
    # One row per run, read once: the summary and the side-by-side table show the same texts.
    shown_numbers = [run_number] + ([top.reference_run_number] if top else [])
    run_rows = run_rows_by_number(run_numbers=shown_numbers)
    scale = display.instant_lumi_scale(row[name] for row in run_rows.values() for name in ("init_lumi", "end_lumi"))
    values = {n: display.run_values_shown(run_rows.get(n, {}), scale=scale) for n in shown_numbers}
    lumisection_shown = lumisection_runs(
        run_number=run_number,
        reference_run_number=top.reference_run_number if top else None,
        summaries=lumisection_summaries(run_numbers=shown_numbers),
    )
    charted = charted_runs(lumisection_shown)
    return RunPage(
        run=run,
        tracker=selectors.tracker_certification_for_page(run=run, reconstruction=reconstruction),
        reconstruction=reconstruction,
        reconstructions=Reconstruction.choices,
        recommendations=recommendations,
        rows=rows,
        top=top,
        shown=shown,
        error=error,
        state=state,
        may_decide=state is None or state.open_for(user),
        can_reopen=state is not None and not state.is_open and is_leader,
        is_leader=is_leader,
        declared=declared,
        declared_stale=stale,
        conflicts=conflicts,
        declaration_form=DeclarationForm.prefilled(run=run, reconstruction=reconstruction) if is_leader else None,
        conditions_known=conditions_known,
        confidence=confidence,
        decisions=decisions,
        labels=labels,
        charts=_lumisection_charts(*charted) if charted else [],
        lumisection_notes=[shown_run.note for shown_run in lumisection_shown if shown_run.note],
        tracker_hv_runs=tracker_hv_runs(lumisection_shown),
        bunches=display.colliding_bunches(run),
        values=values[run_number],
        side_by_side=_side_by_side_rows(values[run_number], values[top.reference_run_number], scale[1]) if top else [],
        run_dqm_url=links.dqm_gui_run_url(run_number=run_number, dataset=dqm[run_number].name),
        run_dqm_dataset=dqm[run_number],
        run_oms_url=links.oms_run_url(run_number),
        fill_oms_url=links.oms_fill_url(run.fill.fill_number) if run.fill else "",
    )
