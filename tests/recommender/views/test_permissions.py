"""Who may see and do what, on every page and API endpoint."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DeclaredReferenceFactory, RunFactory

pytestmark = pytest.mark.django_db

PAGES = [
    reverse("recommender:run_list"),
    reverse("recommender:run_detail_default", args=[380100]),
    reverse("recommender:run_detail", args=[380100, "prompt"]),
    reverse("recommender:model_detail"),
    reverse("recommender:job_list"),
    reverse("recommender:reference_list"),
    reverse("recommender:reference_list_csv"),
    reverse("recommender:reference_list_json"),
]
POSTS = [
    reverse("recommender:feedback_submit", args=[380100, "express"]),
    reverse("recommender:job_trigger", args=["oms"]),
    reverse("recommender:run_reopen", args=[380100, "express"]),
]
APIS = [
    reverse("api:run_list"),
    reverse("api:recommendation_list", args=[380100, "express"]),
    reverse("api:feedback"),
    reverse("api:reference_list"),
    reverse("api:schema"),
]


@pytest.mark.parametrize("url", PAGES + POSTS)
def test_it_sends_anonymous_users_to_login(client, url):
    response = client.post(url) if url in POSTS else client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", APIS)
def test_it_refuses_the_api_to_anonymous_users(client, url):
    assert client.get(url).status_code in (401, 403)


@pytest.mark.parametrize("url", [reverse("recommender:run_list"), reverse("recommender:model_detail")])
def test_it_refuses_pages_to_an_account_without_a_role(client, outsider_olga, url):
    client.force_login(outsider_olga)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", APIS[:-1])
def test_it_refuses_the_api_to_an_account_without_a_role(client, outsider_olga, url):
    client.force_login(outsider_olga)
    assert client.get(url).status_code == 403


def test_it_keeps_shifters_out_of_the_jobs_page_and_admin(client, shifter_sam):
    client.force_login(shifter_sam)
    assert client.get(reverse("recommender:job_list")).status_code == 403
    assert client.post(reverse("recommender:job_trigger", args=["oms"])).status_code == 403
    admin = client.get(reverse("admin:index"))
    assert admin.status_code == 302 and "login" in admin["Location"]


def test_it_lets_shift_leaders_curate_references_in_admin_but_not_shifters(client, shifter_sam, leader_lea):
    curated = DeclaredReferenceFactory()
    url = reverse("admin:recommender_declaredreference_change", args=[curated.pk])
    client.force_login(shifter_sam)
    assert client.get(url).status_code == 302
    leader_lea.is_staff = True
    leader_lea.save()
    client.force_login(leader_lea)
    assert client.get(url).status_code == 200
    assert client.get(reverse("admin:auth_user_changelist")).status_code == 403


@pytest.mark.parametrize(
    ("url", "data"),
    [
        (POSTS[0], {"decision": "accepted", "recommended_run_number": 380050}),
        (POSTS[1], {}),
        (reverse("logout"), {}),
        (reverse("api:feedback"), {"run_number": 380100}),
    ],
)
def test_it_enforces_csrf_on_every_form(leader_lea, url, data):
    RunFactory(run_number=380100)
    client = Client(enforce_csrf_checks=True)
    client.force_login(leader_lea)
    assert client.post(url, data).status_code == 403


def test_it_enforces_csrf_on_the_login_form(shifter_sam):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "sam", "password": "correct horse battery"})
    assert response.status_code == 403
