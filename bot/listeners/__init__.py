"""Bolt listeners, one module per Slack surface, each with `register(app, deps)`.

Interactions are acknowledged at once in the request's own thread (`after_ack`): the work —
database, Slack calls — then runs on the listener pool. An ack never waits for a free worker
thread, so Slack gets its answer well inside 3 seconds even when every worker is busy.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from slack_bolt import Ack, BoltResponse
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_bolt.lazy_listener.internals import build_runnable_function
from slack_bolt.request import BoltRequest

from bot.executor import ListenerExecutor
from orders_core.text import clean

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
            from bot.app import OOPS
            from bot.delivery.deliveries import tell_about_failure

            tell_about_failure(body.get("response_url") if isinstance(body, dict) else None, OOPS)

    return run  # type: ignore[return-value]


def after_ack(register: Callable[..., Any], *, opens_modal: bool = False) -> Callable[[F], F]:
    """`@after_ack(app.action(...))`: ack at once, then run the function on the listener pool.

    `opens_modal`: the function opens a modal with the request's `trigger_id`, which Slack
    takes for 3 s only: it runs on the pool's modal lane, never behind other work (LaneRunner).
    """

    def decorate(fn: F) -> F:
        lazy = guarded(fn)
        lazy.opens_modal = opens_modal  # type: ignore[attr-defined]
        register(ack=ack_now, lazy=[lazy])
        return fn

    return decorate


def opens_modal(function: Callable[..., Any]) -> bool:
    """Whether a lazy listener was registered as opening a modal (`after_ack(opens_modal=...)`)."""
    return bool(getattr(function, "opens_modal", False))


class LaneRunner(LazyListenerRunner):
    """Bolt's lazy listener runner on our pool: what opens a modal goes on its lane."""

    def __init__(self, logger: logging.Logger, pool: ListenerExecutor) -> None:
        self.logger = logger
        self.pool = pool

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        """Run `function` for `request` on the pool, on the modal lane if it opens one."""
        runnable = build_runnable_function(func=function, logger=self.logger, request=request)
        if opens_modal(function):
            self.pool.submit_modal(runnable)
        else:
            self.pool.submit(runnable)


def drop_unstorable_text(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Middleware: remove NUL and lone surrogates (`orders_core.text.clean`) from every string
    of the payload before any listener reads it, so no text field, id or value can carry one
    to the database (PostgreSQL and SQLite both fail on them: an HTTP 500 inside a modal)."""
    if _holds_unstorable(req.body):
        req.body = _clean_strings(req.body)
        if req.raw_body:
            # A lazy listener's copy of the request parses the raw body again (bot/http.py,
            # bot/handoff.py): it must read the cleaned one too.
            req.raw_body = _encode_like(req.raw_body, req.content_type, req.body)
    return next()


def _holds_unstorable(value: Any) -> bool:
    """Whether a string in `value` holds NUL or a surrogate, `blocks` aside: those are copies of
    the bot's own message or modal, which no listener reads, and most of a click's payload (a
    digest's: some 20 kB), so the ack spends some 20 µs here instead of 200 on every click."""
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


def _encode_like(raw: str, content_type: str | None, body: dict[str, Any]) -> str:
    """`body` encoded the way `raw` was: JSON, a form with a JSON `payload`, or a plain form."""
    if content_type == "application/json" or raw.lstrip().startswith("{"):
        return json.dumps(body)
    if raw.startswith("payload=") or "&payload=" in raw:
        return urlencode({"payload": json.dumps(body)})
    return urlencode(body)
