"""Running the bot: `run` (Socket Mode, or HTTP under gunicorn), `worker`, `scheduler`, `console`.

A process that serves logs every line in LOG_FORMAT, and refuses to start, with one line and
exit status 2, when a setting, the database, its schema or Slack cannot be used.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import DBAPIError

from bot.cli.common import CANNOT_START, app, unreachable
from bot.settings import Mode, Settings, SettingsError, load_settings
from orders_core.db import Database, SchemaNotCurrent

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger("orders_bot")


def start_logging() -> None:
    """Logging as configured, before anything else can print: with LOG_FORMAT=json every line a
    serving process writes is JSON, its refusals to start included."""
    from dotenv import dotenv_values

    from bot.logs import configure_logging

    # As Settings reads them (the environment over a .env file, any case), before they are
    # checked: a process whose settings are wrong says so in the format asked for.
    found = {k.upper(): v for k, v in dotenv_values(".env").items() if v is not None}
    found.update({k.upper(): v for k, v in os.environ.items()})
    level = found.get("LOG_LEVEL", "INFO").upper()
    fmt = found.get("LOG_FORMAT", "text").lower()
    configure_logging(
        level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO",
        fmt if fmt in ("text", "json") else "text",
    )


def cannot_start(message: str) -> NoReturn:
    """Log why the process cannot start, in one line, and exit with status 2."""
    log.error("cannot start: %s", message)
    raise SystemExit(CANNOT_START)


def serving_settings(mode: Mode | None) -> Settings:
    """The settings a serving process needs for `mode`, or exit 2 naming what is wrong."""
    try:
        settings = load_settings()
        settings.require_slack(mode)
    except SettingsError as exc:
        cannot_start(str(exc).replace("\n", " "))
    from bot.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    return settings


def check_database(settings: Settings) -> None:
    """Exit 2, before anything is created, unless the database answers with this version's schema."""
    db = Database(settings.database_url)
    try:
        db.check_schema()
    except SchemaNotCurrent as exc:
        cannot_start(str(exc))
    except DBAPIError as exc:
        cannot_start(unreachable(db, exc))
    finally:
        db.dispose()


def start_runtime(settings: Settings, **options: Any) -> Runtime:
    """`build_runtime`, or exit 2 with one line when the database or Slack cannot be used."""
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    from bot.app import build_runtime

    check_database(settings)
    quiet = logging.getLogger("slack_sdk.web.base_client")  # it logs each failure, then raises
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        return build_runtime(settings, **options)
    except SchemaNotCurrent as exc:
        cannot_start(str(exc))
    except DBAPIError as exc:
        cannot_start(unreachable(Database(settings.database_url), exc))
    except (BoltError, SlackApiError) as exc:
        cannot_start(
            f"Slack refused the bot token ({exc}): check SLACK_BOT_TOKEN, or reinstall the app."
        )
    except OSError as exc:
        cannot_start(
            f"cannot reach Slack at {settings.slack_api_url} ({exc}): check the network, a proxy, "
            "or SLACK_API_URL."
        )
    finally:
        quiet.setLevel(level)


def check_slack(settings: Settings) -> None:
    """Exit 2 unless Slack accepts the bot token (OAuth: each workspace's, checked as used)."""
    from slack_sdk.errors import SlackApiError

    from bot.delivery.clients import make_client

    if settings.oauth or settings.slack_bot_token is None:
        return
    client = make_client(settings.slack_api_url, settings.slack_bot_token.get_secret_value())
    quiet = logging.getLogger("slack_sdk.web.base_client")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        client.auth_test()
    except SlackApiError as exc:
        cannot_start(
            f"Slack refused the bot token ({exc.response.get('error')}): check SLACK_BOT_TOKEN, "
            "or reinstall the app."
        )
    except OSError as exc:
        cannot_start(
            f"cannot reach Slack at {settings.slack_api_url} ({exc}): check the network, a proxy, "
            "or SLACK_API_URL."
        )
    finally:
        quiet.setLevel(level)


def until_stopped() -> None:
    """Wait for SIGTERM or Ctrl-C (SIGINT)."""
    stopping = threading.Event()

    def stop(number: int, _frame: object) -> None:
        log.info("signal %s: stopping", number)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    stopping.wait()


