"""Events: the Home tab is drawn when a user opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.deps import Deps
from bot.screens import home_screen
from orders_core import errors
from orders_core.orders import resolve_caller


def register(app: App, deps: Deps) -> None:
    """Listen to app_home_opened."""

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        team = body.get("team_id") or ""
        user = event.get("user") or ""
        with deps.db.read() as s:
            try:
                caller = resolve_caller(s, team, user)
            except errors.OrdersError:
                caller = None
            view = home_screen(s, caller, deps.clock.now())
        client.views_publish(user_id=user, view=view)
