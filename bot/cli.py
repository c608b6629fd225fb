"""`orders-bot`: run the bot, and onboard workspaces, parties, members and services.

Every listing takes `--json` for scripts. A mistake an admin can make ends in one line on
stderr saying what was wrong, and exit status 1; nothing is written.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from bot.app import Runtime

from bot.settings import Mode, Settings, SettingsError, load_settings
from orders_core import catalog, errors, onboarding
from orders_core.db import Database, SchemaNotCurrent
from orders_core.fixtures import demo_fixture_path, load_fixture
from orders_core.lifecycle import (
    Action,
    EventSource,
    OrderStatus,
    Party,
    action_named,
    parse_service_status,
    parse_status_list,
)
from orders_core.models import Workspace
from orders_core.orders import (
    OrderView,
    act,
    count_by_status,
    find_workspace,
    get_order_detail,
    list_orders,
    resolve_caller,
    search_orders,
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


# -- workspaces, parties, members ----------------------------------------------------------


def _workspace_row(w: Workspace) -> dict[str, Any]:
    return {
        "team_id": w.team_id,
        "name": w.name,
        "enterprise_id": w.enterprise_id,
        "time_zone": w.time_zone,
    }


@workspace_app.command("add")
def workspace_add(
    team_id: Annotated[str, typer.Argument(help="The Slack team id, T0123ABCD.")],
    name: Annotated[str | None, typer.Option(help="A name people recognise.")] = None,
    enterprise_id: Annotated[
        str | None, typer.Option(help="The Enterprise Grid id, E0123.")
    ] = None,
    time_zone: Annotated[str | None, typer.Option(help="IANA time zone for reminders.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Onboard a Slack workspace (or update its details)."""
    if time_zone:
        _check_time_zone(time_zone)
    with unit_of_work() as s:
        w = onboarding.add_workspace(
            s, team_id, name, enterprise_id=enterprise_id, time_zone=time_zone
        )
        row = _workspace_row(w)
    emit(
        row, json_out, lambda: out.print(f"workspace {row['team_id']} ({row['name']}) is onboarded")
    )


def _check_time_zone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"{name!r} is not an IANA time zone: try Asia/Singapore, Europe/Berlin or UTC.")


@workspace_app.command("list")
def workspace_list(json_out: JsonOpt = False) -> None:
    """List the onboarded workspaces."""
    with unit_of_work(write=False) as s:
        rows = [_workspace_row(w) for w in onboarding.list_workspaces(s)]
    emit(
        rows,
        json_out,
        lambda: table(
            ["team", "name", "enterprise", "time zone"], [list(r.values()) for r in rows]
        ),
    )


def _add_party(
    kind: Party, name: str, workspace: str | None, channel: str | None, json_out: bool
) -> None:
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        p = onboarding.add_party(s, w, kind, name, channel_id=channel)
        row = {"workspace": w.team_id, "kind": kind.value, "name": p.name, "channel": p.channel_id}
    emit(
        row,
        json_out,
        lambda: out.print(f"{kind.label} {row['name']} is onboarded in {row['workspace']}"),
    )


def _list_parties(kind: Party | None, workspace: str | None, json_out: bool) -> None:
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        rows: list[dict[str, Any]] = [
            {
                "kind": p.kind.value,
                "name": p.name,
                "channel": p.channel_id,
                "members": list(p.members),
            }
            for p in onboarding.list_parties(s, w.id, kind)
        ]
    emit(
        rows,
        json_out,
        lambda: table(
            ["kind", "name", "channel", "members"],
            [[r["kind"], r["name"], r["channel"], " ".join(r["members"])] for r in rows],
        ),
    )


ChannelOpt = Annotated[
    str | None,
    typer.Option(
        metavar="CHANNEL_ID",
        help="The id of the Slack channel for its notifications, C0123ABCD (in Slack: the "
        "channel's name → About → Channel ID); invite the bot there.",
    ),
]
PartyNameArg = Annotated[str, typer.Argument(metavar="NAME", help="Its name, as people know it.")]


