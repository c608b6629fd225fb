"""Slack's Socket Mode on a local port, for an app run with an app-level token (xapp-…).

apps.connections.open hands out a ws:// URL with a one-time ticket; the app connects and is
greeted with "hello"; push() sends it envelopes shaped as Slack sends them (slash_commands,
interactive, events_api) and every acknowledgement the app sends back
(`{"envelope_id": ..., "payload": ...}`) is recorded. The WebSocket protocol is the `websockets`
package's (in the test extra: only tests and benchmarks reach this module).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from bot.console.localslack.payloads import JsonDict


@dataclass(frozen=True)
class Envelope:
    """One envelope pushed to the app."""

    envelope_id: str
    type: str
    payload: JsonDict
    accepts_response_payload: bool
    message: JsonDict
    """The whole message as sent over the WebSocket."""


@dataclass(frozen=True)
class Ack:
    """The app's acknowledgement of an envelope, with the payload it answered (if any)."""

    envelope_id: str
    payload: JsonDict | None
    received: float


class SocketModeServer:
    """The WebSocket endpoint Socket Mode apps connect to; started by LocalSlack on first use."""

    def __init__(self, host: str, changed: threading.Condition, touch: Callable[[], None]) -> None:
        self._host = host
        # LocalSlack's condition: its wait_for wakes on connections and acks too.
        self._changed = changed
        self._touch = touch
        self._tickets: dict[str, str] = {}
        self._connections: list[ServerConnection] = []
        self._envelopes: list[Envelope] = []
        self._acks: list[Ack] = []
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SocketModeServer:
        """Listen on a free port, in a daemon thread."""
        if self._server is None:
            self._server = serve(
                self._serve_connection,
                self._host,
                0,
                process_request=self._check_ticket,
                ping_interval=None,  # the app pings (slack_sdk does, every few seconds)
            )
            self._thread = threading.Thread(
                target=self._server.serve_forever, name=f"SocketMode:{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    @property
    def port(self) -> int:
        """The port WebSocket connections are taken on."""
        if self._server is None:
            raise RuntimeError("the Socket Mode server is not started")
        return int(self._server.socket.getsockname()[1])

    def new_url(self, app_id: str) -> str:
        """A URL for one connection, as apps.connections.open answers it."""
        ticket = str(uuid.uuid4())
        with self._changed:
            self._tickets[ticket] = app_id
        return f"ws://{self._host}:{self.port}/link/?ticket={ticket}&app_id={app_id}"

    # ------------------------------------------------------------------ pushing

    def push(
        self,
        type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str = "",
    ) -> Envelope:
        """Send an envelope on the newest connection (as Slack picks one of the app's)."""
        message: JsonDict = {
            "envelope_id": str(uuid.uuid4()),
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:  # events_api envelopes carry these
            message.update({"retry_attempt": retry_attempt, "retry_reason": retry_reason})
        with self._changed:
            if not self._connections:
                raise AssertionError("no app is connected in Socket Mode")
            connection = self._connections[-1]
            envelope = Envelope(
                message["envelope_id"], type, payload, accepts_response_payload, message
            )
            self._envelopes.append(envelope)
        connection.send(json.dumps(message, separators=(",", ":"), ensure_ascii=False))
        return envelope

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask every connected app to reconnect, as Slack does before it closes a connection."""
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": _DEBUG})
        for connection in self.connections():
            connection.send(message)

    def forget(self) -> None:
        """Forget the envelopes pushed and the acks received (connections stay open)."""
        with self._changed:
            self._envelopes.clear()
            self._acks.clear()

    # ------------------------------------------------------------------ queries

    def connections(self) -> list[ServerConnection]:
        """The open connections, oldest first."""
        with self._changed:
            return list(self._connections)

    def envelopes(self) -> list[Envelope]:
        """The envelopes pushed, oldest first."""
        with self._changed:
            return list(self._envelopes)

    def acks(self) -> list[Ack]:
        """The acknowledgements received, oldest first."""
        with self._changed:
            return list(self._acks)

    def ack_for(self, envelope_id: str) -> Ack | None:
        """The acknowledgement of one envelope, or None (yet)."""
        with self._changed:
            return next((a for a in self._acks if a.envelope_id == envelope_id), None)

    def wait_for_ack(self, envelope_id: str, timeout: float) -> Ack:
        """Wait until the app acknowledges the envelope; AssertionError after timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (ack := self.ack_for(envelope_id)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"envelope {envelope_id} was not acknowledged within {timeout:g}s "
                        f"(acks: {[a.envelope_id for a in self._acks]})"
                    )
                self._changed.wait(remaining)
            return ack

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least `count` connections are open."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._connections) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{len(self._connections)} Socket Mode connection(s) after {timeout:g}s,"
                        f" {count} wanted"
                    )
                self._changed.wait(remaining)

    # ---------------------------------------------------------------- internals

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse the handshake of a URL apps.connections.open did not hand out."""
        query = parse_qs(urlsplit(request.path).query)
        with self._changed:
            known = self._tickets.pop((query.get("ticket") or [""])[0], None)
        if known is None or urlsplit(request.path).path.rstrip("/") != "/link":
            return connection.respond(403, "unknown or used ticket\n")
        return None

    def _serve_connection(self, connection: ServerConnection) -> None:
        path = connection.request.path if connection.request is not None else ""
        app_id = (parse_qs(urlsplit(path).query).get("app_id") or [""])[0]
        with self._changed:
            self._connections.append(connection)
            count = len(self._connections)
        try:
            hello = {
                "type": "hello",
                "num_connections": count,
                "debug_info": {**_DEBUG, "approximate_connection_time": 18060},
                "connection_info": {"app_id": app_id},
            }
            connection.send(json.dumps(hello))
            with self._changed:
                self._touch()
            for raw in connection:
                self._received(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self._connections.remove(connection)
                self._touch()

    def _received(self, raw: str | bytes) -> None:
        try:
            message: Any = json.loads(raw)
        except ValueError:
            return  # not an ack: nothing Slack would act on
        if isinstance(message, dict) and message.get("envelope_id"):
            payload = message.get("payload")
            ack = Ack(
                str(message["envelope_id"]),
                payload if isinstance(payload, dict) else None,
                time.time(),
            )
            with self._changed:
                self._acks.append(ack)
                self._touch()


_DEBUG: JsonDict = {"host": "applink-local", "build_number": 1}
