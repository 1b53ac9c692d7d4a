"""The seams hold: no import cycles, and the core knows nothing of the platforms.

The import graph is read from the source (``ast``), TYPE_CHECKING imports included, so a
cycle hidden behind ``if TYPE_CHECKING:`` or an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("bot", "adapters", "papers_bot")
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "discord", "aiohttp")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
    }


def imported_names(path: Path, name: str) -> set[str]:
    """Every module ``path`` imports, anywhere in the file, as absolute dotted names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (``from a import b`` counts ``a.b`` if a
    module, else ``a``)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = {dep for dep in imported_names(path, name) if dep in known and dep != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    graph = project_graph()
    assert "bot.app" in graph and "bot.store" in graph["bot.app"]


def test_no_import_cycles() -> None:
    assert cycles(project_graph()) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_imports_no_adapter_and_no_platform_sdk() -> None:
    offenders = []
    for name, path in modules().items():
        if not name.startswith("bot"):
            continue
        for dep in imported_names(path, name):
            if dep.startswith("adapters") or dep.split(".")[0] in PLATFORM_SDKS:
                offenders.append(f"{name} imports {dep}")
    assert offenders == []


def test_core_and_adapters_do_not_import_the_composition_root() -> None:
    offenders = [
        f"{name} imports {dep}"
        for name, path in modules().items()
        if not name.startswith("papers_bot")
        for dep in imported_names(path, name)
        if dep.split(".")[0] == "papers_bot"
    ]
    assert offenders == []


def test_platform_adapters_do_not_import_one_another() -> None:
    """Shared rendering lives in the core or in adapters' shared modules, not in another
    platform's package: a platform can be removed without breaking the others."""
    platforms = {"console", "slack", "discord"}

    def platform_of(module: str) -> str | None:
        parts = module.split(".")
        if parts[0] != "adapters" or len(parts) < 2:
            return None
        head = parts[1].removesuffix("_platform")
        return head if head in platforms else None

    offenders = []
    for name, path in modules().items():
        own = platform_of(name)
        if own is None:
            continue
        for dep in imported_names(path, name):
            other = platform_of(dep)
            if other is not None and other != own:
                offenders.append(f"{name} imports {dep}")
    assert offenders == []
