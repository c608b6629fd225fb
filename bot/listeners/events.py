"""Events: the Home tab is drawn when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import deps_of
from orders_core import errors
from orders_core.orders import find_workspace, resolve_caller


def register(app: App, deps: Deps) -> None:
    """Listen to app_home_opened."""
    app.event("app_home_opened")(home_opened)


def home_opened(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """Someone opened the app's Home: it is published for them (by the outbox), as it is now."""
    if event.get("tab", "home") != "home":
        return
    deps = deps_of(context)
    team = body.get("team_id") or ""
    user = event.get("user") or ""
    now = deps.clock.now()
    with deps.db.transaction() as s:
        try:
            caller = resolve_caller(s, team, user)
        except errors.OrdersError:
            caller = None
        try:
            workspace_id: int | None = caller.workspace_id if caller else find_workspace(s, team).id
        except errors.OrdersError:
            workspace_id = None  # not onboarded: the Home tab says how to be
        notify.refresh_home(s, team, [user], now=now, workspace_id=workspace_id)
    deps.committed()
