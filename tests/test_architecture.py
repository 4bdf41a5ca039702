"""The house rules of README's "What is where" and ../shared/docs/architecture.md, as a test.

Arrows point one way: recommender may import ingestion, never the reverse; the neutral apps
(jobs, accounts) import neither product app; no product app imports the demo app, which
production does not install; and no app imports the URL configuration or the Celery app,
which are the project's wiring, not a library. Imports inside functions count too, and so
does reaching into an app by name through `apps.get_model("app", ...)`.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "ingestion": {"recommender", "accounts", "demo"},
    "jobs": {"ingestion", "recommender", "accounts", "demo"},
    "accounts": {"ingestion", "recommender", "demo"},
    "recommender": {"demo"},
    "operations": {"demo"},
    "refrun": {"demo"},
}
WIRING = {"refrun.urls", "refrun.celery"}
APPS = sorted({*FORBIDDEN, "demo"} - {"refrun"})


def imported_names(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every import and every `get_model("app", ...)` in a module."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.lineno, node.module))
            names += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append((node.lineno, node.args[0].value.split(".")[0]))
    return names


def violations(app: str, path: str, source: str) -> list[str]:
    found = []
    for line, name in imported_names(source):
        top = name.split(".")[0]
        if top in FORBIDDEN.get(app, ()):
            found.append(f"{path}:{line} {app} imports {name}")
        if app != "refrun" and any(name == wiring or name.startswith(f"{wiring}.") for wiring in WIRING):
            found.append(f"{path}:{line} {app} imports the project's wiring {name}")
    return found


def app_modules(app: str):
    return sorted((ROOT / app).rglob("*.py"))


def test_it_knows_every_app_it_rules():
    for app in APPS:
        assert (ROOT / app / "apps.py").exists(), app


@pytest.mark.parametrize("app", [*APPS, "refrun"])
def test_it_keeps_the_arrows_one_way(app):
    found = []
    for path in app_modules(app):
        found += violations(app, str(path.relative_to(ROOT)), path.read_text())
    assert found == []


def test_it_catches_an_import_hidden_in_a_function():
    source = "def task():\n    from recommender.services import reference_pairs_import\n"
    assert violations("ingestion", "ingestion/tasks.py", source) == [
        "ingestion/tasks.py:2 ingestion imports recommender.services",
        "ingestion/tasks.py:2 ingestion imports recommender.services.reference_pairs_import",
    ]


def test_it_catches_a_model_reached_by_name():
    source = "from django.apps import apps\nPair = apps.get_model('recommender', 'ReferencePair')\n"
    assert violations("ingestion", "x.py", source) == ["x.py:2 ingestion imports recommender"]


def test_it_catches_the_wiring():
    assert violations("recommender", "x.py", "from refrun.celery import app\n") == [
        "x.py:1 recommender imports the project's wiring refrun.celery",
        "x.py:1 recommender imports the project's wiring refrun.celery.app",
    ]
    assert violations("operations", "x.py", "import refrun.urls\n") == [
        "x.py:1 operations imports the project's wiring refrun.urls"
    ]
