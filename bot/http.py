"""HTTP mode: Bolt behind a small WSGI app, served by waitress (a production WSGI server).

Routes: POST /slack/events (Slack), GET /healthz (alive), GET /readyz (the database takes a
write, and is migrated). Waitress runs in-process, so the local console and the tests serve the
very same WSGI app on a free port.
"""

from __future__ import annotations

import codecs
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
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

from bot.logs import log_context

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024


class FormSafeBoltRequest(BoltRequest):
    """A BoltRequest that reads its body correctly, and at a fraction of the cost.

    - slack-bolt 1.30 treats any form body containing the text "payload" as an interaction and,
      finding no `payload` field, reads it as empty: `/orders search payload`, or a channel named
      #payload-team, would be answered 404. Such bodies are read as the form they are.
    - A click's form body is a URL-encoded copy of the whole message; `parse_qsl` decodes it one
      `%XX` at a time in Python (a large share of a click's CPU, before the ack). It is decoded
      in C here (`parse_form`), with `parse_qsl` kept for anything unusual.
    - For a lazy listener Bolt copies the request and then deep-copies that copy, in the thread
      that acks. Copies here hold the raw body and parse it on first use, in the listener's
      thread: the ack does no JSON work for them, and a backlog of clicks waiting for a listener
      is a string each, not thousands of objects each for the garbage collector to walk (whose
      full passes, with such a backlog, stalled every thread of the process for 100-180 ms).
    """

    _body: dict[str, Any] | None

    def __init__(self, *, deferred: bool = False, **kwargs: Any) -> None:
        body = kwargs.pop("body", None)
        http = kwargs.get("mode", "http") == "http" and isinstance(body, str)
        # Bolt parses a str body itself: give it none, then set the body read here.
        super().__init__(body="" if http else body, **kwargs)
        if http:
            assert isinstance(body, str)
            self.raw_body = body
            if deferred:  # a copy: its context came with it, its body is read when first used
                self._body = None
                # Bolt's __init__ read an empty body into the context: one key it always sets.
                given = kwargs.get("context") or {}
                self.context["is_enterprise_install"] = given.get("is_enterprise_install", False)
            else:
                self.body = parse_body(body, self.content_type)
                self.context = build_context(self.context, self.body)

    @property
    def body(self) -> dict[str, Any]:
        """The parsed body (a copy's is parsed here, on first use)."""
        body = self._body
        if body is None:
            body = self._body = parse_body(self.raw_body, self.content_type)
        return body

    @body.setter
    def body(self, value: dict[str, Any]) -> None:
        self._body = value

    def to_copyable(self) -> BoltRequest:
        """A copy for another thread: the fix kept, the body parsed there when first used."""
        return FormSafeBoltRequest(
            body=self.raw_body,
            deferred=True,
            query=self.query,
            headers={name: list(values) for name, values in self.headers.items()},
            context=self.context.to_copyable(),
            mode=self.mode,
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> BoltRequest:
        """Bolt deep-copies the copy a lazy listener gets: copy it the same way instead."""
        return self.to_copyable()


def parse_body(raw: str, content_type: str | None) -> dict[str, Any]:
    """A Slack request body: JSON (events), or a form (commands; interactions in `payload`)."""
    if not raw:
        return {}
    if content_type == "application/json" or raw.lstrip().startswith("{"):
        parsed: dict[str, Any] = json.loads(raw)
        return parsed
    fields = parse_form(raw)
    return json.loads(fields["payload"]) if "payload" in fields else fields


def parse_form(raw: str) -> dict[str, str]:
    """`application/x-www-form-urlencoded` fields, as `dict(parse_qsl(raw, keep_blank_values=True))`.

    `%XX` escapes become `\\xXX` and are decoded by the `unicode_escape` codec (in C), the bytes
    then read as UTF-8. A body that is not plain ASCII, holds a backslash, or has an escape or
    UTF-8 sequence that does not decode is left to `parse_qsl`, which is the reference.
    """
    if raw.isascii() and "\\" not in raw:
        try:
            fields = {}
            for part in raw.split("&"):
                if not part:
                    continue
                name, _, value = part.partition("=")
                fields[_unquote(name)] = _unquote(value)
            return fields
        except UnicodeDecodeError:
            pass
    return dict(parse_qsl(raw, keep_blank_values=True))


def _unquote(text: str) -> str:
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    latin = codecs.decode(text.replace("%", "\\x"), "unicode_escape")
    return latin.encode("latin-1").decode("utf-8")


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
        headers = _headers(environ)
        # Before Bolt, whose request verification raises on these rather than refusing them.
        malformed = malformed_signing_header(headers)
        if malformed is not None:
            name, value = malformed
            log.info("refused a request: malformed %s header (%.40r)", name, value)
            return self._respond(start_response, BoltResponse(**UNVERIFIED))
        request = FormSafeBoltRequest(
            body=raw, query=environ.get("QUERY_STRING", ""), headers=headers
        )
        return self._respond(start_response, self.bolt.dispatch(request))

    def _respond(self, start_response: StartResponse, response: BoltResponse) -> Iterable[bytes]:
        out_headers = [(k, v) for k, values in response.headers.items() for v in values]
        start_response(f"{response.status} {_REASONS.get(response.status, 'OK')}", out_headers)
        body = response.body
        return [body.encode("utf-8") if isinstance(body, str) else body]


UNVERIFIED: dict[str, Any] = {"status": 401, "body": {"error": "invalid request"}}
"""What Bolt answers a request whose signature does not verify."""


def malformed_signing_header(headers: dict[str, str]) -> tuple[str, str] | None:
    """(name, value) of a signing header Slack never sends so: a timestamp that is not whole
    seconds, a signature that is not ASCII. slack_sdk's verifier raises on them (`int()`,
    `hmac.compare_digest`), which answered 500 with a traceback, instead of refusing them."""
    timestamp = headers.get("x-slack-request-timestamp")
    if timestamp is not None and not (
        timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20
    ):
        return "X-Slack-Request-Timestamp", timestamp
    signature = headers.get("x-slack-signature")
    if signature is not None and not signature.isascii():
        return "X-Slack-Signature", signature
    return None


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


def fork_children(count: int, run: Callable[[int], int]) -> list[int]:
    """Fork `count` processes, each running `run(its index)` and exiting with what it returns.

    Call it before any thread, database connection or client exists, as `fork_processes`.
    """
    children: list[int] = []
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run(index)
            except BaseException:
                log.exception("a forked process failed")
            finally:
                os._exit(code)
        children.append(pid)
    return children


def signal_processes(pids: list[int], signum: int) -> None:
    """Send `signum` to each of `pids` still there."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def stop_processes(children: list[int], timeout: float = 30.0) -> list[int]:
    """SIGTERM the children and wait for them; SIGKILL, and return, those still there at the end."""
    import signal
    import time

    signal_processes(children, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    waiting = set(children)
    while waiting and time.monotonic() < deadline:
        for pid in list(waiting):
            with contextlib.suppress(ChildProcessError):  # already reaped (ChildWatch)
                done, _ = os.waitpid(pid, os.WNOHANG)
                if not done:
                    continue
            waiting.discard(pid)
        time.sleep(0.05)
    signal_processes(list(waiting), signal.SIGKILL)
    for pid in waiting:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return sorted(waiting)


class ChildWatch:
    """The first process's watch over the processes it forked, while they should all be serving:
    the first to exit is reaped and reported (`lost(pid, exit code)`), once. A service missing
    a process (a listener process killed by the OOM killer, one that could not start) then
    stops as a whole and exits non-zero, for its supervisor to restart it, rather than limp on.
    """

    def __init__(self, pids: list[int], lost: Callable[[int, int], None]) -> None:
        self._pids = list(pids)
        self._lost = lost
        self._stop = threading.Event()
        self.reaped: set[int] = set()
        """Pids this watch reaped: no longer ours to signal (the system may reuse them)."""
        self._thread = threading.Thread(target=self._run, name="child-watch", daemon=True)
        if self._pids:
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in self._pids:
                try:
                    done, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    continue
                if not done:
                    continue
                self.reaped.add(pid)
                # Ctrl-C reaches every process at once: a copy may stop before the first
                # process has said the service is stopping. A second's grace tells them apart.
                if not self._stop.wait(1.0):
                    self._stop.set()
                    self._lost(pid, os.waitstatus_to_exitcode(status))
                return

    def live(self, pids: list[int]) -> list[int]:
        """Those of `pids` not yet reaped here."""
        return [pid for pid in pids if pid not in self.reaped]

    def stand_down(self) -> None:
        """The service is stopping: exits from now on are expected (call it from a signal
        handler: it only sets a flag)."""
        self._stop.set()

    def stop(self) -> None:
        """Stand down, and wait for the watching thread to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
