"""Events: the Home tab is drawn when a user opens it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_bolt import App, BoltContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import notify
from bot.deps import Deps
from bot.listeners.common import deps_of
from orders_core import errors
from orders_core.models import HomeViewer
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
        if caller is not None:
            remember_home_viewer(s, caller.workspace_id, user, now)
        try:
            workspace_id: int | None = caller.workspace_id if caller else find_workspace(s, team).id
        except errors.OrdersError:
            workspace_id = None  # not onboarded: the Home tab says how to be
        notify.refresh_home(s, team, [user], now=now, workspace_id=workspace_id)
    deps.committed()


def remember_home_viewer(session: Session, workspace_id: int, user_id: str, now: datetime) -> None:
    """From now on, this user's Home tab is kept current as their orders change."""
    viewer = session.scalar(
        select(HomeViewer).where(
            HomeViewer.workspace_id == workspace_id, HomeViewer.user_id == user_id
        )
    )
    if viewer is None:
        session.add(HomeViewer(workspace_id=workspace_id, user_id=user_id, opened_at=now))
    else:
        viewer.opened_at = now
