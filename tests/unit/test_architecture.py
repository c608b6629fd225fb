"""The arrows point one way: bot imports orders_core, never the reverse, and the core knows no Slack."""

from __future__ import annotations

import ast
from pathlib import Path

import orders_core

FORBIDDEN = ("slack_bolt", "slack_sdk", "bot")


def test_orders_core_imports_nothing_from_slack_or_the_bot() -> None:
    """Every module of orders_core, every import statement."""
    root = Path(orders_core.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []
    assert len(list(root.rglob("*.py"))) > 5  # the walk really saw the package


def _module_imports(package: Path, root_name: str) -> dict[str, set[str]]:
    """For each module of a package, the package's modules it imports at load time (imports
    inside functions, and those for type checking only, run later or never: left out)."""
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for inner in ast.walk(node) if not isinstance(node, ast.FunctionDef) else []:
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    continue
                if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                    if inner.module.startswith(root_name):
                        found.add(inner.module)
                        found.update(f"{inner.module}.{a.name}" for a in inner.names)
                elif isinstance(inner, ast.Import):
                    found.update(a.name for a in inner.names if a.name.startswith(root_name))
        graph[name] = found
    return {m: {i for i in deps if i in graph and i != m} for m, deps in graph.items()}


def test_the_bot_has_no_import_cycles() -> None:
    """Every module of bot/ can be understood after the ones it imports: no cycle among them."""
    import bot

    graph = _module_imports(Path(bot.__file__).parent, "bot")
    assert len(graph) > 20
    visiting: set[str] = set()
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        if module in done:
            return
        if module in visiting:
            cycles.append([*path[path.index(module) :], module])
            return
        visiting.add(module)
        for dep in sorted(graph[module]):
            visit(dep, [*path, module])
        visiting.discard(module)
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


def test_each_room_imports_only_what_it_may() -> None:
    """Block Kit builders are pure (no database session, no Slack client, no delivery); one
    surface's listeners never import another's (what they share is in listeners.common)."""
    import bot

    graph = _module_imports(Path(bot.__file__).parent, "bot")
    offenders = []
    for module, deps in graph.items():
        if module.startswith("bot.ui.") and module != "bot.ui.screens":
            offenders += [
                f"{module} -> {d}"
                for d in deps
                if d.startswith(("bot.delivery", "bot.listeners", "bot.app"))
            ]
        if module.startswith("bot.listeners.") and module != "bot.listeners.common":
            offenders += [
                f"{module} -> {d}"
                for d in deps
                if d.startswith("bot.listeners.") and d != "bot.listeners.common"
            ]
    assert offenders == []
