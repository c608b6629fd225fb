"""Onboarding: workspaces, merchants, providers, members, services, and fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass

from bot.cli.common import (
    JsonOpt,
    WorkspaceOpt,
    app,
    emit,
    fail,
    member_app,
    merchant_app,
    out,
    pick_workspace,
    provider_app,
    service_app,
    table,
    unit_of_work,
    workspace_app,
)
from orders_core import catalog, errors, onboarding
from orders_core.fixtures import demo_fixture_path, load_fixture
from orders_core.lifecycle import (
    Party,
    parse_service_status,
)
from orders_core.models import Workspace
from orders_core.slack_ids import SlackId, check_slack_id

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
