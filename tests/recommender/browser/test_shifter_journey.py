"""A night shift in a real browser: headless Chromium driven by Playwright
against the live Django server. Only CERN SSO is absent: shifters log in with
Django's own login form."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from accounts.roles import SHIFTERS
from recommender.models import Feedback, LabelSource, ModelVersion, ModelVersionStatus, ReferencePair
from recommender.training import model_version_train
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
def night_shift(tmp_path):
    """A simulated year of runs and labels, a trained model, two shifters."""
    with override_settings(MODEL_DIR=tmp_path / "models"):
        call_command("simulate", seed=7, runs=700, lumisections_for_last=40, verbosity=0)
        model_version_train()
        yield {
            "sam": UserFactory(username="sam", groups=[SHIFTERS]),
            "tom": UserFactory(username="tom", groups=[SHIFTERS]),
            "model": ModelVersion.objects.get(status=ModelVersionStatus.ACTIVE),
        }


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_it_takes_two_shifters_decisions_back_into_training(browser, live_server, night_shift, screenshot_dir):
    sam = browser.new_page(viewport=VIEWPORT)
    _log_in(sam, live_server, "sam")
    assert _fits_the_screen(sam), "the runs page scrolls sideways at 1366x768"

    # Sam opens the newest run awaiting an express decision and accepts the recommendation.
    sam.select_option("select[name=status]", "awaiting")
    sam.select_option("select[name=reconstruction]", "express")
    sam.click("form.filters button[type=submit]")
    sam.click("table.runs tbody tr:first-child td:first-child a")
    sam.click("nav.tabs a:has-text('Express')")
    accepted_run = int(sam.url.rstrip("/").split("/")[-2])
    recommended = sam.inner_text("table.candidates tbody tr:first-child td:nth-child(2)").strip()
    assert sam.locator("td.reasons .reason").count() > 0, "the recommendation gives no reason"
    assert _fits_the_screen(sam), "the run page scrolls sideways at 1366x768"
    sam.click("button.accept")
    assert "is recorded" in sam.inner_text("main")

    # Tom rejects the recommendation for the prompt reconstruction of the same run, naming his own.
    tom = browser.new_page(viewport=VIEWPORT)
    _log_in(tom, live_server, "tom")
    tom.goto(f"{live_server.url}/runs/{accepted_run}/prompt/")
    second_choice = tom.inner_text("table.candidates tbody tr:nth-child(2) td:nth-child(2)").strip()
    tom.click("details summary")
    tom.fill("#id_reason", "HV ramp in the first lumisections of the suggested run")
    tom.fill("#id_alternative_run_number", second_choice)
    tom.click("button.reject")
    assert "is recorded" in tom.inner_text("main")
    # RefRun moved Tom on to the next run; his decision stays on the one he decided.
    tom.goto(f"{live_server.url}/runs/{accepted_run}/prompt/")
    assert "tom rejected" in tom.inner_text("ul.audit")

    model = night_shift["model"]
    labels = ReferencePair.objects.filter(source=LabelSource.SHIFTER).select_related("reference__run", "recorded_by")
    by_user = {(p.recorded_by.username, p.reference.run.run_number, p.is_positive) for p in labels}
    assert ("sam", int(recommended), True) in by_user
    assert ("tom", int(second_choice), True) in by_user
    assert {p.model_version_id for p in labels} == {model.pk}
    assert Feedback.objects.filter(is_current=True).count() == 2

    # The next retrain learns from both decisions.
    retrained = model_version_train()
    assert retrained.status == "trained"
    counts = retrained.model_version.label_counts
    assert counts["shifter:positive"] == 2 and counts["shifter:negative"] == 1


def test_it_walks_a_shifter_from_the_awaiting_runs_to_the_references_in_use(
    browser, live_server, night_shift, screenshot_dir, settings
):
    from recommender.selectors import next_awaiting_run
    from recommender.services import recommendations_refresh

    # What the periodic job does: store the first choices the runs page shows.
    assert recommendations_refresh(newest_runs=40) > 0
    sam = browser.new_page(viewport=VIEWPORT)
    _log_in(sam, live_server, "sam")

    # The runs awaiting an express decision, as the runs page's own link filters them.
    sam.click("a.awaiting-express")
    left = int(sam.inner_text("strong.left").split()[0])
    assert left > 1
    sam.screenshot(path=str(screenshot_dir / "runs-page.png"))
    assert _fits_the_screen(sam), "the runs page scrolls sideways at 1366x768"

    # The newest awaiting run with a confident stored first choice (the usual night; the
    # low-confidence note has its own view tests): the list and its page must agree.
    rows = sam.locator("table.runs tbody tr").filter(has=sam.locator("td:nth-child(8) .suggested"))
    row = next(
        rows.nth(i)
        for i in range(rows.count())
        if float(rows.nth(i).locator("td:nth-child(8) .suggested").inner_text().split("(")[1].rstrip(")")) >= 0.8
    )
    listed = row.locator("td:nth-child(8) .suggested").inner_text()  # "→ 376747 (0.95)"
    row.locator("td:first-child a").click()
    # The queue links each run to the reconstruction it awaits: /runs/<run>/express/.
    assert sam.url.endswith("/express/"), sam.url
    run_number = int(sam.url.rstrip("/").split("/")[-2])
    reference = int(sam.inner_text("table.candidates tbody tr:first-child td:nth-child(2)").strip())
    score = sam.inner_text("table.candidates tbody tr:first-child td:nth-child(3)").strip()
    assert listed == f"→ {reference} ({score})", (listed, reference, score)

    # Links out: the DQM GUI with the reference overlaid, and OMS for run, reference and fill.
    compare = sam.get_attribute("table.candidates tbody tr:first-child a.compare", "href")
    assert compare.startswith(f"{settings.DQM_GUI_URL.rstrip('/')}/start?runnr={run_number};dataset=/")
    assert f";referenceobj1=other:{reference}:/" in compare and "workspace=Tracker" in compare
    oms = sam.get_attribute("table.candidates tbody tr:first-child a.oms", "href")
    assert oms == f"{settings.OMS_WEB_URL}/cms/runs/report?cms_run={reference}"
    assert sam.get_attribute("a.oms-run", "href") == f"{settings.OMS_WEB_URL}/cms/runs/report?cms_run={run_number}"
    assert sam.locator("td.reasons .reason").count() > 0
    assert "(0.00)" not in sam.inner_text("table.candidates")
    sam.screenshot(path=str(screenshot_dir / "run-page.png"))
    assert _fits_the_screen(sam), "the run page scrolls sideways at 1366x768"

    # Accept: RefRun goes on to the next run awaiting an express decision.
    expected_next = next_awaiting_run(reconstruction="express", after_run_number=run_number)
    sam.click("button.accept")
    sam.wait_for_url(f"{live_server.url}/runs/{expected_next}/express/")
    assert f"{left - 1} left awaiting a decision for express" in sam.inner_text("main")

    # The references page lists the reference just accepted as in use.
    sam.click("header nav a:has-text('References')")
    row = sam.locator(f"table.references tbody tr:has(td a:text-is('{reference}'))").filter(has_text="Express")
    assert row.count() >= 1
    assert "in use" in row.first.inner_text()
    assert sam.locator("svg.timeline rect.segment").count() > 0
