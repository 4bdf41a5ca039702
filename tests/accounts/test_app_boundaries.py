"""Who may import whom, read from the source (an AST walk, so imports inside
functions count too): accounts stands below both product apps, and no product
app reaches for the demo's doubles, which production does not install."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _imported_apps(app: str) -> dict[str, set[str]]:
    """Top-level package of every import in `app`'s modules (migrations included), by file."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / app).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(REPO))] = names
    return found


def _offenders(app: str, forbidden: set[str]) -> list[str]:
    return [
        f"{path} imports {sorted(names & forbidden)}"
        for path, names in _imported_apps(app).items()
        if names & forbidden
    ]


def test_it_keeps_accounts_free_of_the_product_apps_and_the_demo():
    assert _imported_apps("accounts"), "accounts/ has no modules: wrong path?"
    assert _offenders("accounts", {"recommender", "ingestion", "demo"}) == []


@pytest.mark.parametrize("app", ["ingestion", "recommender", "operations", "refrun"])
def test_it_keeps_the_demo_out_of_the_product(app):
    assert _offenders(app, {"demo"}) == []


def test_it_finds_a_forbidden_import_inside_a_function(tmp_path, monkeypatch):
    (tmp_path / "fake_app").mkdir()
    (tmp_path / "fake_app" / "views.py").write_text("def view():\n    from recommender.models import Run\n")
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    assert _offenders("fake_app", {"recommender"}) == ["fake_app/views.py imports ['recommender']"]