@app.command("run")
def run(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="HTTP mode (Slack posts to /slack/events), served by gunicorn; default: Socket Mode.",
        ),
    ] = False,
    port: Annotated[
        int | None, typer.Option(help="HTTP mode: the port (default $PORT or 3000).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="HTTP mode: the interface (default $HOST or 0.0.0.0).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="HTTP mode: gunicorn worker processes (default $HTTP_WORKERS or 1; one per core).",
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=256,
            help="HTTP mode: request threads per worker (default $HTTP_THREADS or 8).",
        ),
    ] = None,
    scheduler: Annotated[
        bool | None,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the reminder scheduler too (default: SCHEDULER_ENABLED, on).",
        ),
    ] = None,
) -> None:
    """Run the bot: its listeners, the notification worker and (by default) the scheduler."""
    mode = Mode.HTTP if http else Mode.SOCKET
    start_logging()
    settings = serving_settings(mode)
    if scheduler is not None:
        settings = settings.model_copy(update={"scheduler_enabled": scheduler})
    check_database(settings)
    check_slack(settings)
    if mode is Mode.HTTP:
        serve_http(
            settings,
            host=host or settings.host,
            port=port if port is not None else settings.port,
            workers=workers or settings.http_workers,
            threads=threads or settings.http_threads,
        )
        return
    run_socket_mode(settings)


def serve_http(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """gunicorn, configured by bot.wsgi, with these settings; returns when it has stopped."""
    from gunicorn.app.base import BaseApplication

    import bot.wsgi

    bot.wsgi.settings_override = settings

    class Gunicorn(BaseApplication):  # type: ignore[misc]
        """gunicorn's own application class, with bot.wsgi's configuration."""

        def load_config(self) -> None:
            for name in bot.wsgi.GUNICORN_SETTINGS:
                self.cfg.set(name, getattr(bot.wsgi, name))
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)

        def load(self) -> Any:
            return bot.wsgi.app

    Gunicorn().run()


def run_socket_mode(settings: Settings) -> None:
    """Socket Mode: a WebSocket to Slack, no public URL; stops on SIGTERM or Ctrl-C."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.errors import SlackApiError

    runtime = start_runtime(settings, mode=Mode.SOCKET)
    assert settings.slack_app_token is not None
    handler = SocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
    try:
        try:
            handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            cannot_start(
                f"Slack refused the app-level token ({exc.response.get('error')}): check "
                "SLACK_APP_TOKEN (xapp-…, with connections:write) and that Socket Mode is on."
            )
        except OSError as exc:
            cannot_start(f"cannot reach Slack at {settings.slack_api_url} ({exc}).")
        runtime.start(scheduler=settings.scheduler_enabled)
        log.info("orders-bot connected in Socket Mode")
        until_stopped()
        handler.close()  # type: ignore[no-untyped-call]
    finally:
        runtime.stop()


@app.command("worker")
def worker() -> None:
    """Run only the notification worker: deliver what the bot owes Slack (for a scaled-out
    deployment, beside the web processes and the scheduler)."""
    start_logging()
    runtime = start_runtime(serving_settings(None), mode=None)
    runtime.start(worker=True)
    log.info("orders-bot worker running")
    until_stopped()
    runtime.stop()


@app.command("scheduler")
def scheduler_only() -> None:
    """Run only the reminder scheduler: it queues digests and escalations, which the workers
    deliver (a `run` or a `worker` process)."""
    start_logging()
    runtime = start_runtime(serving_settings(None), mode=None)
    runtime.start(worker=False, scheduler=True)
    log.info("orders-bot scheduler running")
    until_stopped()
    runtime.stop()


@app.command("console")
def console(
    demo: Annotated[
        bool, typer.Option("--demo", help="A fresh temporary database with the demo workspace.")
    ] = False,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as", help="The Slack user id to start as (default: the first merchant member)."
        ),
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script",
            help="Run the commands in FILE, print the transcript, exit non-zero if a step failed.",
        ),
    ] = None,
) -> None:
    """Try the whole bot in a terminal, without a Slack workspace: the real app, a local Slack."""
    from bot.console.session import run_console

    raise typer.Exit(run_console(demo=demo, as_user=as_user, script=script))
