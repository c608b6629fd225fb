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
    main: float | None = None
    """The same figure measured on today's main in the same run (BENCH_APP_SOURCE)."""
    main_ratio: float | None = None
    """value / main."""


def _number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "MB" or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(ratio: float | None) -> str:
    return "—" if ratio is None or math.isnan(ratio) else f"{ratio:.2f}x"


def render_table(rows: list[Row], machine: dict[str, Any], console: Console | None = None) -> None:
    """Print every row: measured, baseline, ratio, target and verdict."""
    # Not a terminal (a pipe, a file): still wide enough that each row stays on one line.
    console = console or Console(width=None if sys.stdout.isatty() else 220)
    table = Table(
        title=(
            f"orders-bot benchmarks — {machine['cores']} cores, {machine['memory_gib']} GiB, "
            f"Python {machine['python']}, {machine['date']}"
        ),
        title_justify="left",
    )
    with_main = any(row.main is not None for row in rows)
    columns = [("what", "left"), ("db", "left"), ("ours", "right"), ("baseline", "right")]
    columns.append(("ratio", "right"))
    if with_main:  # only when today's main ran beside ours (BENCH_APP_SOURCE)
        columns += [("main", "right"), ("vs main", "right")]
    columns += [("target", "left"), ("", "center")]
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = {True: "[green]met[/]", False: "[red]MISSED[/]", None: "[dim]info[/]"}[row.passed]
        cells = [
            row.what,
            row.db,
            _number(row.value, row.unit),
            _number(row.baseline, row.unit),
            _ratio(row.ratio),
        ]
        if with_main:
            cells += [_number(row.main, row.unit), _ratio(row.main_ratio)]
        table.add_row(*cells, row.target, verdict)
    console.print(table)


def render_markdown(rows: list[Row], machine: dict[str, Any]) -> str:
    """The same table in Markdown (for the READMEs), with the machine it was measured on."""
    with_main = any(row.main is not None for row in rows)
    head = ["what", "db", "ours", "baseline", "ratio"]
    head += ["main", "vs main"] if with_main else []
    head += ["target", "result"]
    lines = [
        f"{machine['cores']} cores, {machine['memory_gib']} GiB, {machine['cpu']}, "
        f"Python {machine['python']}, {machine['date']}",
        "",
        "| " + " | ".join(head) + " |",
        "|"
        + "|".join(
            "---:" if c in ("ours", "baseline", "ratio", "main", "vs main") else "---" for c in head
        )
        + "|",
    ]
    for row in rows:
        cells = [
            row.what,
            row.db,
            _number(row.value, row.unit),
            _number(row.baseline, row.unit),
            _ratio(row.ratio),
        ]
        if with_main:
            cells += [_number(row.main, row.unit), _ratio(row.main_ratio)]
        verdict = {True: "met", False: "**missed**", None: "—"}[row.passed]
        cells += [row.target, verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
