import pytest
from django.urls import reverse

from tests.factories import ReferencePairFactory, RunFactory, RunReconstructionFactory

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_users_to_login(client):
    response = client.get(reverse("recommender:run_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_serves_the_login_page(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_it_lists_runs_newest_first_with_their_reference(client, shifter_sam):
    older = RunFactory(run_number=380100)
    newer = RunFactory(run_number=380200)
    reference = RunReconstructionFactory(run=RunFactory(run_number=380001))
    ReferencePairFactory(run_reconstruction=RunReconstructionFactory(run=newer), reference=reference)
    client.force_login(shifter_sam)

    body = client.get(reverse("recommender:run_list")).content.decode()

    assert body.index("380200") < body.index("380100")
    assert "ref 380001" in body
    assert str(older.run_number) in body


def test_its_pages_follow_a_new_run_at_once_and_a_filter_counts_its_own(client, shifter_sam):
    """The unfiltered count is cached with the awaiting counts; a filter counts its runs."""
    for number in range(380001, 380051):
        RunFactory(run_number=number, run_class="collisions_pp")
    client.force_login(shifter_sam)
    url = reverse("recommender:run_list")

    assert client.get(url).context["page"].paginator.num_pages == 1
    RunFactory(run_number=380051, run_class="cosmics")
    assert client.get(url).context["page"].paginator.num_pages == 2
    assert client.get(url, {"run_class": "cosmics"}).context["page"].paginator.count == 1


def test_it_says_when_a_run_range_is_reversed(client, shifter_sam):
    client.force_login(shifter_sam)
    response = client.get(reverse("recommender:run_list"), {"run_min": 5, "run_max": 2})
    assert response.status_code == 200
    assert b"must not be after" in response.content


@pytest.mark.django_db(databases=[])
def test_the_runs_pages_two_decimals_are_floatformats():
    """The runs page formats B fields and scores without floatformat (100 calls a page);
    the run page still uses floatformat, so the two pages must show the same digits."""
    import random

    from django.template.defaultfilters import floatformat

    from recommender.pages.run_list_rows import two_decimals

    rng = random.Random(11)
    values = [rng.uniform(-4, 4) for _ in range(5000)] + [rng.uniform(-0.01, 0.01) for _ in range(5000)]
    values += [0.125, 0.135, 2.675, 0.005, -0.005, -0.0, 0.0, 3.8, 0.995, 1e-9]
    assert [v for v in values if two_decimals(v) != floatformat(v, 2)] == []


def test_it_escapes_what_a_hostile_user_put_in_a_row(client, shifter_sam):
    """The rows are rendered outside the template engine's autoescape: a decider's name
    (an SSO claim) or a run class OMS sent must come out as text, not markup."""
    from recommender.models import Feedback
    from tests.factories import UserFactory

    run = RunFactory(run_number=380300, run_class="<b>pp</b>")
    reference = RunFactory(run_number=380001)
    Feedback.objects.create(
        run_reconstruction=RunReconstructionFactory(run=run),
        user=UserFactory(username='mal"><script>alert(1)</script>'),
        decision="accepted",
        recommended_reference=reference,
    )
    client.force_login(shifter_sam)

    # Every run ("any status"): a decided run is not in the landing page's queue.
    body = client.get(reverse("recommender:run_list"), {"status": ""}).content.decode()

    assert "<script>alert(1)" not in body and "<b>pp</b>" not in body
    assert "by mal&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;b&gt;pp&lt;/b&gt;" in body
