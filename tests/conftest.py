"""Personas and shared fixtures.

- shifter_sam: on shift, certifies runs and accepts or rejects references.
- leader_lea: shift leader, curates the reference list, triggers syncs.
- outsider_olga: has an account but no role.
- admin_ada: superuser.
"""

import os
from pathlib import Path
from uuid import uuid4

import pytest

from accounts.roles import SHIFT_LEADERS, SHIFTERS
from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.getenv("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings):
    """A fresh in-memory cache per test: login-failure counters must not leak
    from one test (or one run, through var/cache or Redis) into the next."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid4().hex}}


@pytest.fixture
def shifter_sam(db):
    return UserFactory(username="sam", groups=[SHIFTERS])


@pytest.fixture
def leader_lea(db):
    return UserFactory(username="lea", groups=[SHIFT_LEADERS])


@pytest.fixture
def outsider_olga(db):
    return UserFactory(username="olga")


@pytest.fixture
def admin_ada(db):
    return UserFactory(username="ada", is_staff=True, is_superuser=True)


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real CMS dumps: REFRUN_DATA, else ../shared/data beside the checkout.

    Skipped where they are absent, except in CI, where their absence is a failure.
    """
    candidate = Path(os.getenv("REFRUN_DATA") or REPO_ROOT.parent / "shared" / "data")
    if not (candidate / "README.md").exists():
        if IN_CI:
            pytest.fail(f"CI=true but the shared CMS data is not at {candidate}")
        pytest.skip(f"shared CMS data not found at {candidate}")
    return candidate
