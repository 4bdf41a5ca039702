"""Repeated failed logins lock out the username and the client address."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import login

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/factories.py


def attempt(client: Client, username: str, password: str, *, ip: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, username: str, times: int, *, ip: str = "192.0.2.10") -> None:
    for _ in range(times):
        assert attempt(client, username, "wrong", ip=ip).status_code == 200


def test_it_locks_a_username_after_repeated_failures_even_with_the_right_password(client, shifter_sam, settings):
    fail(client, "sam", settings.LOGIN_FAILURES_PER_USERNAME - 1)

    locked = attempt(client, "sam", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins; try again in 15 seconds" in locked.content.decode()

    again = attempt(client, "sam", PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


def test_it_locks_the_username_from_every_address_and_whatever_its_case(client, shifter_sam, settings):
    for number in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(client, "Sam" if number % 2 else "sam", "wrong", ip=f"198.51.100.{number}")

    assert attempt(client, "sam", PASSWORD, ip="203.0.113.7").status_code == 429


def test_it_locks_an_address_that_tries_many_usernames(client, shifter_sam, settings):
    for number in range(settings.LOGIN_FAILURES_PER_IP):
        attempt(client, f"guess{number}", "wrong", ip="192.0.2.66")

    assert attempt(client, "sam", PASSWORD, ip="192.0.2.66").status_code == 429
    # Sam, elsewhere, is not affected.
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.67").status_code == 302


def test_it_lets_a_user_in_below_the_limit(client, shifter_sam, settings):
    fail(client, "sam", settings.LOGIN_FAILURES_PER_USERNAME - 1)

    response = attempt(client, "sam", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("recommender:run_list")


def test_a_successful_login_does_not_reset_another_addresses_counter(client, shifter_sam, leader_lea, settings):
    attacker = "192.0.2.99"
    for number in range(settings.LOGIN_FAILURES_PER_IP - 1):
        attempt(client, f"guess{number}", "wrong", ip=attacker)
    # Lea logs in from her own machine, and Sam, below his limit, too.
    assert attempt(Client(), "lea", PASSWORD, ip="192.0.2.1").status_code == 302
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.2").status_code == 302

    assert attempt(client, "guess-last", "wrong", ip=attacker).status_code == 429


def test_a_successful_login_does_not_reset_the_usernames_counter(client, shifter_sam, settings):
    fail(client, "sam", settings.LOGIN_FAILURES_PER_USERNAME - 1, ip="192.0.2.99")
    assert attempt(Client(), "sam", PASSWORD, ip="192.0.2.2").status_code == 302

    assert attempt(client, "sam", "wrong", ip="192.0.2.99").status_code == 429


def test_it_does_not_count_an_empty_form(client, shifter_sam, settings):
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME + 1):
        assert attempt(client, "sam", "").status_code == 200

    assert attempt(client, "sam", PASSWORD).status_code == 302


def test_it_lets_the_user_in_again_after_the_lockout(client, shifter_sam, settings, monkeypatch):
    fail(client, "sam", settings.LOGIN_FAILURES_PER_USERNAME - 1)
    assert attempt(client, "sam", "wrong").status_code == 429

    later = login.time.time() + settings.LOGIN_LOCKOUT_S + 1
    monkeypatch.setattr(login.time, "time", lambda: later)
    # The cache's own expiry uses the real clock; what is left must not lock anyone out.
    assert login.login_lockout_remaining(username="sam", ip="192.0.2.10") == 0


def test_it_uses_the_proxys_address_when_told_to(rf, settings):
    settings.LOGIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    request = rf.post("/login/", HTTP_X_FORWARDED_FOR="10.0.0.1, 192.0.2.50", REMOTE_ADDR="127.0.0.1")
    assert login.client_ip(request) == "192.0.2.50"

    settings.LOGIN_CLIENT_IP_HEADER = ""
    assert login.client_ip(request) == "127.0.0.1"  # a client-set header is ignored


def test_it_rate_limits_the_admin_login_too(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == reverse("login") + "?next=/admin/"
