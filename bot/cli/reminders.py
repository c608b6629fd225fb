"""Reminder policies, and sending reminders now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass

from bot.cli.common import (
    AsOpt,
    JsonOpt,
    WorkspaceOpt,
    emit,
    fail,
    out,
    parse_statuses,
    pick_workspace,
    refusal,
    remind_app,
    table,
    unit_of_work,
)
from bot.cli.serving import serving_settings, start_logging, start_runtime
from orders_core import errors
from orders_core.orders import (
    resolve_caller,
)

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
            statuses=tuple(sorted(parse_statuses([statuses]) or ())) or None if statuses else None,
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
