"""Finding 1: the per-username lockout was keyed on the raw lower-cased username,
while Django's login normalises with NFKC, so a fullwidth or a mathematical-bold `sam` each had a fresh
counter and all logged in as `sam`."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/factories.py
# Each is `sam` after NFKC (fullwidth, mathematical bold/italic/script letters).
SPELLINGS = [
    "\uff53am",
    "\U0001d42cam",
    "s\U0001d41am",
    "sa\U0001d45a",
    "\U0001d4c8\U0001d4b6\U0001d4c2",
    "\uff53\uff41\uff4d",
    "\uff33\uff21\uff2d",
]


def attempt(client: Client, username: str, password: str, ip: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_a_unicode_spelling_logs_in_as_the_user_it_normalises_to(shifter_sam):
    # The premise of the attack: Django itself treats these spellings as `sam`.
    client = Client()
    assert attempt(client, "\uff53am", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(shifter_sam.pk)


def test_failures_under_different_spellings_count_against_the_one_username(shifter_sam, settings):
    client = Client()
    for number, spelling in enumerate(SPELLINGS[: settings.LOGIN_FAILURES_PER_USERNAME]):
        attempt(client, spelling, "wrong", ip=f"198.51.100.{number}")

    # The right password, under yet another spelling and from another address.
    response = attempt(client, SPELLINGS[-1], PASSWORD, ip="203.0.113.9")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
