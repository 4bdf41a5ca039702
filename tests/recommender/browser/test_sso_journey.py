"""CERN SSO in a real browser.

The live CERN SSO (auth.cern.ch) cannot be reached from here. In its place a
local OpenID Connect provider runs in its own process with its own SQLite
database (django-oauth-toolkit in OIDC mode, tests/recommender/browser/
sso_provider), at the paths of a Keycloak realm, so RefRun is configured from
the same environment variables as for CERN (OIDC_OP_REALM_URL and the client
registration). Everything else is real: HTTP between Chromium, RefRun and the
provider, the code flow, RS256 id tokens signed with a key made here, JWKS,
userinfo, refresh tokens, RP-initiated logout.

Alice logs in at the provider, her role claim makes her a shifter, she accepts
a recommendation and logs out (of CERN SSO too). Bob's role is then removed at
the provider: his browser session and his API token lose access at the next
refresh (a short interval here, 15 minutes in production).
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer
from rest_framework.authtoken.models import Token

from accounts.models import SsoIdentity
from accounts.roles import SHIFTERS
from recommender.models import Feedback
from tests.conftest import REPO_ROOT
from tests.sso import sso_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PORTS = range(19200, 19300)  # this test's share of the machine's ports
CLIENT_ID = "refrun"
CLIENT_SECRET = "a-secret-made-for-this-test-only"
REFRESH_S = 2  # OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS for Bob's part (production: 900)
PASSWORDS = {"alice": "alice's long passphrase", "bob": "bob's long passphrase"}


def _free_port(taken=()) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port in 19200-19299")


def _rs256_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@contextmanager
def _provider(tmp_path, port, refrun_url):
    realm = f"http://127.0.0.1:{port}/realms/cern"
    environment = {
        **os.environ,
        "SSO_PROVIDER_DB": str(tmp_path / "provider.sqlite3"),
        "SSO_PROVIDER_ISSUER": realm,
        "SSO_PROVIDER_KEY": _rs256_key(),
        "SSO_PROVIDER_CLIENT": json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": f"{refrun_url}/oidc/callback/",
                "post_logout_redirect_uri": f"{refrun_url}/login/",
            }
        ),
        "SSO_PROVIDER_USERS": json.dumps(
            {
                name: {"password": PASSWORDS[name], "given_name": name.title(), "roles": ["shifter"]}
                for name in PASSWORDS
            }
        ),
    }
    environment.pop("DATABASE_URL", None)
    log = (tmp_path / "provider.log").open("w")
    command = [sys.executable, "-m", "tests.recommender.browser.sso_provider"]
    process = subprocess.Popen([*command, "serve", str(port)], cwd=REPO_ROOT, env=environment, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{realm}/protocol/openid-connect/certs", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the provider did not start: {(tmp_path / 'provider.log').read_text()}")
            time.sleep(0.2)

        def set_roles(username, *roles):
            subprocess.run([*command, "roles", username, *roles], cwd=REPO_ROOT, env=environment, check=True)

        yield realm, set_roles
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def sso_stack(tmp_path, monkeypatch):
    """The provider, and RefRun configured for it serving on a live server."""
    call_command("simulate", seed=7, runs=120, lumisections_for_last=20, verbosity=0)
    provider_port = _free_port()
    refrun_port = _free_port(taken={provider_port})
    refrun_url = f"http://127.0.0.1:{refrun_port}"
    with _provider(tmp_path, provider_port, refrun_url) as (realm, set_roles):
        environment = {
            "OIDC_RP_CLIENT_ID": CLIENT_ID,
            "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_OP_REALM_URL": realm,
        }
        with override_settings(**sso_settings(monkeypatch, environment, tmp_path / "var")):
            # Started inside the override: the server loads the SSO middleware.
            server = LiveServer(f"127.0.0.1:{refrun_port}")
            try:
                yield {"url": refrun_url, "realm": realm, "set_roles": set_roles}
            finally:
                server.stop()


def _sso_login(page, url, username):
    page.goto(f"{url}/login/")
    page.click("text=Log in with CERN SSO")
    page.wait_for_selector("#kc-login")  # the provider's sign-in page
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORDS[username])
    page.click("#kc-login")
    page.wait_for_url(f"{url}/")


def test_it_logs_in_decides_and_loses_a_revoked_role_through_sso(sso_stack, browser):
    # sso_stack first: the browser closes before the servers stop.
    url = sso_stack["url"]
    page = browser.new_page(viewport={"width": 1366, "height": 768})

    # Alice: login at the provider, role claim -> shifters group, a decision.
    _sso_login(page, url, "alice")
    alice = SsoIdentity.objects.select_related("user").get(user__username="alice").user
    assert alice.groups.filter(name=SHIFTERS).exists() and not alice.has_usable_password()
    page.select_option("select[name=status]", "awaiting")
    page.select_option("select[name=reconstruction]", "express")
    page.click("form.filters button[type=submit]")
    page.click("table.runs tbody tr:first-child td:first-child a")
    page.click("nav.tabs a:has-text('Express')")
    page.click("button.accept")
    assert "is recorded" in page.inner_text("main")
    assert Feedback.objects.filter(user=alice, is_current=True, decision="accepted").count() == 1

    # Logout ends the CERN session too: the next person at this console signs in afresh.
    page.click("form[action='/logout/'] button")
    page.wait_for_url(f"{url}/login/")
    page.click("text=Log in with CERN SSO")
    page.wait_for_selector("#kc-login")

    # Bob, on a short refresh interval, with an API token as well.
    settings.OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = REFRESH_S
    page.fill("#id_username", "bob")
    page.fill("#id_password", PASSWORDS["bob"])
    page.click("#kc-login")
    page.wait_for_url(f"{url}/")
    bob = SsoIdentity.objects.get(user__username="bob").user
    api = {"Authorization": f"Token {Token.objects.create(user=bob).key}"}
    time.sleep(REFRESH_S + 0.5)
    # Past the interval: the page refreshes silently, the token renews its roles with the refresh token.
    assert page.goto(f"{url}/").status == 200
    assert requests.get(f"{url}/api/runs/", headers=api, timeout=30).status_code == 200
    read_at = SsoIdentity.objects.get(user=bob).roles_read_at

    set_roles = sso_stack["set_roles"]
    set_roles("bob")  # an administrator removes Bob's role at the provider
    time.sleep(REFRESH_S + 0.5)
    response = page.goto(f"{url}/")  # silently re-authenticated: the fresh claims have no role
    assert response.status == 403, page.url
    assert "RefRun is for shifters" in page.inner_text("body")
    assert not bob.groups.filter(name=SHIFTERS).exists()
    assert SsoIdentity.objects.get(user=bob).roles_read_at > read_at

    # The token on its own, with no page loaded: it renews the roles at the provider each time.
    set_roles("bob", "shifter")
    time.sleep(REFRESH_S + 0.5)
    assert requests.get(f"{url}/api/runs/", headers=api, timeout=30).status_code == 200
    set_roles("bob")
    time.sleep(REFRESH_S + 0.5)
    assert requests.get(f"{url}/api/runs/", headers=api, timeout=30).status_code == 403
    assert not bob.groups.filter(name=SHIFTERS).exists()
