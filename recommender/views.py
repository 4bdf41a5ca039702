"""The shifter's pages. Each view parses input, calls one page builder (recommender/pages/) or service, renders."""

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import shift_leader_required, shifter_required
from accounts.roles import is_shift_leader
from ingestion.models import RunClass
from jobs.models import JobKind
from jobs.selectors import job_running, jobs_newest

from . import selectors, services
from .exceptions import InvalidDeclaration, InvalidFeedback
from .exports import csv_write
from .forms import DeclarationForm, FeedbackForm, RunFilterForm, RunLookupForm
from .models import Reconstruction
from .pages.model_page import model_page_build
from .pages.references_page import REFERENCE_EXPORT_FIELDS, reference_export_rows, references_page_build
from .pages.run_page import run_page_build
from .pages.runs_page import runs_page_build
from .throttles import FeedbackWriteThrottle

T = TypeVar("T")

JOBS_SHOWN = 50


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
    page = runs_page_build(filters=form.cleaned_data if form.is_valid() else {}, page_number=request.GET.get("page"))
    query = data.copy()
    query.pop("page", None)
    context = {**page.as_context(), "form": form, "lookup": lookup, "query": query.urlencode()}
    return render(request, "recommender/run_list.html", context)


def _run_page(
    request: HttpRequest,
    run_number: int,
    reconstruction: str,
    *,
    form: FeedbackForm | None = None,
    open_reject: bool = False,
    status: int = 200,
) -> HttpResponse:
    page = run_page_build(run_number=run_number, reconstruction=reconstruction, user=request.user)
    if page is None:
        return render(
            request,
            "recommender/run_missing.html",
            {
                "run_number": run_number,
                "problem": "RefRun has no OMS data for this run: check the number, or wait for the next OMS sync.",
            },
            status=404,
        )
    form = form if form is not None else FeedbackForm(initial=page.feedback_initial())
    context = {**page.as_context(), "form": form, "open_reject": open_reject}
    return render(request, "recommender/run_detail.html", context, status=status)


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
    _report(
        request,
        lambda: services.run_reconstruction_reopen(
            user=request.user, run_number=run_number, reconstruction=reconstruction
        ),
        refused=InvalidFeedback,
        not_done="Not reopened",
        done=lambda _: f"Run {run_number} ({reconstruction}) is open for a new decision.",
    )
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
        _report(
            request,
            lambda: services.declared_reference_declare(user=request.user, **form.declaration()),
            refused=InvalidDeclaration,
            not_done="Not declared",
            done=lambda declared: (
                f"Run {declared.run_reconstruction.run.run_number} ({declared.run_reconstruction.reconstruction}) "
                f"is the declared reference from run {declared.from_run} on."
            ),
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
    _report(
        request,
        lambda: services.declared_reference_end(user=request.user, declaration_id=pk, until_run=until_run),
        refused=InvalidDeclaration,
        not_done="Not ended",
        done=lambda _: f"The declaration ends with run {until_run}.",
    )
    return redirect("recommender:reference_list")


def _report(
    request: HttpRequest,
    action: Callable[[], T],
    *,
    refused: type[Exception],
    not_done: str,
    done: Callable[[T], str],
) -> None:
    """Call a shift leader's service and tell them what came of it: `<not_done>: <why>.`
    when the service refuses, else `done(<its result>)`."""
    try:
        result = action()
    except refused as exc:
        messages.error(request, f"{not_done}: {exc}.")
    else:
        messages.success(request, done(result))


def _months(request: HttpRequest) -> int:
    try:
        months = int(request.GET.get("months", selectors.TIMELINE_MONTHS))
    except ValueError:
        months = selectors.TIMELINE_MONTHS
    return min(max(months, 1), 36)


@shifter_required
def reference_list(request: HttpRequest) -> HttpResponse:
    page = references_page_build(months=_months(request), is_leader=is_shift_leader(request.user))
    return render(request, "recommender/reference_list.html", page.as_context())


@shifter_required
def reference_list_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="refrun-references.csv"'
    rows = reference_export_rows(months=_months(request))
    csv_write(response, fieldnames=REFERENCE_EXPORT_FIELDS, rows=rows)
    return response


@shifter_required
def reference_list_json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"references": reference_export_rows(months=_months(request))})


@shifter_required
def model_detail(request: HttpRequest) -> HttpResponse:
    return render(request, "recommender/model_detail.html", model_page_build().as_context())


@shift_leader_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = jobs_newest(limit=JOBS_SHOWN)
    return render(request, "recommender/job_list.html", {"jobs": jobs, "run_classes": RunClass.choices})


@require_POST
@shift_leader_required
def job_trigger(request: HttpRequest, kind: str) -> HttpResponse:
    from ingestion.tasks import runs_sync as runs_sync_task

    from .tasks import certhelper_sync as certhelper_sync_task
    from .tasks import model_version_train as model_version_train_task

    tasks = {"oms": runs_sync_task, "certhelper": certhelper_sync_task, "retrain": model_version_train_task}
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
