"""The documented lifecycle is the table, not a copy of it."""

from __future__ import annotations

from pathlib import Path

from orders_core.lifecycle import lifecycle_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_lifecycle_is_the_table() -> None:
    """docs/lifecycle.md shows exactly TRANSITIONS."""
    text = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    shown = text.split("<!-- table:begin -->\n", 1)[1].split("<!-- table:end -->", 1)[0]
    assert shown.strip() == lifecycle_markdown().strip()
