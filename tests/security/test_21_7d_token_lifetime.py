"""Issue 21, finding 7d: API tokens of local users never expired: a token copied once
(a script on a shared console, a pasted curl line) worked for ever. A token now lasts
API_TOKEN_LIFETIME_DAYS (90) from its creation; after that the API answers 401 and an
admin issues a new one. The admin's token list shows when each token expires."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

RUNS = "/api/runs/"


def token_aged(user, *, days: float) -> Token:
    token = Token.objects.create(user=user)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - dt.timedelta(days=days))
    token.refresh_from_db()
    return token


def api_get(client, token: Token, path: str = RUNS):
    return client.get(path, HTTP_AUTHORIZATION=f"Token {token.key}")


def test_a_local_users_token_older_than_its_lifetime_is_refused_with_401(client, shifter_sam):
    token = token_aged(shifter_sam, days=91)

    response = api_get(client, token)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "expired" in response.json()["detail"]


def test_an_expired_token_reads_no_route_of_the_api(client, leader_lea):
    token = token_aged(leader_lea, days=365)

    for path in (RUNS, "/api/feedback/", "/api/references/", "/api/schema/"):
        assert api_get(client, token, path).status_code == 401, path
    assert client.post("/api/references/", {}, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 401


def test_a_token_within_its_lifetime_still_works(client, shifter_sam):
    assert api_get(client, token_aged(shifter_sam, days=89)).status_code == 200


def test_the_lifetime_is_a_setting(client, shifter_sam, settings):
    settings.API_TOKEN_LIFETIME_DAYS = 7
    token = token_aged(shifter_sam, days=8)

    assert api_get(client, token).status_code == 401

    settings.API_TOKEN_LIFETIME_DAYS = 30
    assert api_get(client, token).status_code == 200


def test_a_new_token_for_the_same_user_works_again(client, shifter_sam):
    token_aged(shifter_sam, days=91).delete()  # what the admin does: delete it and add a new one

    assert api_get(client, Token.objects.create(user=shifter_sam)).status_code == 200


def test_a_wrong_or_missing_token_is_401_too_and_a_session_still_works(client, shifter_sam):
    assert client.get(RUNS, HTTP_AUTHORIZATION="Token " + "0" * 40).status_code == 401
    assert client.get(RUNS).status_code == 401
    client.force_login(shifter_sam)
    assert client.get(RUNS).status_code == 200


def test_the_admin_token_list_shows_each_expiry(client, admin_ada, shifter_sam, leader_lea):
    old = token_aged(shifter_sam, days=91)
    fresh = token_aged(leader_lea, days=10)
    client.force_login(admin_ada)

    page = client.get("/admin/authtoken/tokenproxy/").content.decode()

    assert "Expires" in page
    for token, days in ((old, 90), (fresh, 90)):
        assert (token.created + dt.timedelta(days=days)).strftime("%Y-%m-%d") in page
    assert page.count("(expired)") == 1  # the old one only
