"""Bolt listeners, one module per Slack surface, each with `register(app, deps)`.

Interactions are acknowledged at once in the request's own thread (`after_ack`): the work —
database, Slack calls — then runs on the listener pool. An ack never waits for a free worker
thread, so Slack gets its answer well inside 3 seconds even when every worker is busy.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from slack_bolt import Ack

COMMAND = "/orders"
BOT_EVENTS = ("app_home_opened", "app_uninstalled", "tokens_revoked")

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., None])


def ack_now(ack: Ack) -> None:
    """Acknowledge the request at once."""
    ack()


def guarded(fn: F) -> F:
    """Run a listener's work; if it fails unexpectedly, log it and still tell the user."""

    @functools.wraps(fn)
    def run(**kwargs: Any) -> None:
        try:
            fn(**kwargs)
        except Exception:
            log.exception("unhandled error in %s", fn.__name__)
            body = kwargs.get("body") or {}
            url = body.get("response_url") if isinstance(body, dict) else None
            if url:
                from bot.app import OOPS
                from bot.deliveries import post_response_url

                try:
                    post_response_url(url, OOPS, replace_original=False)
                except Exception:  # Slack unreachable too: the log above is what remains
                    log.warning("could not tell the user about the error")

    return run  # type: ignore[return-value]


def after_ack(register: Callable[..., Any]) -> Callable[[F], F]:
    """`@after_ack(app.action(...))`: ack at once, then run the function on the listener pool."""

    def decorate(fn: F) -> F:
        register(ack=ack_now, lazy=[guarded(fn)])
        return fn

    return decorate
