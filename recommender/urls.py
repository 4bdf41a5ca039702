from django.urls import path

from . import converters, views  # noqa: F401 (importing converters registers <reconstruction:>)

app_name = "recommender"

urlpatterns = [
    path("", views.run_list, name="run_list"),
    path("runs/<int:run_number>/", views.run_detail, name="run_detail_default"),
    path("runs/<int:run_number>/<reconstruction:reconstruction>/", views.run_detail, name="run_detail"),
    path(
        "runs/<int:run_number>/<reconstruction:reconstruction>/feedback/", views.feedback_submit, name="feedback_submit"
    ),
    path("runs/<int:run_number>/<reconstruction:reconstruction>/reopen/", views.run_reopen, name="run_reopen"),
    # A mistyped reconstruction in a run page's address: a 404 that says so.
    path("runs/<int:run_number>/<str:unknown>/", views.run_reconstruction_unknown),
    path("references/", views.reference_list, name="reference_list"),
    path("references/declare/", views.reference_declare, name="reference_declare"),
    path("references/<int:pk>/end/", views.reference_end, name="reference_end"),
    path("references/export.csv", views.reference_list_csv, name="reference_list_csv"),
    path("references/export.json", views.reference_list_json, name="reference_list_json"),
    path("model/", views.model_detail, name="model_detail"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<str:kind>/trigger/", views.job_trigger, name="job_trigger"),
]
