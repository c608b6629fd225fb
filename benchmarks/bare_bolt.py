"""The baseline: a bare Bolt app that acks a click and makes the same `chat.update` call.

It runs under the very server our app runs under: gunicorn, gthread workers, with as many
workers and threads, over Bolt's own WSGI adapter, each worker building its app after the fork
(`post_fork`) as ours does. The difference in a benchmark is what our app does, not how it is
served. Its listener acks, then redraws the clicked message in Bolt's listener thread.

With `BARE_DATABASE_URL` set it is the *hand-written* app instead: before it acks, the listener
commits what a Confirm must write — the guarded status change, the timeline row, the provider's
card queued — as one transaction of raw SQL on the bare driver (`sqlite3`, `psycopg`), no ORM,
no framework of ours; so its ack, like ours, is a promise. It measures what the click's work
costs at the least, so the distance from bare Bolt that no implementation can close is a
figure, not a guess.

    gunicorn -c python:benchmarks.bare_bolt benchmarks.bare_bolt:app
    # HOST, PORT, HTTP_WORKERS, HTTP_THREADS, SLACK_SIGNING_SECRET, SLACK_API_URL,
    # SLACK_BOT_TOKEN, BARE_DATABASE_URL
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


class ClickWrites:
    """A Confirm's writes, by hand: one transaction of raw SQL per click, on a connection of the
    thread's own (the same pragmas as our app's on SQLite: WAL, synchronous=NORMAL, BEGIN
    IMMEDIATE)."""

    def __init__(self, database_url: str) -> None:
        # Imported here: the plain baseline stays as bare as it was (its RSS is a footprint row).
        from sqlalchemy.engine import make_url

        self.url = make_url(database_url)
        self.sqlite = self.url.get_backend_name() == "sqlite"
        self._local = threading.local()
        p = "?" if self.sqlite else "%s"
        self.caller = (
            "SELECT m.workspace_id, m.party_id FROM members m"
            " JOIN workspaces w ON w.id = m.workspace_id"
            f" JOIN parties p ON p.id = m.party_id AND p.kind = 'merchant'"
            f" WHERE w.team_id = {p} AND m.user_id = {p}"
        )
        self.update = (
            "UPDATE orders SET status = 'in_development', version = version + 1,"
            f" updated_at = {p}, status_changed_at = {p}"
            f" WHERE workspace_id = {p} AND number = {p} AND version = {p} AND merchant_id = {p}"
            " AND status = 'pending_confirmation' RETURNING id, provider_id"
        )
        self.event = (
            "INSERT INTO order_events (order_id, workspace_id, seq, action, actor_user_id,"
            " actor_party_id, actor_party, from_status, to_status, source, idempotency_key,"
            f" created_at) SELECT {p}, {p}, COALESCE(MAX(seq), 0) + 1, 'confirm', {p}, {p},"
            f" 'merchant', 'pending_confirmation', 'in_development', 'slack', {p}, {p}"
            f" FROM order_events WHERE order_id = {p}"
        )
        self.card = (
            "INSERT INTO outbox (workspace_id, kind, lane, payload, status, attempts,"
            f" next_attempt_at, created_at) SELECT {p}, 'post_card', 'chan:' || channel_id, {p},"
            f" 'pending', 0, {p}, {p} FROM parties WHERE id = {p} AND channel_id IS NOT NULL"
        )

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.sqlite:
                import sqlite3

                conn = sqlite3.connect(
                    str(self.url.database), isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:
                import psycopg

                conn = psycopg.connect(
                    host=self.url.host,
                    port=self.url.port,
                    user=self.url.username,
                    password=self.url.password,
                    dbname=self.url.database,
                )
            self._local.conn = conn
        return conn

    def confirm(self, team: str, user: str, number: int, version: int) -> bool:
        """Commit the Confirm; False when the order was not the caller's to confirm any more."""
        conn = self._connection()
        now = datetime.now(UTC).replace(tzinfo=None)
        stamp = now.isoformat(sep=" ") if self.sqlite else now
        if self.sqlite:
            conn.execute("BEGIN IMMEDIATE")
        try:
            caller = conn.execute(self.caller, (team, user)).fetchone()
            if caller is None:
                conn.rollback()
                return False
            workspace_id, party_id = caller
            row = conn.execute(
                self.update, (stamp, stamp, workspace_id, number, version, party_id)
            ).fetchone()
            if row is None:
                conn.rollback()
                return False
            order_id, provider_id = row
            key = f"click:{team}:{user}:{number}:confirm:v{version}"
            conn.execute(self.event, (order_id, workspace_id, user, party_id, key, stamp, order_id))
            payload = json.dumps({"order_id": order_id, "party_id": provider_id, "notice": None})
            conn.execute(self.card, (workspace_id, payload, stamp, stamp, provider_id))
            conn.commit()
            return True
        except BaseException:
            conn.rollback()
            raise


def build_app(
    *,
    signing_secret: str,
    api_url: str,
    token: str,
    writes: ClickWrites | None = None,
) -> App:
    """A Bolt app with one action listener: (commit the click's writes,) ack, then redraw the
    clicked message."""
    app = App(
        signing_secret=signing_secret,
        client=WebClient(base_url=api_url, token=token),
        process_before_response=False,
    )

    @app.action(re.compile("^order:"))
    def on_click(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        container = body["container"]
        message = body.get("message") or {}
        user = body["user"]["id"]
        if writes is not None:
            value = json.loads(body["actions"][0]["value"])
            number, version = (
                value.get("order", value.get("n")),
                value.get("version", value.get("v")),
            )
            confirmed = writes.confirm(body["team"]["id"], user, int(number), int(version))
            ack()
            if not confirmed:
                return  # not confirmable (already confirmed): nothing to redraw
        else:
            ack()
        # The message as it was, minus its buttons, plus who acted: what any bot would draw.
        blocks = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Confirmed by <@{user}>"}]}
        )
        client.chat_update(
            channel=container["channel_id"],
            ts=container["message_ts"],
            text=f"Confirmed by <@{user}>",
            blocks=blocks,
        )

    return app


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def with_health(handler: Wsgi) -> Wsgi:
    """Answer GET /healthz like our app, so both are started and probed the same way."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        return handler(environ, start_response)

    return serve


# -- gunicorn: this module is its configuration, as bot.wsgi is ours ----------------------------

worker_class = "gthread"
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '3000')}"
workers = int(os.environ.get("HTTP_WORKERS", "1"))
threads = int(os.environ.get("HTTP_THREADS", "8"))
graceful_timeout = 5
control_socket_disable = True
_served: Wsgi | None = None


def post_fork(server: Any, worker: Any) -> None:
    """In each worker: its own Bolt app (its Web API client, its listener threads)."""
    global _served
    url = os.environ.get("BARE_DATABASE_URL")
    bolt = build_app(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        api_url=os.environ["SLACK_API_URL"],
        token=os.environ["SLACK_BOT_TOKEN"],
        writes=ClickWrites(url) if url else None,
    )
    _served = with_health(SlackRequestHandler(bolt))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The WSGI entry point: this worker's app, built in `post_fork`."""
    assert _served is not None, "run under gunicorn with -c python:benchmarks.bare_bolt"
    return _served(environ, start_response)
