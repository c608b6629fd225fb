"""Events: the Home tab is drawn when a user opens it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import select

from bot.deps import Deps
from bot.listeners import after_ack
from bot.ui.screens import home_screen
from orders_core import errors
from orders_core.models import HomeViewer
from orders_core.orders import resolve_caller


def register(app: App, deps: Deps) -> None:
    """Listen to app_home_opened."""

    @after_ack(app.event("app_home_opened"))
    def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        team = body.get("team_id") or ""
        user = event.get("user") or ""
        with deps.db.transaction() as s:
            try:
                caller = resolve_caller(s, team, user)
            except errors.OrdersError:
                caller = None
            if caller is not None:
                remember_home_viewer(s, caller.workspace_id, user, deps.clock.now())
            view = home_screen(s, caller, deps.clock.now())
        client.views_publish(user_id=user, view=view)


def remember_home_viewer(session: Any, workspace_id: int, user_id: str, now: datetime) -> None:
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