@merchant_app.command("add")
def merchant_add(
    name: PartyNameArg,
    workspace: WorkspaceOpt = None,
    channel: ChannelOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Onboard a merchant (or change its channel)."""
    _add_party(Party.MERCHANT, name, workspace, channel, json_out)


@merchant_app.command("list")
def merchant_list(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List the merchants and their members."""
    _list_parties(Party.MERCHANT, workspace, json_out)


@provider_app.command("add")
def provider_add(
    name: PartyNameArg,
    workspace: WorkspaceOpt = None,
    channel: ChannelOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Onboard a service provider (or change its channel)."""
    _add_party(Party.PROVIDER, name, workspace, channel, json_out)


@provider_app.command("list")
def provider_list(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List the service providers and their members."""
    _list_parties(Party.PROVIDER, workspace, json_out)


@member_app.command("add")
def member_add(
    user_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="USER_ID...",
            help="Slack user ids, U0123ABCD (in Slack: a profile → ⋮ → Copy member ID).",
        ),
    ],
    party: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The merchant or service provider they act for."),
    ] = None,
    merchant: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="The merchant they act for (instead of --party)."),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            metavar="NAME", help="The service provider they act for (instead of --party)."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Register Slack users as members of a merchant or a service provider."""
    kind, name = party_option(party, merchant, provider)
    try:
        user_ids = [check_slack_id(SlackId.USER, u, "user_id") for u in user_ids]
    except errors.InvalidInput as exc:
        fail(exc.fields["user_id"])
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        p = onboarding.find_party(s, w.id, name, kind)
        for user_id in user_ids:
            onboarding.add_member(s, p, user_id)
        row = {
            "workspace": w.team_id,
            "party": p.name,
            "kind": p.kind.value,
            "members": onboarding.party_members(s, p.id),
        }
    emit(row, json_out, lambda: out.print(f"{row['party']} members: {' '.join(row['members'])}"))


def party_option(
    party: str | None, merchant: str | None, provider: str | None
) -> tuple[Party | None, str]:
    """The party named by exactly one of --party, --merchant and --provider."""
    given = [
        (k, v)
        for k, v in ((None, party), (Party.MERCHANT, merchant), (Party.PROVIDER, provider))
        if v
    ]
    if len(given) != 1:
        fail("name the party once: --merchant NAME, --provider NAME, or --party NAME.")
    return given[0]


@member_app.command("list")
def member_list(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List every party with its members."""
    _list_parties(None, workspace, json_out)


# -- services ---------------------------------------------------------------------------------


def _status_arg(text: str) -> Any:
    status = parse_service_status(text)
    if status is None:
        fail(
            f"{text!r} is not a service status: use Draft, Pending Review, Online, Withdrawn, Turned Down or Archived."
        )
    return status


