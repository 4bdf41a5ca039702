"""Finding 8: sessions and CERN SSO, each test written as the attack.

CERN SSO cannot be reached from here, so `provider` below stands in for it at
the three calls mozilla-django-oidc makes to the provider (token, id-token
check, userinfo); everything on RefRun's side (the callback view, the session
refresh middleware, the backend, DRF token authentication) runs for real.
tests/recommender/browser/test_sso_journey.py runs the same flows against a
real OpenID Connect provider over HTTP.

The SSO settings are the ones refrun/settings.py builds when OIDC_RP_CLIENT_ID
is set: the settings module is executed again with that environment.
"""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from requests.exceptions import HTTPError
from rest_framework.authtoken.models import Token

from accounts.roles import SHIFTERS, is_shifter
from tests.factories import UserFactory
from tests.sso import sso_settings as built_sso_settings

pytestmark = pytest.mark.django_db

ISSUER = "https://auth.example/realms/cern"
AUTHORIZE = f"{ISSUER}/protocol/openid-connect/auth"
SSO_ENVIRONMENT = {
    "OIDC_RP_CLIENT_ID": "refrun",
    "OIDC_RP_CLIENT_SECRET": "not-a-real-secret",
    "OIDC_OP_REALM_URL": ISSUER,
}
User = get_user_model()


@pytest.fixture
def sso_settings(monkeypatch, tmp_path):
    with override_settings(**built_sso_settings(monkeypatch, SSO_ENVIRONMENT, tmp_path)):
        yield


class FakeCernSso:
    """What CERN SSO would answer: who is logged in there, with which claims."""

    def __init__(self):
        self.claims: dict[str, dict] = {}
        self.codes: dict[str, tuple[str, str]] = {}
        self.ended_sessions: set[str] = set()
        self.issued = 0

    def person(self, sub, **claims):
        self.claims[sub] = {"sub": sub, "email": f"{sub}@cern.ch", "given_name": "Jo", "family_name": "Doe", **claims}
        return self.claims[sub]

    def authorize(self, location, sub):
        """The browser at the provider's login page: it answers with a code."""
        query = parse_qs(urlparse(location).query)
        self.issued += 1
        code = f"code-{self.issued}"
        self.codes[code] = (sub, query["nonce"][0])
        return code, query["state"][0]

    # -- the calls mozilla-django-oidc makes --------------------------------
    def get_token(self, payload):
        if payload["grant_type"] == "refresh_token":
            sub = payload["refresh_token"].removeprefix("refresh-")
            if sub in self.ended_sessions:
                raise HTTPError("400 invalid_grant: session not active")
            return {"access_token": f"access-{sub}", "id_token": "", "refresh_token": f"refresh-{sub}"}
        sub, nonce = self.codes.pop(payload["code"])
        return {"access_token": f"access-{sub}", "id_token": f"id-{sub}-{nonce}", "refresh_token": f"refresh-{sub}"}

    def verify_token(self, token, **kwargs):
        _, sub, nonce = token.split("-", 2)
        return {"iss": ISSUER, "aud": "refrun", "sub": sub, "nonce": nonce, "exp": time.time() + 300}

    def get_userinfo(self, access_token, id_token, payload):
        return dict(self.claims[access_token.removeprefix("access-")])


@pytest.fixture
def provider(monkeypatch, sso_settings):
    fake = FakeCernSso()
    monkeypatch.setattr(OIDCAuthenticationBackend, "get_token", fake.get_token)
    monkeypatch.setattr(OIDCAuthenticationBackend, "verify_token", fake.verify_token)
    monkeypatch.setattr(OIDCAuthenticationBackend, "get_userinfo", fake.get_userinfo)
    return fake


def _sso_login(client, provider, sub):
    start = client.get("/oidc/authenticate/")
    assert start.status_code == 302 and start["Location"].startswith(AUTHORIZE)
    code, state = provider.authorize(start["Location"], sub)
    return client.get("/oidc/callback/", {"code": code, "state": state})


def _refresh(client, provider, redirect, sub):
    """Follow a silent (prompt=none) re-authentication through the provider."""
    assert redirect.status_code == 302 and redirect["Location"].startswith(AUTHORIZE), redirect
    assert parse_qs(urlparse(redirect["Location"]).query)["prompt"] == ["none"]
    code, state = provider.authorize(redirect["Location"], sub)
    return client.get("/oidc/callback/", {"code": code, "state": state})


@pytest.fixture
def later(monkeypatch):
    """Move the clock forward: `later(16 * 60)`."""
    real_time = time.time

    def move(seconds):
        monkeypatch.setattr(time, "time", lambda: real_time() + seconds)

    return move


