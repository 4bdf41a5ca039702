"""The import graph of every app, as a test (../shared/docs/architecture.md).

Each module is parsed with `ast`; its imports are collected at module level and inside
functions, relative imports are resolved, and the graph is followed transitively.

- No cycle among the modules inside `recommender/`: layers run one way.
- `recommender/ml/` reaches neither Django nor any app's `models`, directly or through
  other modules; a pure module of another app (`ingestion.run_classes`,
  `ingestion.quantities`) is fine while it imports neither itself.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "demo", "ingestion", "jobs", "operations", "recommender", "refrun")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(apps=APPS) -> dict[str, Path]:
    found = {}
    for app in apps:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _package(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imports_of(source: str, *, name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `source` imports, at module level or inside a function: absolute
    names, relative ones resolved; `from x import y` names `x.y` when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package(name, path).split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:
                if f"{module}.{alias.name}" in known:
                    found.add(f"{module}.{alias.name}")
    return found


def _with_parents(modules: set[str], known: set[str]) -> set[str]:
    """Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` too."""
    out = set()
    for module in modules:
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in known or i == len(parts):
                out.add(prefix)
    return out


def import_graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {
        name: _with_parents(imports_of(path.read_text(), name=name, path=path, known=known), known) - {name}
        for name, path in sources.items()
    }


def cycles(graph: dict[str, set[str]], inside: str) -> list[list[str]]:
    """The strongly connected components of more than one module among those under `inside`."""
    nodes = [n for n in graph if n == inside or n.startswith(inside + ".")]
    edges = {
        n: sorted(m for m in graph[n] if m in graph and (m == inside or m.startswith(inside + "."))) for n in nodes
    }
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in nodes:
        if node not in index:
            visit(node)
    return found


def _forbidden(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "django" or (parts[0] in APPS and "models" in parts)


def forbidden_reach(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Each forbidden module reachable from modules under `start`, with a path to it."""
    found = {}
    for origin in (n for n in graph if n == start or n.startswith(start + ".")):
        seen, queue = {origin: [origin]}, [origin]
        while queue:
            node = queue.pop(0)
            for nxt in sorted(graph.get(node, ())):
                if nxt in seen:
                    continue
                seen[nxt] = [*seen[node], nxt]
                if _forbidden(nxt):
                    found.setdefault(nxt, seen[nxt])
                elif nxt in graph:
                    queue.append(nxt)
    return found


def test_it_finds_no_cycle_inside_recommender():
    assert cycles(import_graph(), "recommender") == []


def test_it_finds_no_path_from_ml_to_django_or_models():
    assert forbidden_reach(import_graph(), "recommender.ml") == {}


def test_it_sees_imports_inside_functions_and_relative_ones(tmp_path):
    source = "from .b import c\n\ndef f():\n    from .. import models\n    import django.db\n"
    path = ROOT / "recommender" / "ml" / "a.py"
    found = imports_of(source, name="recommender.ml.a", path=path, known={"recommender.models"})
    assert found == {"recommender.ml.b", "recommender", "recommender.models", "django.db"}


def test_it_catches_a_cycle_and_a_transitive_path():
    graph = {
        "recommender.a": {"recommender.b"},
        "recommender.b": {"recommender.c"},
        "recommender.c": {"recommender.a"},
        "recommender.ml.x": {"ingestion.pure"},
        "ingestion.pure": {"ingestion.models"},
    }
    assert cycles(graph, "recommender") == [["recommender.a", "recommender.b", "recommender.c"]]
    assert forbidden_reach(graph, "recommender.ml") == {
        "ingestion.models": ["recommender.ml.x", "ingestion.pure", "ingestion.models"]
    }
