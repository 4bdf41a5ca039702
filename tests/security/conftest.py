import pytest


@pytest.fixture(autouse=True)
def own_cache(settings, tmp_path):
    """A cache of the production kind (files) that only this test sees: the
    throttle counters of one test must not limit the next, and the real cache
    (Redis in CI) is never cleared from here. (Login counters are database rows.)"""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    # Dozens of login attempts per test: a fast hasher keeps them quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
