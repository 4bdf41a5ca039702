"""The SSO identities in the admin: the one place an identity is linked to another account."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import SsoIdentity
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_links_an_sso_identity_to_another_account_only_in_the_admin_and_never_shows_its_refresh_token(
    client, admin_ada, shifter_sam
):
    identity = SsoIdentity.objects.create(
        issuer="https://auth.cern.ch/auth/realms/cern",
        subject="a1b2",
        user=UserFactory(username="sam+sso"),
        roles_read_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        refresh_token="refresh-secret-value",
    )
    client.force_login(admin_ada)
    url = reverse("admin:accounts_ssoidentity_change", args=[identity.pk])
    page = client.get(url)
    assert page.status_code == 200 and "refresh-secret-value" not in page.content.decode()

    client.post(url, {"user": shifter_sam.pk})
    identity.refresh_from_db()
    assert identity.user == shifter_sam and identity.subject == "a1b2"
