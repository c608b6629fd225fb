"""The Service Market: `/orders services`, `/orders new`, the Order button and the order form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.delivery import notify, outbox
from bot.deps import Deps
from bot.listeners.common import deps_of, merchant, refuse, seal_view, subcommand, unseal, who
from bot.ui.format import FIELD_ERROR_FORMAT, escape
from bot.ui.market import (
    FORM_APPS,
    FORM_CALLBACK,
    FORM_FIELDS,
    FORM_SERVICE,
    ORDER_SERVICE_ACTION,
    apps_block_id,
    placed_message,
    render_order_form,
    render_order_placed,
    render_services,
)
from bot.ui.orders import Message, render_error, value_of
from orders_core import errors
from orders_core.catalog import ServiceView, get_service, online_services
from orders_core.lifecycle import Party
from orders_core.names import name_key
from orders_core.orders import PUBLISHED, OrderDraft, place_order, resolve_caller

log = logging.getLogger(__name__)


@subcommand("services", "market")
def services(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message:
    """The Online services, as cards with an Order button."""
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        return render_services(
            online_services(s, caller.workspace_id), can_order=caller.party is Party.MERCHANT
        )


@subcommand("new", "order")
def new_order(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message | None:
    """Open the order form, with the named service chosen."""
    with deps.db.read() as s:
        caller = merchant(s, command["team_id"], command["user_id"])
        offered = online_services(s, caller.workspace_id)
    if not offered:
        return render_error(
            "No service is Online in the Service Market right now, so there is nothing to order."
        )
    chosen = offered[0]
    if rest:
        chosen_or_none = match_service(offered, rest)
        if chosen_or_none is None:
            names = ", ".join(f"`{escape(s.name)}`" for s in offered[:10])
            return render_error(
                f"No Online service is called `{escape(rest[:60])}`. You can order: {names}."
            )
        chosen = chosen_or_none
    form = render_order_form(offered, chosen, {"channel": command.get("channel_id")})
    client.views_open(trigger_id=command["trigger_id"], view=seal_view(client, form))
    return None


def match_service(offered: list[ServiceView], text: str) -> ServiceView | None:
    """The Online service named `text`: exactly, else the only one whose name starts with or contains it."""
    wanted = name_key(text)  # in any case and any script, as names are matched everywhere
    keys = [(name_key(s.name), s) for s in offered]
    exact = [s for key, s in keys if key == wanted]
    if exact:
        return exact[0]
    for found in (
        [s for key, s in keys if key.startswith(wanted)],
        [s for key, s in keys if wanted in key],
    ):
        if found:
            return found[0] if len(found) == 1 else None
    return None


def register(app: App, deps: Deps) -> None:
    """Listen to the Order button, the form's service select, and the form."""
    app.action(ORDER_SERVICE_ACTION)(order_button)
    app.action(FORM_SERVICE)(service_changed)
    app.view(FORM_CALLBACK)(place)


def order_button(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """*Order* on a Service Market card: the order form, with that service chosen."""
    deps = deps_of(context)
    team, user = who(body)
    try:
        with deps.db.read() as s:
            caller = merchant(s, team, user)
            offered = online_services(s, caller.workspace_id)
            service_id = int(action.get("value") or 0)
            # Never trust the button: the service must still be Online, in this workspace.
            chosen = next((x for x in offered if x.id == service_id), None)
            if chosen is None:
                gone = get_service(s, caller.workspace_id, service_id)
                if gone.status not in PUBLISHED:  # never shown to merchants: not even its name
                    raise errors.ServiceNotFound(f"#{service_id}")
                raise errors.ServiceNotOrderable(gone.name, gone.status)
    except (errors.OrdersError, ValueError) as exc:
        refuse(deps, client, body, exc)
    else:
        channel = (body.get("container") or {}).get("channel_id") or (
            body.get("channel") or {}
        ).get("id")
        form = render_order_form(offered, chosen, {"channel": channel})
        client.views_open(trigger_id=body["trigger_id"], view=seal_view(client, form))
    ack()


def service_changed(
    ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Another service chosen in the form: the form drawn again with its apps."""
    deps = deps_of(context)
    ack()  # nothing to refuse: the worst case is a form left as it was
    view = body.get("view") or {}
    team, user = who(body)
    try:
        with deps.db.read() as s:
            caller = merchant(s, team, user)
            offered = online_services(s, caller.workspace_id)
    except errors.OrdersError:
        return
    try:
        selected = int((action.get("selected_option") or {}).get("value") or 0)
    except ValueError:
        selected = 0  # not one of the options drawn: the first service, as on opening
    chosen = next((x for x in offered if x.id == selected), offered[0] if offered else None)
    if chosen is None:
        return
    meta = unseal(client, view.get("private_metadata")) or {}
    form = seal_view(client, render_order_form(offered, chosen, meta))
    client.views_update(view_id=view["id"], hash=view.get("hash"), view=form)


def place(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The order form submitted: the order placed, or each mistake shown on its field."""
    deps = deps_of(context)
    team, user = who(body)
    values = (view.get("state") or {}).get("values") or {}
    service_value = ((values.get(FORM_SERVICE) or {}).get(FORM_SERVICE) or {}).get(
        "selected_option"
    ) or {}
    apps_block = next((k for k in values if k.startswith(FORM_APPS + ":")), None)
    try:
        service_id = int(service_value.get("value") or 0)
    except ValueError:
        service_id = 0
    if apps_block is not None and apps_block != apps_block_id(service_id):
        apps_block = None  # a stale apps block from another service: ask again
    picked = (
        ((values.get(apps_block) or {}).get(FORM_APPS) or {}).get("selected_options")
        if apps_block
        else []
    )
    text = {f: (((values.get(f) or {}).get(f) or {}).get("value") or "") for f in FORM_FIELDS}
    # Only where to confirm the order: without a seal, no confirmation in a channel.
    meta = unseal(client, view.get("private_metadata")) or {}
    draft = OrderDraft(
        service_id=service_id,
        mini_program=text["mini_program"],
        contact_name=text["contact_name"],
        contact=text["contact"],
        apps=tuple(str(o.get("value")) for o in picked or []),
        requirements=text["requirements"],
    )
    now = deps.clock.now()
    try:
        with deps.db.transaction() as s:
            caller = merchant(s, team, user)
            outcome = place_order(
                s, caller, draft, idempotency_key=f"view:{view.get('id')}", now=now
            )
            notify.after_action(s, outcome, caller, None, now=now)
            channel = value_of(meta, "channel", "c")
            if channel and not outcome.replayed:
                outbox.enqueue(
                    s,
                    kind=outbox.Kind.EPHEMERAL,
                    lane=outbox.Lane.channel(channel),
                    payload={
                        "channel": channel,
                        "user": user,
                        **placed_message(outcome.order).as_kwargs(),
                    },
                    now=now,
                    workspace_id=caller.workspace_id,
                )
    except errors.InvalidInput as exc:

        def block_for(field: str) -> str:
            if field == "apps":
                return apps_block or FORM_SERVICE
            return field if field in values else FORM_SERVICE

        ack(
            response_action="errors",
            errors={block_for(f): m[:2000] for f, m in exc.fields.items()},
        )
        return
    except errors.OrdersError as exc:
        ack(
            response_action="errors",
            errors={FORM_SERVICE: exc.render(FIELD_ERROR_FORMAT)[:2000]},
        )
        return
    ack(response_action="update", view=render_order_placed(outcome.order))
    deps.committed()
