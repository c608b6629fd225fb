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
