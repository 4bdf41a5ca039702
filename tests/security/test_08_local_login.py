"""Finding 8 (the part h11 owns): with CERN SSO, local password login beside it let
local superusers bypass CERN's two-factor login. LOCAL_LOGIN=false turns password
login off except for one named break-glass account."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/factories.py


def attempt(client: Client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR="192.0.2.10")


def test_with_local_login_off_a_superuser_cannot_log_in_with_a_password(admin_ada, settings):
    settings.LOCAL_LOGIN = False
    settings.LOCAL_LOGIN_BREAK_GLASS_USER = ""
    client = Client()

    response = attempt(client, "ada")

    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    assert "Password login is switched off" in response.content.decode()


def test_with_local_login_off_only_the_break_glass_account_logs_in(admin_ada, shifter_sam, settings):
    settings.LOCAL_LOGIN = False
    settings.LOCAL_LOGIN_BREAK_GLASS_USER = "ada"

    assert attempt(Client(), "sam").status_code == 403
    assert attempt(Client(), "ada").status_code == 302
    # Another spelling of the break-glass name is still that account, nothing more.
    assert attempt(Client(), "\uff41da").status_code == 302


def test_local_login_stays_on_by_default(shifter_sam, settings):
    assert settings.LOCAL_LOGIN is True
    assert attempt(Client(), "sam").status_code == 302
