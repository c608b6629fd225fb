"""HTTP mode: Bolt's WSGI adapter, plus /healthz and /readyz, served by gunicorn.

`orders-bot run --http` starts gunicorn with this module as its configuration; gunicorn can
also be run directly, with the same settings: `gunicorn -c python:bot.wsgi bot.wsgi:app`.
Each worker process builds its own runtime after the fork (`post_fork`): its database pool,
its outbox worker and, when enabled, the reminder scheduler.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from gunicorn import glogging
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.adapter.wsgi.http_request import WsgiHttpRequest
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context

from bot.logs import log_context
from bot.settings import Mode, Settings

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
StartResponse = Callable[..., Any]


class FormRequest(BoltRequest):
    """A BoltRequest that reads a slash command's form as the form it is.

    slack-bolt reads any form body containing the text "payload" as an interaction and, finding
    no `payload` field, as empty: `/orders search payload`, or a channel named #payload-team,
    would be answered 404.
    """

    def __init__(self, *, body: str, **kwargs: Any) -> None:
        super().__init__(body=body, **kwargs)
        if not self.body and "payload" in body and not body.lstrip().startswith("{"):
            form = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" not in form:
                self.body = form
                self.context = build_context(self.context, self.body)


class SlackHandler(SlackRequestHandler):
    """Bolt's WSGI adapter, reading requests with `FormRequest`."""

    def dispatch(self, request: WsgiHttpRequest) -> Any:
        """Hand the request to Bolt."""
        return self.app.dispatch(
            FormRequest(
                body=request.get_body(),
                query=request.query_string,
                headers=request.get_headers(),
            )
        )


def malformed_signing_header(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(name, value) of a signing header Slack never sends so: a timestamp that is not whole
    seconds, a signature that is not ASCII. slack_sdk's verifier raises on them (`int()`,
    `hmac.compare_digest`), which Bolt answers 500 with a traceback, instead of refusing them."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP")
    if timestamp is not None and not (
        timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20
    ):
        return "X-Slack-Request-Timestamp", timestamp
    signature = environ.get("HTTP_X_SLACK_SIGNATURE")
    if signature is not None and not signature.isascii():
        return "X-Slack-Signature", signature
    return None


class OrdersApp:
    """The WSGI application: Slack's requests to Bolt, and the health endpoints."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.slack = SlackHandler(runtime.bolt)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request, under a request id (logged, and sent back as X-Request-Id)."""
        request_id = uuid.uuid4().hex[:12]

        def with_request_id(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            return start_response(status, [*headers, ("X-Request-Id", request_id)], *rest)

        with log_context(request_id=request_id):
            return self._route(environ, with_request_id)

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        if method == "GET" and path == "/healthz":
            return _text(start_response, "200 OK", "ok")
        if method == "GET" and path == "/readyz":
            ok, why = self.runtime.ready()
            return _text(start_response, "200 OK" if ok else "503 Service Unavailable", why)
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > MAX_BODY:
                return _text(start_response, "413 Payload Too Large", "request too large")
            malformed = malformed_signing_header(environ)
            if malformed is not None:
                name, value = malformed
                log.info("refused a request: malformed %s header (%.40r)", name, value)
                return _text(start_response, "401 Unauthorized", '{"error": "invalid request"}')
        return self.slack(environ, start_response)


def _text(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode("utf-8")]


# -- gunicorn: `gunicorn -c python:bot.wsgi bot.wsgi:app` -----------------------------------------
# This module is gunicorn's configuration too: `orders-bot run --http` sets the same settings,
# with bind, workers and threads from its options (or HOST, PORT, HTTP_WORKERS, HTTP_THREADS).

worker_class = "gthread"
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '3000')}"
workers = int(os.environ.get("HTTP_WORKERS", "1"))
threads = int(os.environ.get("HTTP_THREADS", "8"))
graceful_timeout = 25
"""On SIGTERM, the requests in flight and the outbox items in hand finish first."""
timeout = 60
control_socket_disable = True
"""gunicorn's control socket is one file per user (~/.gunicorn): two services would share it."""
logger_class = "bot.wsgi.GunicornLogger"
GUNICORN_SETTINGS = (
    "worker_class",
    "graceful_timeout",
    "timeout",
    "control_socket_disable",
    "logger_class",
    "on_starting",
    "when_ready",
    "post_fork",
    "worker_exit",
)
"""What `orders-bot run --http` takes from this module (bind, workers and threads it sets)."""


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's own lines through the bot's handler, so LOG_FORMAT=json holds for them too;
    no access log (the bot logs each request it handles under its request id)."""

    def setup(self, cfg: Any) -> None:
        """Configure logging as the bot does, and let gunicorn's error log reach it."""
        from bot.cli.serving import start_logging

        self.cfg = cfg
        start_logging()
        self.error_log.handlers.clear()
        self.error_log.propagate = True
        self.error_log.setLevel(logging.INFO)
        self.access_log.disabled = True


settings_override: Settings | None = None
"""The settings `orders-bot run --http` checked (its --scheduler option included)."""
_served: OrdersApp | None = None


def _settings() -> Settings:
    from bot.cli.serving import serving_settings

    return settings_override or serving_settings(Mode.HTTP)


def on_starting(server: Any) -> None:
    """In the master, before any fork: logging as the bot logs, the schema and Slack checked
    (one line and exit status 2 when they cannot be used)."""
    from bot.cli.serving import check_database, check_slack

    settings = _settings()
    check_database(settings)
    check_slack(settings)


def when_ready(server: Any) -> None:
    """The master listens: say where."""
    where = ", ".join(f"{address}/slack/events" for address in server.LISTENERS)
    log.info(
        "orders-bot listening on %s (%s workers x %s threads)",
        where,
        server.cfg.workers,
        server.cfg.threads,
    )


def post_fork(server: Any, worker: Any) -> None:
    """In each worker: its own runtime (connections, outbox worker, scheduler when enabled)."""
    global _served
    from bot.cli.serving import start_runtime

    settings = _settings()
    runtime = start_runtime(settings, mode=Mode.HTTP)
    runtime.start(scheduler=settings.scheduler_enabled)
    _served = OrdersApp(runtime)


def worker_exit(server: Any, worker: Any) -> None:
    """A worker stopping: its scheduler stops, its outbox items in hand are finished."""
    if _served is not None:
        _served.runtime.stop()


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI entry point: this worker's bot, built in `post_fork`."""
    assert _served is not None, "run under gunicorn with -c python:bot.wsgi (post_fork builds it)"
    return _served(environ, start_response)
