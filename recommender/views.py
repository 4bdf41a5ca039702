"""The shifter's pages. Each view parses input, calls one selector or service, renders."""

from dataclasses import dataclass

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import shift_leader_required, shifter_required
from accounts.roles import is_shift_leader
from ingestion.models import RunClass
from ingestion.selectors import (
    lumisection_series,
    lumisection_summaries,
    run_rows_by_number,
    tracker_flags_by_run_number,
)
from jobs.models import JobKind
from jobs.selectors import job_running, jobs_newest

from . import display, links, policy, ranking_reads, reasons, run_list_rows, selectors, services
from .charts import Series, charted_runs, line_chart_svg, lumisection_runs, tracker_hv_runs
from .dqm_datasets import dqm_datasets_for
from .exceptions import InvalidDeclaration, InvalidFeedback, ModelArtifactError
from .exports import csv_write
from .forms import DeclarationForm, FeedbackForm, RunFilterForm, RunLookupForm
from .models import Reconstruction
from .shown import shown_sign
from .throttles import FeedbackWriteThrottle
from .timeline import timeline_svg

RUNS_PER_PAGE = 50
JOBS_SHOWN = 50


def _run_hrefs() -> tuple[str, str]:
    """The run pages' URLs as format strings, from one reverse() each: a reverse() per
    link, three per row, cost a third of the runs page."""
    sentinel = "987654321"
    default = reverse("recommender:run_detail_default", args=[sentinel])
    # The route takes known reconstructions only: express stands in for {reco}.
    detail = reverse("recommender:run_detail", args=[sentinel, Reconstruction.EXPRESS])
    detail = detail.replace(f"/{sentinel}/{Reconstruction.EXPRESS}/", "/{run}/{reco}/")
    return default.replace(sentinel, "{run}"), detail


def _given(filters: dict) -> list[str]:
    return [name for name, value in filters.items() if value not in (None, "")]


@shifter_required
def run_list(request: HttpRequest) -> HttpResponse:
    lookup = RunLookupForm(request.GET if "run_number" in request.GET else None)
    if lookup.is_valid():
        return redirect("recommender:run_detail_default", run_number=lookup.cleaned_data["run_number"])
    data = request.GET.copy()
    if not any(name in data for name in RunFilterForm.base_fields):
        # The landing page is the work queue, newest first: its first run has decision forms.
        data["status"] = selectors.Status.AWAITING
    form = RunFilterForm(data)
    filters = form.cleaned_data if form.is_valid() else {}
    runs = selectors.runs_for_list(
        run_class=filters.get("run_class") or "",
        reconstruction=filters.get("reconstruction") or "",
        status=filters.get("status") or "",
        run_min=filters.get("run_min"),
        run_max=filters.get("run_max"),
    )
    counts = selectors.run_list_counts()
    paginator = Paginator(runs, RUNS_PER_PAGE)
    if not any(filters.values()):
        paginator.count = counts.runs  # every run: counted with the awaiting runs, cached
    elif set(_given(filters)) - {"reconstruction"} == {"status"} and filters["status"] == selectors.Status.AWAITING:
        # A work queue (the landing page's, or one reconstruction's): counted with the others, cached.
        queues = {"": counts.queue, **counts.awaiting}
        reconstruction = filters.get("reconstruction") or ""
        if reconstruction in queues:
            paginator.count = queues[reconstruction]
    page = paginator.get_page(request.GET.get("page"))
    recos = selectors.reco_rows_for([run["id"] for run in page])
    run_href, reco_href = _run_hrefs()
    rows = [run_list_rows.row(run, recos[run["id"]], run_href, reco_href) for run in page]
    query = data.copy()
    query.pop("page", None)
    return render(
        request,
        "recommender/run_list.html",
        {
            "form": form,
            "lookup": lookup,
            "page": page,
            "rows_html": run_list_rows.rows_html(rows),
            "query": query.urlencode(),
            "awaiting": counts.awaiting,
            "needed": _needed_rows(),
            "showing_awaiting": filters.get("status") == selectors.Status.AWAITING,
            "reconstruction": filters.get("reconstruction") or "",
        },
    )


@dataclass(frozen=True)
class Chart:
    title: str  # shown above the chart, not only as its tooltip
    svg: str


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


@dataclass(frozen=True)
class CandidateRow:
    """One of the five recommendations as the run page shows it."""

    result: object  # RecommendationResult
    sentences: list
    links: links.ReferenceLinks
    reference_dataset: str
    tracker: dict | None  # the reference's Run Registry flags {"pixel", "strip", "tracking"}
    pv_mean: float | None  # the reference's mean primary vertices


