"""The bot running for real in HTTP mode on a free port, talking to a local Slack."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.app import Runtime, build_runtime
from bot.clock import MovableClock
from bot.console.http import LocalServer
from bot.console.localslack import LocalSlack, SlackSender, Workspace
from bot.settings import Settings
from bot.wsgi import OrdersApp
from orders_core.db import Database
from tests.support.world import OTHER_TEAM, TEAM

SIGNING_SECRET = secrets.token_hex(16)
TOKEN = "xoxb-test-token"
OTHER_TOKEN = "xoxb-other-token"


@dataclass
class Bot:
    """A running bot and the local Slack it talks to."""

    runtime: Runtime
    server: LocalServer
    slack: LocalSlack
    sender: SlackSender
    clock: MovableClock

    @property
    def db(self) -> Database:
        """The bot's database."""
        return self.runtime.db

    def ask(
        self, user: str, text: str, *, team: str = TEAM, channel: str = "C0ORDERS"
    ) -> Ephemeral:
        """Type `/orders TEXT` and wait for the ephemeral answer."""
        url = self.slack.new_response_url(channel=channel, user=user, team_id=team)
        response = self.sender.slash_command(
            team_id=team, user_id=user, text=text, channel_id=channel, response_url=url
        )
        assert response.status == 200, (response.status, response.body)
        message = self.slack.wait_for(
            lambda: (self.slack.response_messages(url) or [None])[-1],
            description=f"an answer to /orders {text}",
        )
        return Ephemeral(self, url, channel, user, team, message)

    def say(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        team: str = TEAM,
        retry_of: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`user` writes `text` in `channel` (or a thread of it): the message lands in Slack and
        its event reaches the bot (`retry_of`: the message of an earlier say, delivered again as
        Slack retries, with X-Slack-Retry-Num). Returns the message."""
        message = retry_of or self.slack.user_message(
            channel, user, text, team_id=team, thread_ts=thread_ts
        )
        if retry_of:
            response = self.sender.message(
                team_id=team, channel=channel, message=message, retry_num=1, retry_reason="timeout"
            )
        else:
            response = self.sender.message(team_id=team, channel=channel, message=message)
        assert response.status == 200, (response.status, response.body)
        return message

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the listeners are done and every due notification is delivered."""
        self.runtime.settle(timeout, fast_forward=self.clock.advance)

    def channel(self, channel: str) -> list[dict[str, Any]]:
        """The messages of a channel as they look now (thread replies aside)."""
        return [
            m for m in self.slack.channel_messages(channel) if m.get("thread_ts") in (None, m["ts"])
        ]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies in a message's thread."""
        return [m for m in self.slack.thread_messages(channel, ts) if m["ts"] != ts]

    def modal(self, user: str) -> dict[str, Any]:
        """The modal on top of `user`'s screen (waiting for it to open)."""
        return self.slack.wait_for(
            lambda: (self.slack.open_views(user) or [None])[-1], description=f"a modal for {user}"
        )

    def submit(self, user: str, inputs: dict[str, Any], *, team: str = TEAM) -> Any:
        """Submit `user`'s top modal (once one is open) with these inputs; the app's answer (JSON or {})."""
        view = self.modal(user)
        response = self.sender.view_submission(team_id=team, user_id=user, view=view, inputs=inputs)
        assert response.status == 200, (response.status, response.body)
        return response.json() if response.body else {}

    def status_of(self, number: str) -> Any:
        """An order's status, read from the database."""
        from sqlalchemy import select

        from orders_core.models import Order
        from orders_core.orders import parse_order_number

        with self.db.read() as s:
            return s.scalar(select(Order.status).where(Order.number == parse_order_number(number)))

    def timeline(self, number: str) -> list[Any]:
        """An order's timeline entries, oldest first."""
        from sqlalchemy import select

        from orders_core.models import Order
        from orders_core.orders import parse_order_number, timeline

        with self.db.read() as s:
            order_id = s.scalar(select(Order.id).where(Order.number == parse_order_number(number)))
            return list(timeline(s, order_id)) if order_id else []

    def click_posted(
        self,
        user: str,
        channel: str,
        ts: str,
        action_id: str,
        *,
        team: str = TEAM,
        value: str | None = None,
    ) -> Any:
        """Click a button of a message posted in a channel."""
        return self.sender.click(
            team_id=team, user_id=user, channel_id=channel, ts=ts, action_id=action_id, value=value
        )


@dataclass
class Ephemeral:
    """An ephemeral message the app answered with, and how to click it."""

    bot: Bot
    url: str
    channel: str
    user: str
    team: str
    message: dict[str, Any]

    @property
    def text(self) -> str:
        """What a person reads in it."""
        return blocks_text(self.message)

    def current(self) -> Ephemeral:
        """The message as it looks now (after replace_original)."""
        found = self.bot.slack.response_messages(self.url)
        return Ephemeral(
            self.bot, self.url, self.channel, self.user, self.team, found[0] if found else {}
        )

    def click(
        self,
        action_id: str,
        *,
        value: str | None = None,
        user: str | None = None,
        choice: Any = None,
    ) -> Ephemeral:
        """Click a button (or choose an option) in it; returns a handle on the clicked message."""
        url = self.bot.slack.new_response_url(
            channel=self.channel,
            user=self.user,
            team_id=self.team,
            message_ts=self.message["ts"],
            ephemeral=True,
        )
        response = self.bot.sender.click(
            team_id=self.team,
            user_id=user or self.user,
            channel_id=self.channel,
            message=self.message,
            action_id=action_id,
            value=value,
            choice=choice,
            ephemeral=True,
            response_url=url,
        )
        assert response.status == 200, (response.status, response.body)
        return Ephemeral(self.bot, url, self.channel, self.user, self.team, self.message)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until the listeners are done and every due notification is delivered."""
        self.runtime.settle(timeout, fast_forward=self.clock.advance)


def blocks_text(message: dict[str, Any]) -> str:
    """All the text a person reads in a message or view, in order."""
    from bot.console.localslack import visible_text

    return visible_text(message)


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(action_id, label) of every button in a message or view, in order."""
    found = []
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button":
                found.append((element["action_id"], element["text"]["text"]))
    return found


@contextmanager
def running_bot(
    db: Database, *, start: datetime | None = None, worker: bool = True, **settings: Any
) -> Iterator[Bot]:
    """Start LocalSlack, the bot in HTTP mode on a free port, and its outbox worker (unless
    `worker` is False: the test delivers with runtime.worker.run_once())."""
    workspaces = {
        TOKEN: Workspace(team_id=TEAM, team_name="Test", team_domain="test"),
        OTHER_TOKEN: Workspace(team_id=OTHER_TEAM, team_name="Other", team_domain="other"),
    }
    clock = MovableClock(start)
    with LocalSlack(
        workspaces=workspaces,
        default_workspace=workspaces[TOKEN],
        rate_clock=lambda: clock.now().timestamp(),  # Slack's minute is the bot's minute
    ) as slack:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db.url,
            slack_bot_token=TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.base_url,
            **settings,
        )
        runtime = build_runtime(settings, clock=clock, db=db, migrate=False)
        server = LocalServer(OrdersApp(runtime)).start()
        runtime.start(worker=worker)
        try:
            yield Bot(
                runtime,
                server,
                slack,
                SlackSender(server.url, SIGNING_SECRET, local_slack=slack),
                clock,
            )
        finally:
            server.close()
            runtime.worker.stop()


def dumps(value: Any) -> str:
    """Compact JSON (for button values in hand-made payloads)."""
    return json.dumps(value, separators=(",", ":"))
