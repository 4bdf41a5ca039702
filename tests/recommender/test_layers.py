"""The recommender's read side, as a test (../shared/docs/architecture.md):

- `recommender/ml/` takes data frames and never touches the database: it imports
  nothing of Django and no app's models, selectors or services, and uses no manager;
- the recommender reads the OMS mirror (`Run`, `Fill`, `Lumisection`) only through
  `ingestion.selectors`: outside its own selectors no module queries them;
- views, API views and the page builders build no querysets: they call selectors and services;
- the pages (`recommender/pages/`) are the top layer: only views and the API import them.

A plain AST walk over the source files; the last tests show that it catches each kind.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RECOMMENDER = ROOT / "recommender"
MIRROR = {"Run", "Fill", "Lumisection", "TrackerCertification"}
# The demo's doubles write the mirror on purpose; they are moving to the demo app
# (issue 10, item 5), which production does not install.
DEMO_DOUBLES = {"simulation", "simulate.py", "demo_setup.py"}
# A write of the mirror from the Certhelper import (a run's class from its dataset name)
# is not a read; it ends in one of these calls.
WRITES = {"update", "bulk_create", "bulk_update", "delete", "create", "get_or_create", "update_or_create"}


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _last_call(node: ast.AST, parents: dict) -> str:
    """The method the chain starting at `node` (`Run.objects...`) finally calls."""
    last = ""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Attribute):
            last = parent.attr
        elif not (isinstance(parent, ast.Call) and parent.func is node):
            break
        node = parent
    return last


def manager_uses(source: str, models: set[str] | None = None) -> list[tuple[int, str]]:
    """(line, "Model.objects") of each manager use, of `models` only when given; writes
    of the mirror (a chain ending in an update, create or delete) are not listed."""
    tree = ast.parse(source)
    parents = _parents(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"objects", "_default_manager"}:
            owner = node.value.id if isinstance(node.value, ast.Name) else ast.unparse(node.value)
            if models is None:
                found.append((node.lineno, f"{owner}.{node.attr}"))
            elif owner in models and _last_call(node, parents) not in WRITES:
                found.append((node.lineno, f"{owner}.{node.attr}"))
    return sorted(found)


def database_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of Django or of an app's models, selectors or services."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            names = [module, *(f"{module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            parts = name.lstrip(".").split(".")
            if parts[0] == "django" or {"models", "selectors", "services"} & set(parts):
                found.append((node.lineno, name))
                break
    return found


def _modules(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, path.relative_to(ROOT)


def test_ml_takes_frames_and_never_touches_the_database():
    found = []
    for path, name in _modules(RECOMMENDER / "ml"):
        source = path.read_text()
        found += [f"{name}:{line} imports {module}" for line, module in database_imports(source)]
        found += [f"{name}:{line} uses {manager}" for line, manager in manager_uses(source)]
    assert found == []


def test_the_recommender_reads_the_mirror_only_through_selectors():
    found = []
    for path, name in _modules(RECOMMENDER):
        if path.name in {"selectors.py", "models.py"} or "selectors" in name.parts or DEMO_DOUBLES & set(name.parts):
            continue
        found += [f"{name}:{line} queries {manager}" for line, manager in manager_uses(path.read_text(), MIRROR)]
    assert found == []


def test_views_and_api_views_build_no_queryset():
    found = []
    for module in (
        "views.py",
        "api.py",
        *(f"pages/{path.name}" for path in sorted((RECOMMENDER / "pages").glob("*.py"))),
    ):
        source = (RECOMMENDER / module).read_text()
        found += [f"recommender/{module}:{line} uses {manager}" for line, manager in manager_uses(source)]
    assert found == []


def test_only_views_and_the_api_import_the_pages():
    from tests.test_import_graph import import_graph

    found = {
        (module, imported)
        for module, imports in import_graph().items()
        if module.startswith("recommender.")
        and module not in {"recommender.views", "recommender.api"}
        and not module.startswith("recommender.pages")
        for imported in imports
        if imported.startswith("recommender.pages") and imported != "recommender.pages"
    }
    assert found == set()


def test_it_catches_a_database_import_in_ml():
    source = "import pandas as pd\nfrom django.db import connection\nfrom ..models import ReferencePair\n"
    assert database_imports(source) == [(2, "django.db"), (3, "..models")]
    assert database_imports("def f():\n    from ingestion.selectors import run_get\n") == [(2, "ingestion.selectors")]


def test_it_catches_a_read_of_the_mirror_but_not_a_write():
    source = (
        "def f():\n"
        "    a = Run.objects.filter(run_number=1).first()\n"
        "    Run.objects.filter(id__in=[1]).update(run_class='cosmics')\n"
        "    return Fill.objects.values_list('fill_number', flat=True)\n"
    )
    assert manager_uses(source, MIRROR) == [(2, "Run.objects"), (4, "Fill.objects")]
    assert manager_uses("Feedback.objects.all()\n") == [(1, "Feedback.objects")]
