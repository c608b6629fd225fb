"""Operating the bot: the database's schema, exports, and `doctor`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from bot.cli.common import (
    CANNOT_START,
    JsonOpt,
    app,
    db_app,
    emit,
    err,
    fail,
    open_database,
    out,
    unit_of_work,
)
from bot.settings import Mode, Settings, SettingsError, load_settings
from orders_core import onboarding
from orders_core.db import Database, SchemaNotCurrent
from orders_core.orders import (
    find_workspace,
)

# -- db ---------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the tables on an empty database, or bring them up to this version (safe to repeat)."""
    db = open_database(check_schema=False)
    before = db.current_revision()
    try:
        db.check_schema()
    except SchemaNotCurrent as exc:
        if exc.ahead:
            db.dispose()
            fail(str(exc), CANNOT_START)
        db.upgrade()
    after = db.current_revision()
    db.dispose()
    if before == after:
        out.print(f"the database is already at revision {after}, the newest: nothing to do")
    else:
        out.print(f"the database is now at revision {after} (was {before or 'empty'})")


@db_app.command("status")
def db_status(json_out: JsonOpt = False) -> None:
    """Say which revision the database is at and whether this version can run on it."""
    db = open_database(check_schema=False)
    current, head = db.current_revision(), db.head_revision()
    try:
        db.check_schema()
        verdict = "up to date"
    except SchemaNotCurrent as exc:
        verdict = str(exc)
    db.dispose()
    data = {"current": current, "head": head, "up_to_date": current == head}
    emit(
        data,
        json_out,
        lambda: out.print(f"revision {current or 'none'} (this version needs {head}): {verdict}"),
    )


@app.command("export")
def export(
    fmt: Annotated[
        str, typer.Option("--format", help="csv (a row per timeline entry) or json.")
    ] = "json",
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Only this team id.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="A file (default: standard output).")
    ] = None,
) -> None:
    """Write every order and its timeline, as CSV or JSON."""
    from orders_core.export import write_csv, write_json

    if fmt not in ("csv", "json"):
        fail(f"--format {fmt!r}: use csv or json.")
    writer = write_csv if fmt == "csv" else write_json
    with unit_of_work(write=False) as s:
        workspace_id = find_workspace(s, workspace).id if workspace else None
        if output is None:
            count = writer(s, sys.stdout, workspace_id)
        else:
            with output.open("w", encoding="utf-8", newline="") as handle:
                count = writer(s, handle, workspace_id)
    err.print(f"exported {count} orders")


def connections_line(settings: Settings) -> str:
    """How many PostgreSQL connections each process of this configuration may open."""
    return (
        f"each bot process opens up to {settings.database_connections} "
        f"(a pool of {settings.database_pool}, as many again under load; from "
        f"HTTP_THREADS={settings.http_threads} and OUTBOX_THREADS={settings.outbox_threads}): "
        "keep PostgreSQL's max_connections above that times the processes, plus your tools"
    )


def report_outbox(db: Database, report: Callable[[bool, str, str], None]) -> None:
    """What the notification outbox holds back: a refused token, items given up on."""
    from datetime import UTC, datetime

    from bot.delivery.outbox import health

    found = health(db, datetime.now(UTC))
    for team, count in sorted(found.held_by_token.items()):
        report(
            False,
            f"outbox {team}",
            f"{count} notifications held: Slack refuses the workspace's token (revoked or "
            "rotated); they go once it works: reinstall the app, or fix SLACK_BOT_TOKEN",
        )
    report(
        found.set_aside == 0,
        "outbox",
        f"{found.waiting} notifications waiting; {found.set_aside} set aside in the last 7 days"
        + ("" if not found.set_aside else " (the outbox table's failed rows say why)"),
    )


@app.command("doctor")
def doctor() -> None:
    """Check the settings, the database, the migrations and Slack (auth.test); say what is wrong."""

    problems = 0

    def report(ok: bool, what: str, detail: str) -> None:
        nonlocal problems
        problems += 0 if ok else 1
        out.print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")

    try:
        settings = load_settings()
    except SettingsError as exc:
        report(False, "settings", str(exc))
        raise typer.Exit(1) from None
    mode = Mode.SOCKET if settings.slack_app_token and not settings.oauth else Mode.HTTP
    try:
        settings.require_slack(mode)
        how = "OAuth (many workspaces)" if settings.oauth else f"one bot token, {mode.value} mode"
        report(True, "settings", how)
    except SettingsError as exc:
        report(False, "settings", str(exc).replace("\n", " "))
    db = Database(settings.database_url)
    try:
        current, head = db.current_revision(), db.head_revision()
        report(True, "database", f"{db.engine.url.render_as_string(hide_password=True)} reachable")
        if not db.is_sqlite:
            report(True, "connections", connections_line(settings))
        report(
            current == head,
            "migrations",
            f"at {current}, code needs {head}"
            + ("" if current == head else ": run `orders-bot db upgrade`"),
        )
        if current == head:
            report_outbox(db, report)
    except Exception as exc:  # any driver error: unreachable
        report(
            False,
            "database",
            f"{db.engine.url.render_as_string(hide_password=True)}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
        )
    from slack_sdk.errors import SlackApiError

    from bot.delivery.clients import make_client

    tokens: list[tuple[str, str]] = []
    if settings.oauth:
        try:
            from bot.oauth import installation_store

            store = installation_store(settings, db)
            with db.read() as s:
                teams = [w.team_id for w in onboarding.list_workspaces(s)]
            for team in teams:
                bot = store.find_bot(enterprise_id=None, team_id=team)
                if bot is not None and bot.bot_token:
                    tokens.append((team, bot.bot_token))
                else:
                    report(
                        False,
                        f"slack {team}",
                        "the app is not installed there: open /slack/install",
                    )
        except Exception as exc:
            report(False, "slack installations", f"{exc.__class__.__name__}: {exc}")
    elif settings.slack_bot_token is not None:
        tokens.append(("bot token", settings.slack_bot_token.get_secret_value()))
    for label, token in tokens:
        try:
            answer = make_client(settings.slack_api_url, token, timeout=5).auth_test()
            report(
                True,
                f"slack {label}",
                f"auth.test ok: team {answer.get('team')} ({answer.get('team_id')}), bot {answer.get('user')}",
            )
        except SlackApiError as exc:
            report(False, f"slack {label}", f"auth.test failed: {exc.response.get('error')}")
        except OSError as exc:
            report(False, f"slack {label}", f"cannot reach {settings.slack_api_url}: {exc}")
    db.dispose()
    raise typer.Exit(1 if problems else 0)
