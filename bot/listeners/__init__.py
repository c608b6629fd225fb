"""Bolt listeners, one module per Slack surface, each with `register(app, deps)`.

Every listener runs in the request's own thread and acks when its work is done: the change is
committed, with the Slack calls it owes queued in the outbox, before Slack hears the click was
taken (bot.listeners.common says how a listener answers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest

from bot.deps import Deps
from orders_core.text import clean


def register(app: App, deps: Deps) -> None:
    """Every surface's listeners."""
    from bot.listeners import (
        actions,
        commands,
        conversation,
        events,
        market,
        messages,
        reminders,
        shortcuts,
        views,
    )

    surfaces = (commands, actions, views, events, market, reminders, conversation, messages)
    for surface in (*surfaces, shortcuts):
        surface.register(app, deps)


def drop_unstorable_text(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Middleware: remove NUL and lone surrogates (`orders_core.text.clean`) from every string
    of the payload before any listener reads it, so no text field, id or value can carry one
    to the database (PostgreSQL and SQLite both fail on them: an HTTP 500 inside a modal)."""
    if _holds_unstorable(req.body):
        req.body = _clean_strings(req.body)
    return next()


def _holds_unstorable(value: Any) -> bool:
    """Whether a string in `value` holds NUL or a surrogate, `blocks` aside: those are copies of
    the bot's own message or modal, which no listener reads, and most of a click's payload."""
    if isinstance(value, str):
        return clean(value) != value
    if isinstance(value, dict):
        return any(
            _holds_unstorable(k) or (k != "blocks" and _holds_unstorable(v))
            for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_holds_unstorable(v) for v in value)
    return False


def _clean_strings(value: Any) -> Any:
    """`value` with every string in it (keys too) `clean`ed."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {_clean_strings(k): _clean_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_strings(v) for v in value]
    return value
