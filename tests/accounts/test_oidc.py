"""CERN SSO cannot run here: these tests hand the backend the claims a Keycloak
token would carry and check how RefRun maps them; the OIDC exchange itself is
mozilla-django-oidc's."""

import pytest
from django.test import override_settings

from accounts.oidc import RefRunOIDCBackend
from accounts.roles import is_shift_leader, is_shifter

pytestmark = pytest.mark.django_db

OIDC = {
    "OIDC_RP_CLIENT_ID": "refrun",
    "OIDC_RP_CLIENT_SECRET": "not-a-real-secret",
    "OIDC_OP_TOKEN_ENDPOINT": "https://auth.example/token",
    "OIDC_OP_USER_ENDPOINT": "https://auth.example/userinfo",
    "OIDC_RP_SIGN_ALGO": "HS256",
    "OIDC_USERNAME_CLAIM": "cern_upn",
    "OIDC_ROLES_CLAIM": "cern_roles",
    "OIDC_SHIFTER_ROLES": ["shifter"],
    "OIDC_SHIFT_LEADER_ROLES": ["shift-leader"],
}


def _claims(roles):
    return {"cern_upn": "jdoe", "email": "jdoe@cern.ch", "given_name": "Jane", "cern_roles": roles}


@override_settings(**OIDC)
def test_it_creates_a_shifter_from_the_role_claim():
    user = RefRunOIDCBackend().create_user(_claims(["shifter"]))
    assert user.username == "jdoe" and user.email == "jdoe@cern.ch"
    assert is_shifter(user) and not is_shift_leader(user) and not user.is_staff


@override_settings(**OIDC)
def test_it_follows_role_changes_at_each_login():
    backend = RefRunOIDCBackend()
    user = backend.create_user(_claims(["shift-leader"]))
    assert is_shift_leader(user) and user.is_staff

    user = backend.update_user(user, _claims([]))
    assert not is_shifter(user) and not user.is_staff


@override_settings(**OIDC)
def test_it_refuses_claims_without_a_username():
    backend = RefRunOIDCBackend()
    assert not backend.verify_claims({"email": "x@cern.ch", "cern_roles": ["shifter"]})
    assert not backend.filter_users_by_claims({"email": "x@cern.ch"}).exists()


def test_it_offers_cern_sso_on_the_login_page_when_settings_name_a_client(tmp_path):
    """Settings alone switch OIDC on: a fresh process with OIDC_RP_CLIENT_ID set."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO_ROOT

    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from django.urls import reverse\n"
        "print(reverse('oidc_authentication_init'))\n"
        "print('Log in with CERN SSO' in Client().get('/login/').content.decode())\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "refrun.settings",
        "OIDC_RP_CLIENT_ID": "refrun",
        "OIDC_RP_CLIENT_SECRET": "not-a-real-secret",
        "REFRUN_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'oidc.sqlite3'}",
        "ALLOWED_HOSTS": "testserver",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["/oidc/authenticate/", "True"]


@override_settings(**OIDC, OIDC_OP_LOGOUT_ENDPOINT="https://auth.example/logout", LOGOUT_REDIRECT_URL="login")
def test_it_sends_only_sso_sessions_through_the_providers_logout(rf):
    from django.contrib.sessions.backends.db import SessionStore

    from accounts.oidc import provider_logout_url

    request = rf.post("/logout/")
    request.session = SessionStore()
    assert provider_logout_url(request) == "/login/"  # a local account's session

    request.session["oidc_id_token"] = "header.payload.signature"
    url = provider_logout_url(request)
    assert url.startswith("https://auth.example/logout?id_token_hint=header.payload.signature")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin%2F" in url


@override_settings(**OIDC)
def test_it_gives_an_sso_identity_a_username_of_its_own_when_a_local_account_has_it():
    from tests.factories import UserFactory

    UserFactory(username="jdoe")
    UserFactory(username="jdoe+sso")
    user = RefRunOIDCBackend().create_user({**_claims(["shifter"]), "sub": "a1b2"})
    assert user.username == "jdoe+sso2" and not user.has_usable_password()
