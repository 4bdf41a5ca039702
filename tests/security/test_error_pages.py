"""With DEBUG off, errors show RefRun's own pages, never a traceback."""

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_it_shows_its_own_404_page(client, shifter_sam, settings):
    assert settings.DEBUG is False
    client.force_login(shifter_sam)

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "RefRun" in body and "/no/such/page/" in body
    assert "Traceback" not in body and "URLconf" not in body


def test_it_shows_its_own_403_page_with_what_to_do(client, outsider_olga):
    client.force_login(outsider_olga)

    response = client.get(reverse("recommender:run_list"))

    assert response.status_code == 403
    body = response.content.decode()
    assert "RefRun is for shifters, shift leaders and admins." in body
    assert "ask a shift leader or a RefRun admin" in body


@pytest.mark.parametrize(
    ("url", "target"),
    [
        # the runs page reads through runs_for_list, in the same module
        (reverse("recommender:run_list"), "recommender.selectors.runs.runs_for_certification"),
        (reverse("api:run_list"), "recommender.api.selectors.runs_for_certification"),
    ],
)
def test_it_shows_its_own_500_page_without_a_traceback(shifter_sam, monkeypatch, url, target):
    def broken(**kwargs):
        raise RuntimeError("secret internals: SELECT password FROM auth_user")

    monkeypatch.setattr(target, broken)
    client = Client(raise_request_exception=False)
    client.force_login(shifter_sam)

    response = client.get(url)

    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "Try again in a minute" in body
    assert "secret internals" not in body and "Traceback" not in body and "RuntimeError" not in body
