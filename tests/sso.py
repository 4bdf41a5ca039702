"""RefRun's settings as a deployment with CERN SSO gets them: refrun/settings.py
is executed again with the SSO environment, and the names SSO changes are
returned for override_settings (plus a urlconf with the SSO routes)."""

import runpy

from tests.conftest import REPO_ROOT

CHANGED_BY_SSO = ["MIDDLEWARE", "AUTHENTICATION_BACKENDS", "SESSION_COOKIE_AGE", "REST_FRAMEWORK"]


def sso_settings(monkeypatch, environment: dict[str, str], var_dir) -> dict:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REFRUN_VAR_DIR", str(var_dir))
    built = runpy.run_path(str(REPO_ROOT / "refrun" / "settings.py"))
    names = CHANGED_BY_SSO + [name for name in built if name.startswith("OIDC_")]
    return {**{name: built[name] for name in names if name in built}, "ROOT_URLCONF": "tests.sso_urls"}
