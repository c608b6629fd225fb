"""Service orders as one member sees them: list, search, show, act."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    pass

from bot.cli.common import (
    AsOpt,
    JsonOpt,
    WorkspaceOpt,
    emit,
    fail,
    orders_app,
    out,
    parse_statuses,
    pick_workspace,
    table,
    unit_of_work,
)
from bot.delivery import notify
from orders_core.lifecycle import (
    Action,
    EventSource,
    Party,
    action_named,
)
from orders_core.models import utcnow
from orders_core.orders import (
    OrderView,
    act,
    count_by_status,
    get_order_detail,
    list_orders,
    resolve_caller,
    search_orders,
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
    wanted = parse_statuses(statuses or [])
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


@orders_app.command("search")
def orders_search(
    text: Annotated[
        str,
        typer.Argument(
            metavar="TEXT",
            help="An order number or its start (123, SO-0001), or words from orders (cafe lodz).",
        ),
    ],
    as_user: AsOpt,
    workspace: WorkspaceOpt = None,
    cursor: Annotated[
        str | None, typer.Option(help="The next-page cursor a previous page printed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="Orders per page (1 to 100).")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Find a member's orders by number, number prefix or words (newest first)."""
    with unit_of_work(write=False) as s:
        w = pick_workspace(s, workspace)
        caller = resolve_caller(s, w.team_id, as_user)
        page = search_orders(s, caller.ref, text, cursor=cursor, limit=limit)

    def human() -> None:
        table(ORDER_COLUMNS, [_order_row(o, caller.party) for o in page.orders])
        if page.next_cursor:
            out.print(f"more: --cursor {page.next_cursor}")

    emit({"orders": page.orders, "next_cursor": page.next_cursor}, json_out, human)


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
        now = utcnow()
        outcome = act(s, caller, number, chosen, reason=reason, source=EventSource.CLI, now=now)
        # Every message about the order is kept true, as after a click: the running bot's
        # worker (or `orders-bot worker`) delivers what this queues.
        notify.after_action(s, outcome, caller, None, now=now)
    emit(
        outcome,
        json_out,
        lambda: out.print(
            f"{outcome.order.code} {outcome.entry.past}: it is now {outcome.order.status.label}"
        ),
    )