def _side_by_side_rows(shown_run: dict, shown_reference: dict, lumi_unit: str) -> list[tuple[str, str, str]]:
    labels = {
        "init_lumi": f"Initial inst. luminosity ({display.unit_words(lumi_unit)})",
        "end_lumi": f"End inst. luminosity ({display.unit_words(lumi_unit)})",
    }
    return [(labels.get(name, label), shown_run[name], shown_reference[name]) for name, label in display.SHOWN]


def _run_page(
    request: HttpRequest,
    run_number: int,
    reconstruction: str,
    *,
    form: FeedbackForm | None = None,
    open_reject: bool = False,
    status: int = 200,
) -> HttpResponse:
    run = selectors.run_for_page(run_number=run_number)
    if run is None:
        return render(
            request,
            "recommender/run_missing.html",
            {
                "run_number": run_number,
                "problem": "RefRun has no OMS data for this run: check the number, or wait for the next OMS sync.",
            },
            status=404,
        )
    error = ""
    active = selectors.model_version_active()
    try:
        # Read only: the stored ranking, or one computed now in memory (nothing written).
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
    may_decide = state is None or state.open_for(request.user)
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
            declared=bool(top.reasons) and top.reasons[0].feature == "rule_declared",
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
    if form is None:
        form = FeedbackForm(
            initial={
                "recommended_run_number": top.reference_run_number if top else None,
                "model_version_id": top.model_version_id if top else None,
                "shown": shown,
            }
        )
    is_leader = is_shift_leader(request.user)
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
    return render(
        request,
        "recommender/run_detail.html",
        {
            "run": run,
            "tracker": selectors.tracker_certification_for_page(run=run, reconstruction=reconstruction),
            "reconstruction": reconstruction,
            "reconstructions": Reconstruction.choices,
            "recommendations": recommendations,
            "rows": rows,
            "top": top,
            "shown": shown,
            "error": error,
            "form": form,
            "open_reject": open_reject,
            "state": state,
            "may_decide": may_decide,
            "can_reopen": state is not None and not state.is_open and is_leader,
            "is_leader": is_leader,
            "declared": declared,
            "declared_stale": stale,
            "conflicts": conflicts,
            "declaration_form": DeclarationForm.prefilled(run=run, reconstruction=reconstruction)
            if is_leader
            else None,
            "conditions_known": conditions_known,
            "confidence": confidence,
            "decisions": decisions,
            "labels": labels,
            "charts": _lumisection_charts(*charted) if (charted := charted_runs(lumisection_shown)) else [],
            "lumisection_notes": [shown_run.note for shown_run in lumisection_shown if shown_run.note],
            "tracker_hv_runs": tracker_hv_runs(lumisection_shown),
            "bunches": display.colliding_bunches(run),
            "values": values[run_number],
            "side_by_side": _side_by_side_rows(values[run_number], values[top.reference_run_number], scale[1])
            if top
            else [],
            "run_dqm_url": links.dqm_gui_run_url(run_number=run_number, dataset=dqm[run_number].name),
            "run_dqm_dataset": dqm[run_number],
            "run_oms_url": links.oms_run_url(run_number),
            "fill_oms_url": links.oms_fill_url(run.fill.fill_number) if run.fill else "",
        },
        status=status,
    )


@shifter_required
def run_detail(request: HttpRequest, run_number: int, reconstruction: str = Reconstruction.EXPRESS) -> HttpResponse:
    return _run_page(request, run_number, reconstruction)


@shifter_required
def run_reconstruction_unknown(request: HttpRequest, run_number: int, unknown: str) -> HttpResponse:
    # Only the run page's address gets here (<reconstruction:> routes take known names only).
    return render(
        request,
        "recommender/run_missing.html",
        {"run_number": run_number, "problem": f"“{unknown}” is not a reconstruction type."},
        status=404,
    )


@require_POST
@shifter_required
def feedback_submit(request: HttpRequest, run_number: int, reconstruction: str) -> HttpResponse:
    form = FeedbackForm(request.POST)
    rejecting = request.POST.get("decision") == "rejected"
    if not form.is_valid():
        # Show the page again with what the shifter typed, the reject panel open.
        return _run_page(request, run_number, reconstruction, form=form, open_reject=rejecting, status=400)
    if not FeedbackWriteThrottle().allow_request(request, None):
        form.add_error(None, "Not recorded: too many decisions in a short time; wait a few minutes and try again.")
        return _run_page(request, run_number, reconstruction, form=form, open_reject=rejecting, status=429)
    data = form.cleaned_data
    try:
        services.feedback_record(
            user=request.user,
            run_number=run_number,
            reconstruction=reconstruction,
            decision=data["decision"],
            recommended_run_number=data["recommended_run_number"],
            alternative_run_number=data.get("alternative_run_number"),
            reason=data.get("reason") or "",
            model_version_id=data.get("model_version_id"),
            shown=data.get("shown") or "",
        )
    except InvalidFeedback as exc:
        form.add_error(None, f"Not recorded: {exc}.")
        return _run_page(request, run_number, reconstruction, form=form, open_reject=rejecting, status=400)
    recorded = f"Your decision on run {run_number} ({reconstruction}) is recorded."
    following = selectors.next_awaiting_run(reconstruction=reconstruction, after_run_number=run_number)
    if following is None:
        messages.success(request, f"{recorded} No run is left awaiting a decision for {reconstruction}.")
        return redirect(f"{reverse('recommender:run_list')}?status=awaiting&reconstruction={reconstruction}")
    left = selectors.runs_awaiting(reconstruction=reconstruction).count()
    messages.success(
        request, f"{recorded} Next: run {following}, {left} left awaiting a decision for {reconstruction}."
    )
    return redirect("recommender:run_detail", run_number=following, reconstruction=reconstruction)


