"""Issue 21, finding 7b: /api/schema/ was readable by an account with no role, which
reads nothing else of the API. It now asks for the role every API route asks for
(accounts.permissions.IsShifter)."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

SCHEMA = "/api/schema/"


def test_an_account_with_no_role_cannot_read_the_schema_with_its_session(client, outsider_olga):
    client.force_login(outsider_olga)

    response = client.get(SCHEMA)

    assert response.status_code == 403
    assert b"openapi" not in response.content


def test_an_account_with_no_role_cannot_read_the_schema_with_its_token(outsider_olga):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=outsider_olga).key}")

    response = api.get(SCHEMA, {"format": "json"})

    assert response.status_code == 403
    assert b"openapi" not in response.content


def test_nobody_logged_in_cannot_read_the_schema(client):
    assert client.get(SCHEMA).status_code in {401, 403}


def test_the_rest_of_the_api_refuses_the_same_account(client, outsider_olga):
    client.force_login(outsider_olga)

    assert client.get("/api/runs/").status_code == 403


@pytest.mark.parametrize("persona", ["shifter_sam", "leader_lea", "admin_ada"])
def test_every_role_reads_the_schema(client, persona, request):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(SCHEMA, {"format": "json"})

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")