def test_it_ends_a_control_room_session_within_twelve_hours(client, shifter_sam):
    response = client.post("/login/", {"username": "sam", "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.session.get_expiry_age() <= 12 * 3600
    assert int(response.cookies["sessionid"]["max-age"]) <= 12 * 3600


def test_it_takes_a_revoked_role_away_at_the_next_refresh(client, provider, later):
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    assert _sso_login(client, provider, "a1b2").status_code == 302
    assert client.get("/").status_code == 200

    provider.claims["a1b2"]["cern_roles"] = []  # revoked in the CERN application portal
    later(16 * 60)
    refreshed = _refresh(client, provider, client.get("/"), "a1b2")
    assert refreshed.status_code == 302
    assert client.get("/").status_code == 403


def test_it_does_not_take_a_decision_from_a_session_whose_roles_are_overdue(client, provider, later):
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "a1b2")
    provider.claims["a1b2"]["cern_roles"] = []
    later(16 * 60)
    # A POST alone (no page load first) must not slip past the refresh.
    response = client.post(
        "/runs/999999/express/feedback/", {"decision": "accepted"}, HTTP_REFERER="http://testserver/runs/999999/"
    )
    assert response.status_code == 302 and response["Location"].startswith(AUTHORIZE)
    _refresh(client, provider, response, "a1b2")
    assert client.get("/runs/999999/").status_code == 403


def test_it_stops_an_api_token_once_the_role_is_revoked(client, provider, later):
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "a1b2")
    token = Token.objects.create(user=User.objects.get(groups__name=SHIFTERS))
    api = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    client.logout()
    assert client.get("/api/runs/", **api).status_code == 200

    provider.claims["a1b2"]["cern_roles"] = []
    later(16 * 60)
    assert client.get("/api/runs/", **api).status_code == 403


def test_it_stops_an_api_token_once_the_sso_session_has_ended(client, provider, later):
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "a1b2")
    token = Token.objects.create(user=User.objects.get(groups__name=SHIFTERS))
    client.logout()

    provider.ended_sessions.add("a1b2")  # account disabled or session revoked at CERN
    later(16 * 60)
    response = client.get("/api/runs/", HTTP_AUTHORIZATION=f"Token {token.key}")
    # 401 with a Token challenge: token authentication comes first (refrun/settings.py).
    assert response.status_code == 401
    assert "log in to RefRun with CERN SSO again" in response.json()["detail"]


def test_it_refuses_a_deactivated_account_in_the_role_test(shifter_sam):
    shifter_sam.is_active = False
    shifter_sam.save()
    assert not is_shifter(shifter_sam)


def test_it_ends_the_session_of_a_deactivated_sso_account(client, provider):
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "a1b2")
    User.objects.filter(groups__name=SHIFTERS).update(is_active=False)
    response = client.get("/")
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/login/" in response["Location"]


def test_it_never_hands_a_local_superuser_to_an_sso_identity_of_the_same_name(client, provider):
    local = UserFactory(username="ada", is_staff=True, is_superuser=True)
    provider.person("f00d", cern_upn="ada", cern_roles=["shifter"])
    assert _sso_login(client, provider, "f00d").status_code == 302

    signed_in = User.objects.get(pk=client.session["_auth_user_id"])
    assert signed_in.pk != local.pk
    assert not signed_in.is_superuser and not signed_in.is_staff
    local.refresh_from_db()
    assert local.is_superuser and local.check_password("correct horse battery")


def test_it_knows_an_sso_identity_by_its_subject_not_its_username(client, provider):
    provider.person("c0ffee", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "c0ffee")
    first = client.session["_auth_user_id"]
    client.logout()

    provider.claims["c0ffee"]["cern_upn"] = "jdoe2"  # renamed at CERN: still the same person
    _sso_login(client, provider, "c0ffee")
    assert client.session["_auth_user_id"] == first
    client.logout()

    provider.person("beef", cern_upn="jdoe", cern_roles=[])  # another person, same username
    _sso_login(client, provider, "beef")
    assert client.session["_auth_user_id"] != first


def test_it_logs_in_with_null_claims_without_an_error(client, provider):
    provider.person("d00d", cern_upn="jdoe", given_name=None, family_name=None, email=None, cern_roles="shifter")
    response = _sso_login(client, provider, "d00d")
    assert response.status_code == 302
    user = User.objects.get(pk=client.session["_auth_user_id"])
    assert (user.first_name, user.last_name, user.email) == ("", "", "")
    assert is_shifter(user)  # a single role given as a string, not a list


def test_it_ends_the_cern_session_too_when_a_shifter_logs_out(client, provider):
    """On a shared console, the next "Log in with CERN SSO" must not sign in as the last person."""
    provider.person("a1b2", cern_upn="jdoe", cern_roles=["shifter"])
    _sso_login(client, provider, "a1b2")
    response = client.post("/logout/")
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ISSUER}/protocol/openid-connect/logout"
    assert parse_qs(location.query)["id_token_hint"][0].startswith("id-a1b2-")
    assert parse_qs(location.query)["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert "_auth_user_id" not in client.session
