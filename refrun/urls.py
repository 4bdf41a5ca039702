from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from mozilla_django_oidc.views import OIDCLogoutView

from recommender.login import RateLimitedLoginView

urlpatterns = [
    path("login/", RateLimitedLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # One login page, so the admin's is rate-limited as well (`next` is kept).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("admin/", admin.site.urls),
    path("api/", include("recommender.api_urls")),
    path("", include("operations.urls")),
    path("", include("recommender.urls")),
]

# With CERN SSO on, logging out also ends the session at CERN (see
# recommender.oidc.provider_logout_url): on a shared console, the next person's
# "Log in with CERN SSO" must not sign them in as the last one.
SSO_URLPATTERNS = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("logout/", OIDCLogoutView.as_view(), name="logout"),
]
if settings.OIDC_ENABLED:
    urlpatterns = SSO_URLPATTERNS + urlpatterns
