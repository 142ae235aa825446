"""The dependency direction of the code, read from the source: imports inside functions
count, so a cycle cannot hide behind a late import.

Bottom to top: the leaf modules of ``config`` (settings and pure helpers), ``accounts``, ``events``,
``subscriptions``, ``delivery``, ``notifier``, then the wiring of ``config`` (URLs, the
Celery app, the API error handler). A module imports its own layer or lower ones.
"""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "events", "subscriptions", "delivery", "notifier")
CONFIG_WIRING = {
    "config",
    "config.urls",
    "config.celery_app",
    "config.worker_heartbeat",
    "config.api_errors",
    "config.wsgi",
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} (line {self.line})"


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for package in ("config", *APPS):
        for path in (root / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imported_names(module: str, path: Path, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:  # `from pkg import module` names a module, not only pkg
            yield f"{base}.{alias.name}"


def project_imports(modules: dict[str, Path]) -> list[Import]:
    found = set()
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for name in _imported_names(module, path, node):
                while name and name not in modules:  # `a.b.func` -> the module a.b
                    name = name.rpartition(".")[0]
                if name and name != module:
                    found.add(Import(module, name, node.lineno))
    return sorted(found, key=lambda i: (i.source, i.line, i.target))


def layer(module: str) -> int:
    top = module.split(".")[0]
    if top == "config":
        return len(APPS) + 1 if module in CONFIG_WIRING else 0
    return APPS.index(top) + 1


def upward(imports: list[Import]) -> list[Import]:
    return [i for i in imports if layer(i.target) > layer(i.source)]


def cycles(imports: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for i in imports:
        graph.setdefault(i.source, set()).add(i.target)
        graph.setdefault(i.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_a_higher_layer():
    assert [str(i) for i in upward(project_imports(project_modules()))] == []


def test_no_import_cycle():
    assert cycles(project_imports(project_modules())) == []


def test_settings_import_no_project_module():
    imports = project_imports(project_modules())
    assert [str(i) for i in imports if i.source == "config.settings"] == []


def test_the_reader_sees_imports_inside_functions_and_relative_ones(tmp_path):
    # A cycle made only through a late import, and an upward relative import: both caught.
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "__init__.py").write_text("")
    for app in APPS:
        (tmp_path / app).mkdir()
        (tmp_path / app / "__init__.py").write_text("")
    (tmp_path / "notifier" / "a.py").write_text("from notifier.b import run\n")
    (tmp_path / "notifier" / "b.py").write_text("def run():\n    from notifier import a\n")
    (tmp_path / "events" / "models.py").write_text("from ..delivery import models\n")
    (tmp_path / "delivery" / "models.py").write_text("import events.models\n")
    imports = project_imports(project_modules(tmp_path))
    assert cycles(imports) == [["delivery.models", "events.models"], ["notifier.a", "notifier.b"]]
    assert [str(i) for i in upward(imports)] == ["events.models -> delivery.models (line 1)"]


def test_the_reader_sees_the_real_edges():
    # Guards against a reader that silently finds nothing in the real tree.
    imports = {(i.source, i.target) for i in project_imports(project_modules())}
    assert ("notifier.firing", "delivery.messages") in imports
    assert ("config.urls", "events.api") in imports
    assert ("notifier.tasks", "notifier.services") in imports
