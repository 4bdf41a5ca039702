"""The two-app rule at the edges this part of the redesign drew: ingestion imports
nothing of recommender (not even inside a function), and jobs, the neutral
record both apps use, imports neither."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports_of(source: str) -> set[str]:
    """Every absolute module imported anywhere in the source, functions included."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _imported_modules(package: str) -> set[tuple[str, str]]:
    return {
        (str(path.relative_to(ROOT)), module)
        for path in (ROOT / package).rglob("*.py")
        for module in _imports_of(path.read_text())
    }


@pytest.mark.parametrize(
    ("package", "forbidden"), [("ingestion", {"recommender"}), ("jobs", {"ingestion", "recommender"})]
)
def test_it_keeps_the_imports_one_way(package, forbidden):
    offending = sorted(
        (where, module) for where, module in _imported_modules(package) if module.split(".")[0] in forbidden
    )

    assert offending == []


def test_the_walk_sees_imports_inside_functions():
    source = "def task():\n    from recommender.services import reference_pairs_import\n    import recommender.tasks\n"

    assert _imports_of(source) == {"recommender.services", "recommender.tasks"}
