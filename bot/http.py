"""HTTP mode: Bolt behind a small WSGI app, served by waitress (a production WSGI server).

Routes: POST /slack/events (Slack), GET /healthz (alive), GET /readyz (database reachable and
migrated). Waitress runs in-process, so the local console and the tests serve the very same
WSGI app on a free port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import App, BoltResponse
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

from bot.logs import log_context

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024


class FormSafeBoltRequest(BoltRequest):
    """A BoltRequest that reads a form body correctly when "payload" merely appears in it.

    slack-bolt 1.30 treats any form body containing the text "payload" as an interaction and,
    finding no `payload` field, reads it as empty: `/orders search payload`, or a channel named
    #payload-team, would be answered 404. Parse such bodies as the form they are.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        raw = self.raw_body
        if not self.body and raw and not raw.lstrip().startswith("{"):
            fields = dict(parse_qsl(raw, keep_blank_values=True))
            self.body = json.loads(fields["payload"]) if "payload" in fields else fields
            self.context = build_context(BoltContext(), self.body)

    def to_copyable(self) -> BoltRequest:
        """Copies keep the fix."""
        return FormSafeBoltRequest(
            body=self.raw_body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
            mode=self.mode,
        )


Probe = Callable[[], tuple[bool, str]]
StartResponse = Callable[..., Any]


class SlackWsgiApp:
    """The WSGI application of HTTP mode."""

    def __init__(self, bolt: App, *, ready: Probe | None = None) -> None:
        self.bolt = bolt
        self.ready = ready
        self.in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self.in_flight += 1
        request_id = uuid.uuid4().hex[:12]

        def with_request_id(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("X-Request-Id", request_id)], *rest)

        try:
            with log_context(request_id=request_id):
                return self._route(environ, with_request_id)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == EVENTS_PATH and method == "POST":
            return self._slack(environ, start_response)
        flow = self.bolt.oauth_flow
        if (
            flow is not None
            and method == "GET"
            and path in (flow.install_path, flow.redirect_uri_path)
        ):
            request = FormSafeBoltRequest(
                body="", query=environ.get("QUERY_STRING", ""), headers=_headers(environ)
            )
            handle = flow.handle_installation if path == flow.install_path else flow.handle_callback
            return self._respond(start_response, handle(request))
        if path == "/healthz" and method == "GET":
            return _text(start_response, 200, "ok")
        if path == "/readyz" and method == "GET":
            ok, why = self.ready() if self.ready else (True, "ok")
            return _text(start_response, 200 if ok else 503, why)
        return _text(start_response, 404, "not found")

    def _slack(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            return _text(start_response, 413, "request too large")
        raw = environ["wsgi.input"].read(length).decode("utf-8") if length else ""
        request = FormSafeBoltRequest(
            body=raw, query=environ.get("QUERY_STRING", ""), headers=_headers(environ)
        )
        return self._respond(start_response, self.bolt.dispatch(request))

    def _respond(self, start_response: StartResponse, response: BoltResponse) -> Iterable[bytes]:
        out_headers = [(k, v) for k, values in response.headers.items() for v in values]
        start_response(f"{response.status} {_REASONS.get(response.status, 'OK')}", out_headers)
        body = response.body
        return [body.encode("utf-8") if isinstance(body, str) else body]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, lower-case, as Bolt reads them."""
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


_REASONS = {
    200: "OK",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _text(start_response: StartResponse, status: int, text: str) -> list[bytes]:
    start_response(
        f"{status} {_REASONS.get(status, 'OK')}", [("Content-Type", "text/plain; charset=utf-8")]
    )
    return [text.encode("utf-8")]


class HttpServer:
    """Waitress serving a WSGI app from a background thread, with a graceful stop.

    Stopping closes the listening socket first, lets the requests in flight finish (up to a
    grace period), then closes the remaining connections — all inside waitress's own loop thread,
    so nothing is closed under its feet.
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 8,
        sock: socket.socket | None = None,
    ) -> None:
        from waitress.server import create_server

        where: dict[str, Any] = {"sockets": [sock]} if sock else {"host": host, "port": port}
        self.server: Any = create_server(
            app,
            threads=threads,
            ident="orders-bot",
            clear_untrusted_proxy_headers=True,
            **where,
        )
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()

    @property
    def port(self) -> int:
        """The port it listens on (a free one when 0 was asked)."""
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.server.run, name="http", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask serve_forever() to stop (safe to call from a signal handler)."""
        self._stop_requested.set()

    def serve_forever(self, grace: float = 25.0) -> None:
        """Serve until request_stop(), then stop gracefully."""
        self.start()
        self._stop_requested.wait()
        self.close(grace)

    def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (up to `grace` s), then stop."""
        import time

        from waitress import wasyncore

        server = self.server
        if self._thread is None:
            server.close()
            server.task_dispatcher.shutdown()
            return
        stopped_listening = threading.Event()

        def stop_listening() -> None:
            wasyncore.dispatcher.close(server)
            stopped_listening.set()

        server.trigger.pull_trigger(stop_listening)
        stopped_listening.wait(2)
        dispatcher = server.task_dispatcher
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (dispatcher.active_count or dispatcher.queue):
            time.sleep(0.02)

        def close_everything() -> None:
            for channel in list(server._map.values()):
                if channel is not server.trigger:
                    channel.close()
            server.trigger.close()

        server.trigger.pull_trigger(close_everything)
        self._thread.join(5)
        dispatcher.shutdown()
        self._thread = None


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket, to share between the processes forked after it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def fork_processes(count: int) -> tuple[int, list[int]]:
    """Fork `count - 1` copies of this process: (this one's index, the children's pids).

    Call it before any thread, database connection or client exists: each process then builds
    its own. The parent is index 0 and gets the children's pids; a child gets an empty list.
    """
    children: list[int] = []
    for index in range(1, count):
        pid = os.fork()
        if pid == 0:
            return index, []
        children.append(pid)
    return 0, children


def stop_processes(children: list[int], timeout: float = 30.0) -> None:
    """SIGTERM the children and wait for them (SIGKILL whoever is still there at the end)."""
    import signal
    import time

    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = set(children)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            with contextlib.suppress(ChildProcessError):
                done, _ = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            waiting.discard(pid)
        time.sleep(0.05)
    for pid in waiting:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
