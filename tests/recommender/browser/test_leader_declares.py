"""A shift leader declares a reference from a run page in a real browser (headless
Chromium, Playwright, the live server); the shifter's next run in its scope shows it
first with the leaders' reason. Only CERN SSO is absent: Django's own login form."""

import pytest

from accounts.roles import SHIFT_LEADERS, SHIFTERS
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
def history(trained):
    """The synthetic history and active model of `trained`, a leader and a shifter."""
    UserFactory(username="lea", groups=[SHIFT_LEADERS])
    UserFactory(username="sam", groups=[SHIFTERS])
    return trained


def _log_in(browser, live_server, username):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def test_it_makes_a_leaders_declaration_the_shifters_first_choice(browser, live_server, history, screenshot_dir):
    numbers, new_run = history
    lea = _log_in(browser, live_server, "lea")
    lea.goto(f"{live_server.url}/runs/{new_run}/express/")
    before = lea.locator("table.candidates tbody tr.first td:nth-child(2)").inner_text().strip()
    reference = numbers[3] if str(numbers[3]) != before else numbers[4]

    lea.goto(f"{live_server.url}/runs/{reference}/express/")
    lea.click("details.declare-panel summary")
    # prefilled with this run's own conditions and the next run as the first it applies to
    assert lea.input_value("form.declare #id_run_number") == str(reference)
    assert lea.input_value("form.declare #id_b_field") == "on"
    lea.fill("form.declare #id_note", "new reference from today")
    lea.click("form.declare button[type=submit]")
    lea.wait_for_url(f"{live_server.url}/runs/{reference}/express/")
    assert "is the declared reference from run" in lea.content()

    sam = _log_in(browser, live_server, "sam")
    sam.goto(f"{live_server.url}/runs/{new_run}/express/")
    first = sam.locator("table.candidates tbody tr.first")
    assert first.locator("td:nth-child(2)").inner_text().strip() == str(reference)
    reasons = first.locator("td.reasons .reason").all_inner_texts()
    assert reasons[0].startswith("declared by the shift leaders for pp collisions, express")
    assert "“new reference from today”" in reasons[0]
    sam.screenshot(path=screenshot_dir / "declared-reference-first.png", full_page=True)

    sam.goto(f"{live_server.url}/references/")
    row = sam.locator("table.declarations tbody tr.in-use").first
    assert row.locator("td.scope").inner_text().startswith("pp collisions, express, 3.8 T")
    assert str(reference) in row.inner_text() and "lea" in row.locator("td.who").first.inner_text()
    assert sam.locator("details.declare-panel").count() == 0  # a shifter cannot declare
