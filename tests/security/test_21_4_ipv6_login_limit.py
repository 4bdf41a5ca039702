"""Issue 21, finding 4: the per-address login limit counted each IPv6 address apart.
25 failed logins for different usernames from 2001:db8:1:2::1 … ::19 were never
answered 429 (the per-username limit held): one machine holds a whole /64 and picks
a new address per guess. An IPv6 client is now counted by its LOGIN_IPV6_PREFIX (/64)."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import login

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # tests/factories.py


def attempt(username: str, password: str, *, ip: str):
    return Client().post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def guesses_from(addresses: list[str]) -> list[int]:
    """One failed login for a different username from each address, in turn."""
    return [attempt(f"guess{number}", "wrong", ip=ip).status_code for number, ip in enumerate(addresses)]


def one_slash_64(count: int) -> list[str]:
    return [f"2001:db8:1:2::{number:x}" for number in range(1, count + 1)]  # ::1 … ::19 for 25


def test_25_guesses_from_one_slash_64_are_answered_429_at_the_per_address_limit(settings):
    limit = settings.LOGIN_FAILURES_PER_IP

    answers = guesses_from(one_slash_64(25))

    assert answers[: limit - 1] == [200] * (limit - 1)
    assert answers[limit - 1 :] == [429] * (25 - limit + 1)


def test_the_locked_slash_64_cannot_log_in_from_a_fresh_address_but_the_next_slash_64_can(shifter_sam, settings):
    guesses_from(one_slash_64(settings.LOGIN_FAILURES_PER_IP))

    assert attempt("sam", PASSWORD, ip="2001:db8:1:2:ffff:ffff:ffff:fffe").status_code == 429
    assert attempt("sam", PASSWORD, ip="2001:db8:1:3::1").status_code == 302


def test_the_same_guesses_through_the_proxy_header_are_counted_by_slash_64_too(settings):
    settings.LOGIN_CLIENT_IP_HEADER = "X-Forwarded-For"
    answers = [
        Client()
        .post(
            reverse("login"),
            {"username": f"guess{number}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.3",
            HTTP_X_FORWARDED_FOR=ip,
        )
        .status_code
        for number, ip in enumerate(one_slash_64(25))
    ]

    assert 429 in answers and answers.index(429) == settings.LOGIN_FAILURES_PER_IP - 1


def test_the_prefix_is_a_setting(settings):
    settings.LOGIN_IPV6_PREFIX = 128  # each address apart, as before

    assert 429 not in guesses_from(one_slash_64(25))


def test_ipv4_addresses_are_still_counted_each_apart(settings):
    # 25 neighbours in one /24 are 25 clients: IPv4 is counted as it always was.
    assert 429 not in guesses_from([f"192.0.2.{number}" for number in range(1, 26)])
    # One IPv4 address is still limited on its own.
    assert guesses_from(["198.51.100.7"] * 25).index(429) == settings.LOGIN_FAILURES_PER_IP - 1


def test_an_ipv4_mapped_address_is_the_ipv4_address(settings):
    assert login.client_network("::ffff:192.0.2.7") == login.client_network("192.0.2.7") == "192.0.2.7"
    assert login.client_network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert login.client_network("unknown") == "unknown"


def test_a_shifter_who_logged_in_from_the_slash_64_is_not_locked_out_by_a_neighbour(shifter_sam, settings):
    # Privacy addresses change daily: the console is known by its /64.
    assert attempt("sam", PASSWORD, ip="2001:db8:1:2::aa").status_code == 302
    guesses_from(one_slash_64(25))

    assert attempt("sam", PASSWORD, ip="2001:db8:1:2::bb").status_code == 302
