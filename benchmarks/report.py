"""Results: one row per figure, with its baseline, ratio and target; printed as a table, saved as JSON."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class Row:
    """One measured figure and how it stands against its target."""

    key: str
    what: str
    db: str
    value: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = "—"
    passed: bool | None = None
    """None: reported for information, no target."""
    details: dict[str, Any] = field(default_factory=dict)


def _number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "MB" or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_table(rows: list[Row], machine: dict[str, Any], console: Console | None = None) -> None:
    """Print every row: measured, baseline, ratio, target and verdict."""
    # Not a terminal (a pipe, a file): still wide enough that each row stays on one line.
    console = console or Console(width=None if sys.stdout.isatty() else 150)
    table = Table(
        title=(
            f"orders-bot benchmarks — {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"Python {machine['python']}, {machine['date']}"
        ),
        title_justify="left",
    )
    for column, justify in (
        ("what", "left"),
        ("db", "left"),
        ("measured", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("", "center"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = {True: "[green]met[/]", False: "[red]MISSED[/]", None: "[dim]info[/]"}[row.passed]
        table.add_row(
            row.what,
            row.db,
            _number(row.value, row.unit),
            _number(row.baseline, row.unit),
            "—" if row.ratio is None else f"{row.ratio:.2f}x",
            row.target,
            verdict,
        )
    console.print(table)


def write_json(
    path: Path, rows: list[Row], machine: dict[str, Any], settings: dict[str, Any]
) -> None:
    """The results file: the machine, the run's settings, and every row with its details."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": machine,
        "settings": settings,
        "rows": [asdict(r) for r in rows],
        "summary": {
            "met": sum(1 for r in rows if r.passed is True),
            "missed": [f"{r.key} ({r.db})" for r in rows if r.passed is False],
        },
    }
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
