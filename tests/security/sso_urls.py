"""RefRun's URLs as a deployment with CERN SSO has them (refrun/urls.py adds
the /oidc/ routes only when OIDC is on when it is imported)."""

from django.urls import include, path

from refrun.urls import urlpatterns as refrun_urlpatterns

urlpatterns = [path("oidc/", include("mozilla_django_oidc.urls")), *refrun_urlpatterns]
