"""What every command shares: the command groups, their options, how a command reads the
database and says what went wrong."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    pass

from bot.settings import Settings, SettingsError, load_settings
from orders_core import errors, onboarding
from orders_core.db import Database, SchemaNotCurrent
from orders_core.lifecycle import OrderStatus, parse_status_list
from orders_core.models import Workspace
from orders_core.orders import (
    find_workspace,
)
from orders_core.slack_ids import SlackId, check_slack_id


def _group(help: str, **extra: Any) -> typer.Typer:
    """A command group with plain help (`-h` or `--help`), as every other Unix tool prints it."""
    return typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
        **extra,
    )


app = _group("Service orders in Slack: run the bot, and onboard merchants, providers and services.")
db_app = _group("The database: create or upgrade its tables, and check them.")
workspace_app = _group("Slack workspaces (one per Slack team) the bot serves.")
merchant_app = _group("Merchants: the businesses that order services.")
provider_app = _group("Service providers: the studios that build what merchants order.")
member_app = _group("Members: the Slack users who act for a merchant or a service provider.")
service_app = _group("The Service Market: the services merchants can order.")
orders_app = _group("Service orders, as one member sees them and acts on them.")
remind_app = _group("Reminders: digests of waiting orders posted on a schedule.")
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(merchant_app, name="merchant")
app.add_typer(provider_app, name="provider")
app.add_typer(member_app, name="member")
app.add_typer(service_app, name="service")
app.add_typer(orders_app, name="orders")
app.add_typer(remind_app, name="remind")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"orders-bot {version('orders-bot')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and stop."
        ),
    ] = False,
) -> None:
    """Service orders in Slack: run the bot, and onboard merchants, providers and services.

    Exit status: 0 done; 1 the command was refused (it says why, nothing was changed); 2 the
    bot cannot start or reach what it needs (settings, database, Slack).
    """


_acting: list[str] = []
"""The member given with --as in this command, for the commands a message suggests."""


def refusal(exc: errors.OrdersError) -> str:
    """A domain error as the command line shows it: its suggestions are command lines."""
    user = _acting[-1] if _acting else "USER_ID"
    return exc.render(
        dataclasses.replace(
            errors.PLAIN, command=lambda name, arg: errors.cli_command(name, arg, user)
        )
    )


def _id_option(kind: SlackId, flag: str) -> Callable[[str | None], str | None]:
    """A typer callback refusing an id that does not have the shape of a Slack `kind` id."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            checked = check_slack_id(kind, value, flag)
        except errors.InvalidInput as exc:
            fail(f"{flag}: {exc.fields[flag]}")
        if kind is SlackId.USER:
            _acting[:] = [checked]
        return checked

    return check


JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of a table, for scripts.")
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        metavar="TEAM_ID",
        callback=_id_option(SlackId.TEAM, "--workspace"),
        help="The Slack team id (T0123ABCD) of the workspace; needed only when there are several.",
    ),
]
AsOpt = Annotated[
    str,
    typer.Option(
        "--as",
        metavar="USER_ID",
        callback=_id_option(SlackId.USER, "--as"),
        help="The Slack user id (U0123ABCD) of the member acting; what they may see and do applies.",
    ),
]

T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and stop."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    raise typer.Exit(code)


CANNOT_START = 2
"""Exit status when the bot cannot start or reach what it needs (settings, database, Slack)."""


def settings_or_exit() -> Settings:
    """The settings, or one line per mistake and exit status 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), CANNOT_START)


def open_database(*, check_schema: bool = True) -> Database:
    """The configured database, reachable and (unless `check_schema` is False) migrated to
    exactly this version; otherwise one line saying what to do, and exit status 2."""
    db = Database(settings_or_exit().database_url)
    try:
        if check_schema:
            db.check_schema()
        else:
            db.current_revision()  # reachable?
    except SchemaNotCurrent as exc:
        db.dispose()
        fail(str(exc), CANNOT_START)
    except DBAPIError as exc:
        db.dispose()
        fail(unreachable(db, exc), CANNOT_START)
    return db


def unreachable(db: Database, exc: BaseException) -> str:
    """One line for a database that cannot be reached: which, why, and what to check."""
    where = db.engine.url.render_as_string(hide_password=True)
    why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    check = (
        "that the directory exists and is writable"
        if db.is_sqlite
        else "DATABASE_URL (host, port, user, password, database) and that the server is running"
    )
    return f"cannot reach the database {where} ({why}): check {check}."


@contextmanager
def unit_of_work(write: bool = True) -> Iterator[Session]:
    """A transaction on the configured database; domain errors become one-line failures."""
    db = open_database()
    try:
        with db.transaction() if write else db.read() as session:
            yield session
    except errors.OrdersError as exc:
        fail(refusal(exc))
    except IntegrityError:
        # Another command wrote the same thing between our check and our write.
        fail("that conflicts with something just written by another command: run it again.")
    except DBAPIError as exc:
        fail(unreachable(db, exc), CANNOT_START)
    finally:
        db.dispose()


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums and datetimes as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def emit(data: Any, as_json: bool, human: Callable[[], None]) -> None:
    """Print `data` as JSON, or call `human` to print it for people."""
    if as_json:
        out.print_json(json.dumps(to_jsonable(data)))
    else:
        human()


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain table."""
    t = Table(*columns, box=None, pad_edge=False)
    for row in rows:
        t.add_row(*[str(c) if c is not None else "" for c in row])
    out.print(t)


def pick_workspace(session: Session, team_id: str | None) -> Workspace:
    """The named workspace, or the only one."""
    if team_id:
        return find_workspace(session, team_id)
    workspaces = onboarding.list_workspaces(session)
    if len(workspaces) == 1:
        return workspaces[0]
    if not workspaces:
        fail(
            "no workspace is onboarded yet: `orders-bot workspace add T0123ABCD --name 'My team'`."
        )
    fail("there are several workspaces: say which with --workspace TEAM_ID.")


def parse_statuses(words: Sequence[str]) -> set[OrderStatus] | None:
    """Status names typed as words (`pending confirmation`, `open`); one line and exit 1 on an unknown one."""
    statuses, unknown = parse_status_list(" ".join(words))
    if unknown:
        fail(
            f"unknown status {unknown!r}: use "
            + ", ".join(s.label for s in OrderStatus)
            + ", open or all."
        )
    return set(statuses) if statuses else None