@require_POST
@shift_leader_required
def run_reopen(request: HttpRequest, run_number: int, reconstruction: str) -> HttpResponse:
    """A shift leader reopens a decided run reconstruction (the shared decision policy)."""
    try:
        services.run_reconstruction_reopen(user=request.user, run_number=run_number, reconstruction=reconstruction)
    except InvalidFeedback as exc:
        messages.error(request, f"Not reopened: {exc}.")
    else:
        messages.success(request, f"Run {run_number} ({reconstruction}) is open for a new decision.")
    return redirect("recommender:run_detail", run_number=run_number, reconstruction=reconstruction)


@require_POST
@shift_leader_required
def reference_declare(request: HttpRequest) -> HttpResponse:
    """A shift leader declares a reference, from a run page or /references/."""
    form = DeclarationForm(request.POST)
    back_to_run = request.POST.get("back") == "run"
    if not form.is_valid():
        problems = "; ".join(
            f"{form.fields[name].label or name}: {' '.join(errors)}"
            for name, errors in form.errors.items()
            if name in form.fields
        )
        messages.error(request, f"Not declared: {problems or 'check the form'}.")
    else:
        try:
            declared = services.declared_reference_declare(user=request.user, **form.declaration())
        except InvalidDeclaration as exc:
            messages.error(request, f"Not declared: {exc}.")
        else:
            messages.success(
                request,
                f"Run {declared.run_reconstruction.run.run_number} ({declared.run_reconstruction.reconstruction}) "
                f"is the declared reference from run {declared.from_run} on.",
            )
    run_number = form.cleaned_data.get("run_number") if form.is_valid() else None
    if back_to_run and run_number:
        return redirect(
            "recommender:run_detail", run_number=run_number, reconstruction=form.cleaned_data["reconstruction"]
        )
    return redirect("recommender:reference_list")


@require_POST
@shift_leader_required
def reference_end(request: HttpRequest, pk: int) -> HttpResponse:
    """A shift leader ends a declaration at a run (nothing is deleted)."""
    try:
        until_run = int(request.POST.get("until_run", ""))
    except ValueError:
        messages.error(request, "Not ended: give the last run the declaration applies to, as a number.")
        return redirect("recommender:reference_list")
    try:
        services.declared_reference_end(user=request.user, declaration_id=pk, until_run=until_run)
    except InvalidDeclaration as exc:
        messages.error(request, f"Not ended: {exc}.")
    else:
        messages.success(request, f"The declaration ends with run {until_run}.")
    return redirect("recommender:reference_list")


REFERENCE_EXPORT_FIELDS = [
    "run_class",
    "reconstruction",
    "reference_run_number",
    "is_current",
    "is_declared",
    "since_run",
    "since",
    "runs_used",
    "note",
    "dataset",
]


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", selectors.TIMELINE_MONTHS))
    except ValueError:
        months = selectors.TIMELINE_MONTHS
    return min(max(months, 1), 36)


@shifter_required
def reference_list(request: HttpRequest) -> HttpResponse:
    is_leader = is_shift_leader(request.user)
    months = _months(request)
    overview = selectors.references_in_use(months=months)
    run_classes, recos = dict(RunClass.choices), dict(Reconstruction.choices)
    groups = [
        (f"{run_classes.get(run_class, run_class or 'class unknown')} {recos.get(reco, reco)}", segments)
        for (run_class, reco), segments in overview.timeline.items()
    ]
    svg = timeline_svg(
        title=f"Reference used per run class and reconstruction, last {months} months of runs",
        groups=groups,
        run_range=overview.run_range,
    )
    return render(
        request,
        "recommender/reference_list.html",
        {
            "overview": overview,
            "rows": [
                (
                    u,
                    run_classes.get(u.run_class, u.run_class or "class unknown"),
                    recos.get(u.reconstruction, u.reconstruction),
                )
                for u in overview.in_use
            ],
            "timeline": svg,
            "months": months,
            "run_classes": run_classes,
            "reconstructions": recos,
            "is_leader": is_leader,
            "declarations": _declaration_rows(),
            "needed": _needed_rows(),
            "declaration_form": DeclarationForm() if is_leader else None,
        },
    )