@service_app.command("add")
def service_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The service's name.")],
    provider: Annotated[
        str, typer.Option(metavar="NAME", help="The service provider that offers it.")
    ],
    workspace: WorkspaceOpt = None,
    status: Annotated[
        str, typer.Option(help="Draft, Pending Review, Online, Withdrawn, Turned Down, Archived.")
    ] = "Draft",
    industry: Annotated[
        str | None, typer.Option(help="The industry it is for, e.g. Food & Beverage.")
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="What it does, shown on its Service Market card.")
    ] = None,
    app_names: Annotated[
        list[str] | None, typer.Option("--app", help="An app it applies to (repeat).")
    ] = None,
    payment_terms: Annotated[
        str | None, typer.Option(help="How it is paid, e.g. 30% on confirmation, 70% on approval.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a service to the Service Market (or update it)."""
    service_status = _status_arg(status)
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        svc = catalog.add_service(
            s,
            w,
            provider_name=provider,
            name=name,
            status=service_status,
            industry=industry,
            description=description,
            apps=app_names,
            payment_terms=payment_terms,
        )
        view = catalog.get_service(s, w.id, svc.id)
    emit(
        view,
        json_out,
        lambda: out.print(f"service {view.name} ({view.status.label}) by {view.provider_name}"),
    )


@service_app.command("list")
def service_list(
    workspace: WorkspaceOpt = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """List the services and their status."""
    wanted = _status_arg(status) if status else None
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        views = catalog.list_services(s, w.id, status=wanted)
    emit(
        views,
        json_out,
        lambda: table(
            ["name", "provider", "status", "apps"],
            [[v.name, v.provider_name, v.status.label, ", ".join(v.apps)] for v in views],
        ),
    )


@service_app.command("set-status")
def service_set_status(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The service's name.")],
    status: Annotated[
        str,
        typer.Argument(
            metavar="STATUS",
            help="Draft, Pending Review, Online, Withdrawn, Turned Down or Archived.",
        ),
    ],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Put a service Online, withdraw it, archive it..."""
    service_status = _status_arg(status)
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        svc = catalog.set_service_status(s, w.id, name, service_status)
        view = catalog.get_service(s, w.id, svc.id)
    emit(view, json_out, lambda: out.print(f"service {view.name} is {view.status.label}"))


# -- fixtures ----------------------------------------------------------------------------------


@app.command("seed")
def seed(
    file: Annotated[Path | None, typer.Argument(help="A YAML fixture; see the README.")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the demo fixture shipped with the bot.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Load a fixture: a workspace, its parties, members, services and orders (idempotent)."""
    if (file is None) == (not demo):
        fail("give a fixture FILE, or --demo for the demo fixture.")
    path = demo_fixture_path() if demo else file
    assert path is not None
    with unit_of_work() as s:
        report = load_fixture(s, path)
    emit(
        report,
        json_out,
        lambda: out.print(
            f"{path}: workspace {report.workspace}; {len(report.orders_created)} orders created, "
            f"{len(report.orders_skipped)} already there"
        ),
    )


# -- orders -------------------------------------------------------------------------------------


def _order_row(o: OrderView, viewer: Party) -> list[str]:
    other = o.party_name(viewer.other)
    return [
        o.code,
        o.status.label,
        o.service_name,
        other,
        o.mini_program,
        o.status_changed_at.strftime("%Y-%m-%d %H:%M"),
    ]


ORDER_COLUMNS = ["number", "status", "service", "other party", "mini program", "since"]


@orders_app.command("list")
def orders_list(
    as_user: AsOpt,
    statuses: Annotated[
        list[str] | None, typer.Argument(help="Statuses to show (default: all).")
    ] = None,
    workspace: WorkspaceOpt = None,
    cursor: Annotated[
        str | None, typer.Option(help="The next-page cursor a previous page printed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Orders per page (1 to 100).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """List a member's party's orders, newest first."""
    wanted = _parse_statuses(statuses or [])
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        party = caller.ref
        page = list_orders(s, party, wanted, cursor=cursor, limit=limit)
        counts = count_by_status(s, party)

    def human() -> None:
        out.print(
            f"{caller.party_name} ({caller.party.label}): "
            + ", ".join(f"{st.label} {n}" for st, n in counts.items())
        )
        table(ORDER_COLUMNS, [_order_row(o, caller.party) for o in page.orders])
        if page.next_cursor:
            out.print(f"more: --cursor {page.next_cursor}")

    emit(
        {"orders": page.orders, "next_cursor": page.next_cursor, "counts": counts}, json_out, human
    )


def _parse_statuses(words: Sequence[str]) -> set[OrderStatus] | None:
    statuses, unknown = parse_status_list(" ".join(words))
    if unknown:
        fail(
            f"unknown status {unknown!r}: use "
            + ", ".join(s.label for s in OrderStatus)
            + ", open or all."
        )
    return set(statuses) if statuses else None


@orders_app.command("search")
def orders_search(
    text: Annotated[
        str, typer.Argument(metavar="NUMBER", help="An order number or its start: 123, SO-0001.")
    ],
    as_user: AsOpt,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find a member's orders by number or number prefix."""
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        found = search_orders(s, caller.ref, text)
    emit(
        found, json_out, lambda: table(ORDER_COLUMNS, [_order_row(o, caller.party) for o in found])
    )


@orders_app.command("show")
def orders_show(
    number: Annotated[str, typer.Argument(help="The order: SO-000123, so-123 or 123.")],
    as_user: AsOpt,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one order and its timeline."""
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        detail = get_order_detail(s, caller.ref, number)

    def human() -> None:
        o = detail.order
        out.print(
            f"{o.code}  {o.status.label}\n{o.service_name}: {o.mini_program} ({', '.join(o.apps)})"
        )
        out.print(
            f"merchant {o.merchant_name}, provider {o.provider_name}; contact {o.contact_name} <{o.contact}>"
        )
        if o.requirements:
            out.print(f"requirements: {o.requirements}")
        for e in detail.timeline:
            line = f"  {e.created_at:%Y-%m-%d %H:%M}  {e.actor_user_id} {e.past}"
            if e.reason:
                line += f": {e.reason}"
            out.print(line + "".join(f"\n      file {f.name} {f.permalink}" for f in e.files))

    emit(detail, json_out, human)


@orders_app.command("act")
def orders_act(
    number: Annotated[str, typer.Argument(help="The order: SO-000123, so-123 or 123.")],
    action: Annotated[
        str,
        typer.Argument(
            help="What to do, as the order's button says it (accept, reject, confirm, approve, "
            "cancel, submit for approval) or by its name (decline, reject_approval).",
        ),
    ],
    as_user: AsOpt,
    reason: Annotated[
        str | None, typer.Option(help="The reason (or, for submit for approval, a note).")
    ] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Act on an order as a member (the timeline records it as done from the command line)."""
    if action_named(action) is None:
        fail(
            f"unknown action {action!r}: use "
            + ", ".join(a.value for a in Action if a is not Action.PLACE)
            + " (or the button's label, like reject)."
        )
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        status = get_order_detail(s, caller.ref, number).order.status
        chosen = action_named(action, status)
        assert chosen is not None
        outcome = act(s, caller, number, chosen, reason=reason, source=EventSource.CLI)
    emit(
        outcome,
        json_out,
        lambda: out.print(
            f"{outcome.order.code} {outcome.entry.past}: it is now {outcome.order.status.label}"
        ),
    )


# -- running -------------------------------------------------------------------------------------

# -- starting a process that serves: every failure is one line (JSON with LOG_FORMAT=json) ----

log = logging.getLogger("orders_bot")


def start_logging() -> None:
    """Logging as configured, before anything else can print: with LOG_FORMAT=json every line a
    serving process writes is JSON, its refusals to start included."""
    from bot.logs import configure_logging

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    fmt = os.environ.get("LOG_FORMAT", "text").lower()
    configure_logging(
        level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO",
        fmt if fmt in ("text", "json") else "text",
    )


def cannot_start(message: str) -> NoReturn:
    """Log why the process cannot start, in one line, and exit with status 2."""
    log.error("cannot start: %s", message)
    raise typer.Exit(CANNOT_START)


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


@app.command("run")
def run(
    http: Annotated[
        bool,
        typer.Option(
            "--http", help="HTTP mode (Slack posts to /slack/events); default: Socket Mode."
        ),
    ] = False,
    port: Annotated[int | None, typer.Option(help="HTTP port (default $PORT or 3000).")] = None,
    host: Annotated[
        str | None, typer.Option(help="HTTP interface (default $HOST or 0.0.0.0).")
    ] = None,
    scheduler: Annotated[
        bool | None,
        typer.Option(
            "--scheduler/--no-scheduler",
            help="Run the reminder scheduler in this process (default: SCHEDULER_ENABLED, on).",
        ),
    ] = None,
) -> None:
    """Run the bot: Socket Mode (SLACK_BOT_TOKEN, SLACK_APP_TOKEN) or --http (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET)."""
    import signal

    from bot.app import freeze_startup_heap
    from bot.http import (
        ChildWatch,
        HttpServer,
        fork_children,
        fork_processes,
        listening_socket,
        signal_processes,
        stop_processes,
    )

    mode = Mode.HTTP if http else Mode.SOCKET
    start_logging()
    settings = serving_settings(mode)
    check_database(settings)
    wanted = settings.scheduler_enabled if scheduler is None else scheduler
    index = 0
    children: list[int] = []
    listeners: list[int] = []
    sock: Any = None
    sender: Any = None
    split = mode is Mode.HTTP and settings.listener_processes > 0
    if mode is Mode.HTTP and (settings.http_processes > 1 or split):
        # Several processes share one listening socket, each with its own GIL: fork before any
        # thread or connection exists; the first one runs the scheduler.
        sock = listening_socket(host or settings.host, port or settings.port)
        if split:  # the listener processes first, so that only they hold the receiving end
            from bot.handoff import Channel

            channel = Channel()
            listeners = fork_children(
                settings.listener_processes,
                lambda i: _listener_process(settings, channel, sock, scheduler=wanted and i == 0),
            )
            sender = channel.sender()
        index, children = fork_processes(settings.http_processes)
    runtime = start_runtime(settings, mode=mode)
    if sender is not None:
        from bot.handoff import hand_off

        runtime.handoff = hand_off(runtime.bolt, sender, runtime.worker)
    freeze_startup_heap()
    runtime.start_background(scheduler=wanted and index == 0 and not split, outbox=not split)
    if mode is Mode.HTTP:
        server = HttpServer(
            runtime.wsgi,
            host=host or settings.host,
            port=port or settings.port,
            threads=settings.http_threads,
            sock=sock,
        )

        lost: list[str] = []

        def lost_one(pid: int, code: int) -> None:
            lost.append(f"process {pid} of this service stopped unexpectedly (exit {code})")
            log.error("%s: stopping the others", lost[0])
            signal_processes(watch.live(children), signal.SIGTERM)
            server.request_stop()

        watch = ChildWatch(children + listeners if index == 0 else [], lost_one)

        def stop(signum: int, _frame: object) -> None:
            watch.stand_down()
            if index == 0:
                log.info("signal %s: finishing requests in flight, then stopping", signum)
                signal_processes(watch.live(children), signal.SIGTERM)  # alongside, not after
            server.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if index == 0:
            where = f"http://{host or settings.host}:{server.port}/slack/events"
            extra = f" ({settings.http_processes} processes)" if children else ""
            if split:
                extra += f" (+{settings.listener_processes} listener processes)"
            log.info("orders-bot listening on %s%s", where, extra)
        server.serve_forever()
        watch.stop()
        runtime.stop()
        if index > 0:
            os._exit(0)  # a forked copy: leave without running the parent's exit handlers
        # The copies were signalled with this one; each may still be finishing what it could
        # not hand over. Then the listener processes finish what they were handed and stop by
        # themselves (they ignore signals). Whoever is still there at the end is killed, and
        # the service exits 1: work acked may have been lost.
        if killed := stop_processes(watch.live(children), timeout=60):
            lost.append(f"HTTP processes {killed} still stopping after 60 s were killed")
        if killed := stop_processes(watch.live(listeners), timeout=60):
            lost.append(f"listener processes {killed} still at work after 60 s were killed")
        if lost:
            fail("; ".join(lost))
        return
    else:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        from slack_sdk.errors import SlackApiError

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
            log.info("orders-bot connected in Socket Mode")
            import threading

            threading.Event().wait()  # until Ctrl-C or SIGTERM
        finally:  # Ctrl-C included: the listeners at work finish (their threads are daemons)
            runtime.stop()


def _listener_process(settings: Any, channel: Any, sock: Any, *, scheduler: bool) -> int:
    """A listener process (LISTENER_PROCESSES): runs the listeners the acking processes hand
    over, delivers the outbox, and, the first one, runs the scheduler; stops once every acking
    process has gone and nothing is left (it ignores SIGINT and SIGTERM: the parent stops it)."""
    import signal

    from bot.app import MODAL_THREADS, build_runtime, freeze_startup_heap
    from bot.executor import lower_priority
    from bot.handoff import serve
    from bot.settings import Mode

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sock.close()
    receiver = channel.receiver()
    lower_priority(settings.listener_nice)  # every thread started from here inherits it
    runtime = build_runtime(settings, mode=Mode.HTTP, migrate=False, verify_requests=False)
    freeze_startup_heap()
    runtime.start_background(scheduler=scheduler)
    serve(
        runtime.bolt,
        receiver,
        settings.listener_threads,
        runtime.worker.wake,
        modal_threads=MODAL_THREADS,
    )
    runtime.stop()
    return 0


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


@app.command("scheduler")
def scheduler_only() -> None:
    """Run only the reminder scheduler and the notification worker (no Slack listeners)."""
    import signal
    import threading

    from bot.app import freeze_startup_heap

    start_logging()
    runtime = start_runtime(serving_settings(None), mode=None)
    freeze_startup_heap()
    runtime.start_background(scheduler=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    log.info("orders-bot scheduler running")
    stopping.wait()
    log.info("stopping: finishing the job and the notification in hand")
    runtime.stop()


# -- reminders -----------------------------------------------------------------------------------


def _hours(text: str) -> Any:
    from orders_core.fixtures import parse_age

    try:
        return parse_age(text)
    except ValueError as exc:
        fail(str(exc))


@remind_app.command("add")
def remind_add(
    as_user: AsOpt,
    channel: Annotated[str, typer.Option(help="The channel id to post in, C0123.")],
    days: Annotated[
        str, typer.Option(help="weekdays, every day, mon-fri, mon,wed,fri.")
    ] = "weekdays",
    times: Annotated[str, typer.Option(help="HH:MM, several with commas.")] = "09:30",
    tz: Annotated[
        str | None,
        typer.Option("--tz", help="IANA time zone (default: the workspace's, else UTC)."),
    ] = None,
    statuses: Annotated[
        str | None, typer.Option(help="Statuses to include (default: those waiting on the party).")
    ] = None,
    min_age: Annotated[str, typer.Option(help="Minimum age: 24h, 2d…")] = "24h",
    working_days: Annotated[
        bool, typer.Option("--working-days", help="Count ages in working days only.")
    ] = False,
    escalate_after: Annotated[
        str, typer.Option(help="DM the party after this long (72h), or `never`.")
    ] = "72h",
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Add a reminder policy for the party of the member given with --as."""
    from orders_core.reminders import PolicySpec, parse_days, parse_times, save_policy

    try:
        spec = PolicySpec(
            channel_id=channel,
            days=parse_days(days),
            times=parse_times(times),
            time_zone=tz,
            statuses=tuple(sorted(_parse_statuses([statuses]) or ())) or None if statuses else None,
            min_age=_hours(min_age),
            working_days_only=working_days,
            escalate_after=None if escalate_after.lower() == "never" else _hours(escalate_after),
        )
    except ValueError as exc:
        fail(str(exc))
    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        policy = save_policy(s, caller, spec, now=datetime.now(UTC))
    emit(
        policy,
        json_out,
        lambda: out.print(
            f"reminder #{policy.id}: {policy.describe()} in {policy.channel_id} for {policy.party_name}"
        ),
    )


@remind_app.command("list")
def remind_list(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List the reminder policies."""
    from orders_core.reminders import list_policies

    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        policies = list_policies(s, workspace_id=w.id)
    emit(
        policies,
        json_out,
        lambda: table(
            ["id", "party", "channel", "when", "statuses", "on"],
            [
                [
                    p.id,
                    p.party_name,
                    p.channel_id,
                    p.describe(),
                    ", ".join(x.label for x in p.statuses),
                    "yes" if p.enabled else "no",
                ]
                for p in policies
            ],
        ),
    )


@remind_app.command("delete")
def remind_delete(
    policy_id: Annotated[
        int, typer.Argument(metavar="ID", help="The reminder's number (remind list).")
    ],
    as_user: AsOpt,
    workspace: WorkspaceOpt = None,
) -> None:
    """Delete a reminder policy (kept in the database, marked deleted)."""
    from orders_core.reminders import delete_policy

    with unit_of_work() as s:
        w = pick_workspace(s, workspace)
        delete_policy(s, resolve_caller(s, w.team_id, as_user), policy_id, now=datetime.now(UTC))
    out.print(f"reminder #{policy_id} deleted")


@remind_app.command("now")
def remind_now(
    policy: Annotated[int | None, typer.Option("--policy", help="Only this policy.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run one reminder sweep at once: post every due digest (and escalations), then return."""
    start_logging()
    runtime = start_runtime(serving_settings(None), mode=None)
    try:
        outcomes = runtime.reminders.run_due(policy_id=policy)
        runtime.worker.drain(60)
    except errors.OrdersError as exc:
        fail(refusal(exc))
    finally:
        runtime.stop()

    def human() -> None:
        for o in outcomes:
            out.print(
                f"reminder #{o.policy_id}: {o.result}, {o.orders} orders, {o.escalated} escalated"
            )
        if not outcomes:
            out.print("no reminders to run")

    emit(outcomes, json_out, human)


@remind_app.command("run-slot")
def remind_run_slot(
    policy: Annotated[int, typer.Option("--policy", help="The policy id.")],
    at: Annotated[
        str, typer.Option("--at", help="The slot, ISO 8601 with a zone: 2026-11-30T09:30:00+08:00.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Run one scheduled slot of a policy by hand (a slot missed beyond the grace window); once only."""
    try:
        slot = datetime.fromisoformat(at.replace("Z", "+00:00"))
        if slot.tzinfo is None:
            raise ValueError("it has no time zone")
    except ValueError as exc:
        fail(
            f"--at {at!r} is not an ISO 8601 time with a zone ({exc}): try 2026-11-30T09:30:00+08:00."
        )
    start_logging()
    runtime = start_runtime(serving_settings(None), mode=None)
    try:
        outcome = runtime.reminders.run_slot(policy, slot.astimezone(UTC))
        runtime.worker.drain(60)
    finally:
        runtime.stop()
    emit(
        outcome,
        json_out,
        lambda: out.print(
            f"reminder #{policy} slot {slot.isoformat()}: {outcome.result}, {outcome.orders} orders"
        ),
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


@app.command("doctor")
def doctor() -> None:
    """Check the settings, the database, the migrations and Slack (auth.test); say what is wrong."""
    from bot.settings import Mode

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


def main(argv: Sequence[str] | None = None) -> None:
    """The console script's entry point."""
    app(args=list(argv) if argv is not None else sys.argv[1:], prog_name="orders-bot")
