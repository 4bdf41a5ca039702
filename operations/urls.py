from django.urls import path

from . import views

app_name = "operations"

# ProbeMiddleware answers these paths first; the routes keep reverse() and a
# project without that middleware working.
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics_view, name="metrics"),
]
