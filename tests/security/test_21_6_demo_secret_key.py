"""Issue 21, finding 6: the demo signed with a key printed in the source. With
REFRUN_DEMO=true and no SECRET_KEY, the signed record of what a page showed could be
forged with the literal key in refrun/settings.py, so a decision named a reference the
page never showed. The demo now gets the random per-installation key; the development
key is for DEBUG=true only."""

import re

from tests.conftest import REPO_ROOT
from tests.security.test_07_secure_by_default import _settings_process

# The attacker's key: the literal they read in the published source.
PRINTED_KEY = re.search(r'SECRET_KEY = "([^"]+)"', (REPO_ROOT / "refrun" / "settings.py").read_text()).group(1)

FORGE = f"""
import django; django.setup()
from django.core import signing
from recommender import shown
from recommender.exceptions import InvalidFeedback
# Reference 1 was never on the page of run 383839: the forger adds it.
forged = signing.dumps([383839, "express", 7, [1]], key={PRINTED_KEY!r}, salt=shown._SALT)
try:
    print("accepted", shown.shown_references(forged, run_number=383839, reconstruction="express", model_version_id=7))
except InvalidFeedback as refused:
    print("refused:", refused)
"""


def test_the_demo_refuses_a_record_signed_with_the_printed_key(tmp_path):
    result = _settings_process(tmp_path, FORGE, REFRUN_DEMO="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused: the page's record of what it showed is not valid"), result.stdout


def test_the_demo_signs_with_the_installations_random_key(tmp_path):
    first = _settings_process(tmp_path, REFRUN_DEMO="true")
    plain = _settings_process(tmp_path)

    assert first.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key != PRINTED_KEY and len(key) >= 50
    # The demo's web server, worker and beat, like any start of the installation, share it.
    assert plain.stdout.strip() == key == (tmp_path / "secret_key").read_text().strip()


def test_only_debug_signs_with_the_printed_key(tmp_path):
    assert _settings_process(tmp_path, DEBUG="true").stdout.strip() == PRINTED_KEY
    assert _settings_process(tmp_path, DEBUG="true", REFRUN_DEMO="true").stdout.strip() == PRINTED_KEY
