"""Logging in and out. The names stay un-namespaced (`login`, `logout`): Django's
LOGIN_URL, the admin and mozilla-django-oidc's OIDC_EXEMPT_URLS use them."""

from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from mozilla_django_oidc.views import OIDCLogoutView

from .login import RateLimitedLoginView

urlpatterns = [
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # One login page, so the admin's is rate-limited as well (`next` is kept).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
]

# With CERN SSO on, logging out also ends the session at CERN (see
# accounts.oidc.provider_logout_url): on a shared console, the next person's
# "Log in with CERN SSO" must not sign them in as the last one.
SSO_URLPATTERNS = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("logout/", OIDCLogoutView.as_view(), name="logout"),
]
