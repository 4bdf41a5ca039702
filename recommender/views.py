"""The shifter's pages. Each view parses input, calls one selector or service, renders."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ingestion.models import IngestionJob, JobKind, RunClass
from ingestion.selectors import lumisection_series
from ingestion.services import job_running

from . import selectors, services
from .charts import Series, line_chart_svg
from .exceptions import InvalidFeedback, ModelArtifactError
from .forms import FeedbackForm, RunFilterForm, RunLookupForm
from .models import Reconstruction
from .roles import is_shift_leader, is_shifter
from .throttles import FeedbackWriteThrottle

RUNS_PER_PAGE = 50
JOBS_SHOWN = 50


def shifter_required(view):
    """Logged in (else to the login page) and holding a role (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_shifter(request.user):
            raise PermissionDenied("RefRun is for shifters, shift leaders and admins.")
        return view(request, *args, **kwargs)

    return wrapper


def shift_leader_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_shift_leader(request.user):
            raise PermissionDenied("Only shift leaders and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper


@shifter_required
def run_list(request: HttpRequest) -> HttpResponse:
    lookup = RunLookupForm(request.GET if "run_number" in request.GET else None)
    if lookup.is_valid():
        return redirect("recommender:run_detail_default", run_number=lookup.cleaned_data["run_number"])
    form = RunFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    runs = selectors.runs_for_certification(
        run_class=filters.get("run_class") or "",
        reconstruction=filters.get("reconstruction") or "",
        status=filters.get("status") or "",
        run_min=filters.get("run_min"),
        run_max=filters.get("run_max"),
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [(run, selectors.reco_rows(run)) for run in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "recommender/run_list.html",
        {"form": form, "lookup": lookup, "page": page, "rows": rows, "query": query.urlencode()},
    )


def _lumisection_charts(run_number: int, reference_run_number: int | None) -> list[str]:
    numbers = [run_number] + ([reference_run_number] if reference_run_number else [])
    series = lumisection_series(run_numbers=numbers)
    charts = []
    for quantity, title, unit in (
        ("init_lumi", "Instantaneous luminosity", "10³⁴ cm⁻² s⁻¹"),
        ("pileup", "Pileup", "interactions / crossing"),
    ):
        lines = [
            Series(f"{'run' if n == run_number else 'reference'} {n}", series[n][quantity], css)
            for n, css in zip(numbers, ("run-line", "reference-line"), strict=False)
            if n in series
        ]
        svg = line_chart_svg(title=f"{title} per lumisection", unit=unit, series=lines)
        if svg:
            charts.append(svg)
    return charts


@shifter_required
def run_detail(request: HttpRequest, run_number: int, reconstruction: str = Reconstruction.EXPRESS) -> HttpResponse:
    if reconstruction not in Reconstruction.values:
        return render(
            request,
            "recommender/run_missing.html",
            {"run_number": run_number, "problem": f"“{reconstruction}” is not a reconstruction type."},
            status=404,
        )
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
    try:
        recommendations = services.recommendations_store(run_number=run_number, reconstruction=reconstruction)
    except ModelArtifactError as exc:
        # A model file that fails its checks must not take the page down; say so.
        recommendations, error = [], f"The active model cannot be used ({exc}). A shift leader should retrain."
    top = recommendations[0] if recommendations else None
    form = FeedbackForm(
        initial={
            "recommended_run_number": top.reference_run_number if top else None,
            "model_version_id": top.model_version_id if top else None,
        }
    )
    return render(
        request,
        "recommender/run_detail.html",
        {
            "run": run,
            "reconstruction": reconstruction,
            "reconstructions": Reconstruction.choices,
            "recommendations": recommendations,
            "top": top,
            "error": error,
            "form": form,
            "decisions": selectors.decisions_for(run=run, reconstruction=reconstruction),
            "labels": selectors.labels_for(run=run, reconstruction=reconstruction),
            "charts": _lumisection_charts(run_number, top.reference_run_number if top else None),
        },
    )


@require_POST
@shifter_required
def feedback_submit(request: HttpRequest, run_number: int, reconstruction: str) -> HttpResponse:
    form = FeedbackForm(request.POST)
    target = reverse("recommender:run_detail", kwargs={"run_number": run_number, "reconstruction": reconstruction})
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(
                    request, f"{form.fields[field].label or field}: {error}" if field != "__all__" else error
                )
        return redirect(target)
    if not FeedbackWriteThrottle().allow_request(request, None):
        messages.error(request, "Not recorded: Too many decisions in a short time; wait a few minutes and try again.")
        return redirect(target)
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
        )
    except InvalidFeedback as exc:
        messages.error(request, f"Not recorded: {exc}.")
    else:
        messages.success(request, f"Your decision on run {run_number} ({reconstruction}) is recorded.")
    return redirect(target)


@shifter_required
def model_detail(request: HttpRequest) -> HttpResponse:
    active = selectors.model_version_active()
    accuracy = selectors.model_accuracy_by_month()
    chart = line_chart_svg(
        title="First-choice accuracy by month",
        unit="top-1",
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
        },
    )


@shift_leader_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = IngestionJob.objects.order_by("-created_at")[:JOBS_SHOWN]
    return render(request, "recommender/job_list.html", {"jobs": jobs, "run_classes": RunClass.choices})


@require_POST
@shift_leader_required
def job_trigger(request: HttpRequest, kind: str) -> HttpResponse:
    from ingestion.tasks import sync_certhelper as sync_certhelper_task
    from ingestion.tasks import sync_oms as sync_oms_task

    from .tasks import retrain as retrain_task

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
