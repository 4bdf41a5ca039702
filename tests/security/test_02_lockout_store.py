"""Finding 2: the lockout state was unreliable. Counters in the file cache were
culled (a random third at 300 entries), incremented get-then-set, and checked
before the password, so parallel guesses all passed; behind a proxy every client
shared one address, so 20 failures from anyone locked out every password login
and 5 bad tries locked any named user out for a shift."""

import threading

import pytest
from django.contrib.auth import forms as auth_forms
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts import login

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/factories.py


def attempt(client: Client, username: str, password: str, ip: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_the_counters_survive_a_full_cache(shifter_sam, settings):
    limit = settings.LOGIN_FAILURES_PER_USERNAME
    for _ in range(limit - 1):
        attempt(Client(), "sam", "wrong")
    # Anything else the cache holds (DRF throttles, sessions...) fills it up.
    for number in range(1000):
        cache.set(f"filler-{number}", number)

    assert attempt(Client(), "sam", "wrong").status_code == 429


def test_parallel_guesses_check_no_more_passwords_than_the_limit(shifter_sam, settings, monkeypatch):
    """The race, made deterministic: while the first guess's password is being
    checked, nine more arrive. Only the limit's worth of passwords may be checked."""
    checked = []
    real_authenticate = auth_forms.authenticate

    def authenticate_while_more_arrive(request, **credentials):
        checked.append(credentials["username"])
        if len(checked) == 1:
            for _ in range(9):
                attempt(Client(), "sam", "wrong")
        return real_authenticate(request, **credentials)

    monkeypatch.setattr(auth_forms, "authenticate", authenticate_while_more_arrive)
    attempt(Client(), "sam", "wrong")

    assert len(checked) <= settings.LOGIN_FAILURES_PER_USERNAME


def test_the_client_address_is_taken_at_the_configured_proxy_depth(rf, settings):
    settings.LOGIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.LOGIN_TRUSTED_PROXIES = 2
    # The client forged the first entry; the outer proxy added 198.51.100.7, the inner one 10.0.0.2.
    request = rf.post("/login/", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7, 10.0.0.2", REMOTE_ADDR="10.0.0.3")

    assert login.client_ip(request) == "198.51.100.7"


def test_an_attacker_cannot_lock_a_shifter_out_of_the_console_they_use(shifter_sam, settings):
    console = "192.0.2.10"
    assert attempt(Client(), "sam", PASSWORD, ip=console).status_code == 302  # the shift starts
    for _ in range(3 * settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(Client(), "sam", "wrong", ip="198.51.100.66")

    assert attempt(Client(), "sam", PASSWORD, ip=console).status_code == 302


def test_a_shared_proxy_address_does_not_lock_everyone_out(shifter_sam, leader_lea, settings):
    proxy = "10.0.0.1"  # LOGIN_CLIENT_IP_HEADER not set: every client has the proxy's address
    for user in ("sam", "lea"):
        assert attempt(Client(), user, PASSWORD, ip=proxy).status_code == 302
    for number in range(settings.LOGIN_FAILURES_PER_IP + 5):
        attempt(Client(), f"guess{number}", "wrong", ip=proxy)

    for user in ("sam", "lea"):
        assert attempt(Client(), user, PASSWORD, ip=proxy).status_code == 302


def test_from_a_new_address_a_locked_user_gets_in_after_a_short_back_off(shifter_sam, settings, monkeypatch):
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME):
        attempt(Client(), "sam", "wrong", ip="198.51.100.66")
    assert attempt(Client(), "sam", PASSWORD, ip="203.0.113.5").status_code == 429

    later = login.time.time() + settings.LOGIN_BACKOFF_S + 1
    monkeypatch.setattr(login.time, "time", lambda: later)

    assert settings.LOGIN_BACKOFF_S <= 60
    assert attempt(Client(), "sam", PASSWORD, ip="203.0.113.5").status_code == 302


def test_the_back_off_doubles_with_each_further_failure(shifter_sam, settings, monkeypatch):
    now = [login.time.time()]
    monkeypatch.setattr(login.time, "time", lambda: now[0])
    waits = []
    for _ in range(settings.LOGIN_FAILURES_PER_USERNAME + 3):
        attempt(Client(), "sam", "wrong", ip="198.51.100.66")
        remaining = login.login_lockout_remaining(username="sam", ip="198.51.100.66")
        if remaining:
            waits.append(round(remaining))
            now[0] += remaining + 0.5

    base = settings.LOGIN_BACKOFF_S
    assert waits == [base, 2 * base, 4 * base, 8 * base]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_on_postgresql_check_no_more_passwords_than_the_limit(shifter_sam, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the row-lock race needs PostgreSQL (DATABASE_URL)")
    results: list[int] = []
    barrier = threading.Barrier(12)

    def guess() -> None:
        barrier.wait()
        try:
            results.append(attempt(Client(), "sam", "wrong").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # 200: a password was checked and was wrong; 429: refused unchecked.
    assert len(results) == 12
    assert results.count(200) < settings.LOGIN_FAILURES_PER_USERNAME
