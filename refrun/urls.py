from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from accounts.urls import SSO_URLPATTERNS

urlpatterns = [
    # First: accounts' admin/login/ redirect must win over the admin's own login page.
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("recommender.api_urls")),
    path("", include("operations.urls")),
    path("", include("recommender.urls")),
]

if settings.OIDC_ENABLED:
    urlpatterns = SSO_URLPATTERNS + urlpatterns
