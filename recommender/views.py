from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ingestion.models import RunClass

from . import selectors
from .forms import RunFilterForm

RUNS_PER_PAGE = 50


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    runs = selectors.runs_for_certification(
        run_class=filters.get("run_class") or "",
        run_min=filters.get("run_min"),
        run_max=filters.get("run_max"),
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "recommender/run_list.html",
        {"form": form, "page": page, "run_classes": RunClass.choices},
    )