@dataclass(frozen=True)
class DeclarationRow:
    declaration: object  # DeclaredReference
    scope: str
    stale_reference: int | None  # what the shifters use instead, when the declaration looks stale
    stale_streak: int


@dataclass(frozen=True)
class NeededRow:
    """A group of runs that need a reference, with the fields a one-click declaration posts."""

    run_class: str
    run_class_words: str
    reconstruction: str
    reference_in_use: int
    new: str
    since_run: int
    runs_waiting: int
    proposals: list
    declare_fields: list  # (name, value) of the conditions the declaration names


def _needed_rows() -> list[NeededRow]:
    rows = []
    for g in ranking_reads.references_needed():
        c = g.conditions
        fields = [("note", f"declared for {g.new}")]
        if c.b_field == c.b_field:  # known
            fields.append(("b_field", "on" if c.b_field > 1.0 else "off"))
        if c.apv_mode and g.run_class == RunClass.COSMICS:
            fields.append(("apv_mode", c.apv_mode))
        if c.beam and g.run_class != RunClass.COSMICS:
            fields.append(("beam", c.beam))
        rows.append(
            NeededRow(
                g.run_class,
                reasons.RUN_CLASS_WORDS.get(g.run_class, g.run_class),
                g.reconstruction,
                g.reference_in_use,
                g.new,
                g.since_run,
                g.runs_waiting,
                g.proposals,
                fields,
            )
        )
    return rows


def _declaration_rows() -> list[DeclarationRow]:
    stale = ranking_reads.declarations_stale()
    rows = []
    for declaration in selectors.declared_references():
        instead = stale.get(declaration.pk)
        scope = reasons.declaration_scope_words(declaration)
        rows.append(DeclarationRow(declaration, scope, instead[0] if instead else None, instead[1] if instead else 0))
    return rows


def _export_rows(request: HttpRequest) -> list[dict]:
    overview = selectors.references_in_use(months=_months(request))
    rows = []
    for item in overview.in_use:
        row = {name: getattr(item, name) for name in REFERENCE_EXPORT_FIELDS}
        row["since"] = item.since.isoformat() if item.since else None
        rows.append(row)
    return rows


@shifter_required
def reference_list_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="refrun-references.csv"'
    csv_write(response, fieldnames=REFERENCE_EXPORT_FIELDS, rows=_export_rows(request))
    return response


@shifter_required
def reference_list_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"references": _export_rows(request)})


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


@shifter_required
def model_detail(request: HttpRequest) -> HttpResponse:
    active = selectors.model_version_active()
    accuracy = selectors.model_accuracy_by_month()
    chart = line_chart_svg(
        title="Share of first choices that were the reference used, by month",
        unit="",
        series=[Series("top-1", [(i + 1, m.top1) for i, m in enumerate(accuracy)], "run-line")],
    )
    return render(
        request,
        "recommender/model_detail.html",
        {
            "active": active,
            "versions": selectors.model_versions()[:20],
            "accuracy": accuracy,
            "accuracy_chart": chart if len(accuracy) > 1 else "",
            "acceptance": selectors.first_choice_acceptance(model_version=active),
            "evaluation_rows": _evaluation_rows(active.evaluation if active else None),
        },
    )


@shift_leader_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = jobs_newest(limit=JOBS_SHOWN)
    return render(request, "recommender/job_list.html", {"jobs": jobs, "run_classes": RunClass.choices})


@require_POST
@shift_leader_required
def job_trigger(request: HttpRequest, kind: str) -> HttpResponse:
    from ingestion.tasks import sync_oms as sync_oms_task

    from .tasks import retrain as retrain_task
    from .tasks import sync_certhelper as sync_certhelper_task

    tasks = {"oms": sync_oms_task, "certhelper": sync_certhelper_task, "retrain": retrain_task}
    if kind not in tasks:
        raise Http404(f"unknown job {kind!r}")
    kinds = {"oms": JobKind.OMS_SYNC, "certhelper": JobKind.CERTHELPER_SYNC, "retrain": JobKind.TRAINING}
    running = job_running(kind=kinds[kind])
    if running is not None:
        messages.info(request, f"Not queued: {kind} is already running (job #{running.pk}); see its progress below.")
        return redirect("recommender:job_list")
    transaction.on_commit(lambda: tasks[kind].delay())
    messages.success(request, f"Queued: {kind}. It appears below when a worker starts it.")
    return redirect("recommender:job_list")
