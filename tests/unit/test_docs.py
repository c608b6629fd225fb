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


def test_deploy_doc_sizes_connections_as_the_code_does() -> None:
    """docs/deploy.md's figure is the one Settings derives (and doctor prints) for the defaults."""
    from bot.settings import Settings

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    text = " ".join((ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split())
    assert f"**up to {defaults.database_connections} per process**" in text
    assert defaults.database_connections == 2 * defaults.database_pool
