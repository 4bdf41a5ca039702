import os
import shutil
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import IN_CI, REPO_ROOT

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# The flags this machine needs: no sandbox as root, and no background calls to
# Google's hosts, which the closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if IN_CI:
            pytest.fail("CI=true but Chromium is missing: `make test` installs Debian's chromium package")
        pytest.skip("Chromium is not installed (make test installs it)")
    return path


@pytest.fixture
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread, so Django takes the test's
    # ORM calls for async code; they are sequential with the browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            # Connections opened while Playwright's loop ran belong to its context,
            # not the one pytest-django closes: close them here, or PostgreSQL
            # refuses to drop the test database at the end of the session.
            connections.close_all()
            instance.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
