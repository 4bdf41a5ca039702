"""django-oauth-toolkit's views at a Keycloak realm's paths."""

from django.contrib.auth import views as auth_views
from django.urls import path
from oauth2_provider import views

REALM = "realms/cern/protocol/openid-connect"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path(f"{REALM}/auth", views.AuthorizationView.as_view(), name="authorize"),
    path(f"{REALM}/token", views.TokenView.as_view(), name="token"),
    path(f"{REALM}/userinfo", views.UserInfoView.as_view(), name="user-info"),
    path(f"{REALM}/certs", views.JwksInfoView.as_view(), name="jwks-info"),
    path(f"{REALM}/logout", views.RPInitiatedLogoutView.as_view(), name="rp-initiated-logout"),
    path(
        "realms/cern/.well-known/openid-configuration",
        views.ConnectDiscoveryInfoView.as_view(),
        name="oidc-connect-discovery-info",
    ),
]
