"""Shortcuts (issue 20: 2): *New service order* opens the order form from anywhere in Slack;
*Add to an order…* on a message keeps its text, files and a link back on one of the party's
open orders."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.listeners.common import (
    deps_of,
    error_modal,
    merchant,
    reply,
    seal,
    seal_view,
    unseal,
    who,
)
from bot.ui.format import FIELD_ERROR_FORMAT, SLACK_FORMAT, unescape
from bot.ui.market import render_order_form
from bot.ui.orders import Message, render_error
from bot.ui.shortcuts import (
    ATTACH_CALLBACK,
    ATTACH_SHORTCUT,
    NEW_ORDER_SHORTCUT,
    NOTE_BLOCK,
    PICK_ACTION,
    PICK_BLOCK,
    PICKED_OPTIONS,
    order_option,
    render_attach_form,
    timeline_text,
)
from orders_core import errors
from orders_core.catalog import online_services
from orders_core.lifecycle import OrderStatus
from orders_core.orders import (
    AttachedFile,
    add_slack_message,
    list_orders,
    resolve_caller,
    search_orders,
    search_words,
)
from orders_core.text import clean

log = logging.getLogger(__name__)

OPEN = tuple(s for s in OrderStatus if not s.is_terminal)
METADATA_CHARS = 2900
"""Slack keeps 3,000 characters of private_metadata: the message's text is cut to fit."""
UNREADABLE = (
    "I can't read messages in that conversation: it is a private channel I'm not in, or a "
    "direct message. Invite me with `/invite @orders` in the channel and try again, or send "
    "what it says to the other party with `/orders message SO-000123 TEXT`."
)


def register(app: App, deps: Deps) -> None:
    """Listen to both shortcuts, the order picker's type-ahead and the picker's form."""
    app.shortcut(NEW_ORDER_SHORTCUT)(new_order)
    app.shortcut(ATTACH_SHORTCUT)(attach)
    app.options(PICK_ACTION)(pick_options)
    app.view(ATTACH_CALLBACK)(attach_submitted)


def _refuse(client: WebClient, body: dict[str, Any], text: str) -> None:
    """A shortcut has no channel to answer in: the refusal is a small modal."""
    client.views_open(trigger_id=body["trigger_id"], view=error_modal(render_error(text)))


def new_order(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """*New service order*: the Service Market's order form, for a merchant's member."""
    deps = deps_of(context)
    team, user = who(body)
    try:
        with deps.db.read() as s:
            caller = merchant(s, team, user)
            offered = online_services(s, caller.workspace_id)
    except errors.OrdersError as exc:
        _refuse(client, body, exc.render(SLACK_FORMAT))
    else:
        if not offered:
            _refuse(client, body, "No service is Online in the Service Market right now.")
        else:
            form = render_order_form(offered, offered[0], {})
            client.views_open(trigger_id=body["trigger_id"], view=seal_view(client, form))
    ack()


def attach(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """*Add to an order…* on a message: the order picker, once the bot knows it can link back
    to the message (chat.getPermalink answers only where the bot may read)."""
    deps = deps_of(context)
    team, user = who(body)
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or "")
    ts = str(body.get("message_ts") or message.get("ts") or "")
    try:
        with deps.db.read() as s:
            resolve_caller(s, team, user)
    except errors.OrdersError as exc:
        _refuse(client, body, exc.render(SLACK_FORMAT))
        ack()
        return
    try:
        permalink = str(client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"])
    except SlackApiError as exc:
        log.info("message shortcut where the bot cannot read: %s", exc.response.get("error"))
        _refuse(client, body, UNREADABLE)
        ack()
        return
    files = [
        [
            str(f["id"]),
            str(f.get("name") or f.get("title") or f["id"]),
            str(f.get("permalink") or ""),
        ]
        for f in (message.get("files") or [])[:10]
        if isinstance(f, dict) and f.get("id")
    ]
    text = clean(unescape(str(message.get("text") or "")))
    meta: dict[str, Any] = {"link": permalink, "url": body.get("response_url"), "files": files}
    kept = text
    while len(json.dumps({**meta, "text": kept})) > METADATA_CHARS:  # escaped, it may grow 6-fold
        kept = kept[: len(kept) * 3 // 4]
    meta |= {"text": kept, "cut": kept != text}
    client.views_open(
        trigger_id=body["trigger_id"], view=render_attach_form(text, len(files), seal(client, meta))
    )
    ack()


def pick_options(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """The picker's type-ahead: the caller's party's open orders whose number starts with, or
    whose words contain, what is typed; the newest open orders before anything is typed."""
    deps = deps_of(context)
    team, user = who(body)
    typed = str(body.get("value") or "")
    try:
        with deps.db.read() as s:
            party = resolve_caller(s, team, user).ref
            if search_words(typed):
                found = search_orders(s, party, typed, limit=PICKED_OPTIONS, statuses=OPEN)
            else:
                found = list_orders(s, party, OPEN, limit=PICKED_OPTIONS)
    except errors.OrdersError:
        ack(options=[])
        return
    ack(options=[order_option(o) for o in found.orders])


def attach_submitted(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The picker sent: the message kept on the chosen order's timeline, or the problem shown
    on its field and nothing kept."""
    deps = deps_of(context)
    team, user = who(body)
    meta = unseal(client, view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    picked = ((values.get(PICK_BLOCK) or {}).get(PICK_ACTION) or {}).get("selected_option") or {}
    note = ((values.get(NOTE_BLOCK) or {}).get(NOTE_BLOCK) or {}).get("value")
    if meta is None:
        ack(
            response_action="errors",
            errors={PICK_BLOCK: "This form is out of date: close it and try again."},
        )
        return
    files = [
        AttachedFile(slack_file_id=str(i), name=str(n), permalink=str(p))
        for i, n, p in meta.get("files") or []
    ]
    text = timeline_text(
        note, str(meta.get("text") or ""), str(meta.get("link") or ""), bool(meta.get("cut"))
    )
    try:
        with deps.db.transaction() as s:
            caller = resolve_caller(s, team, user)
            outcome = add_slack_message(
                s,
                caller,
                str(picked.get("value") or ""),
                text,
                files,
                idempotency_key=f"view:{view.get('id')}",
                now=deps.clock.now(),
            )
    except errors.OrdersError as exc:
        block = (
            NOTE_BLOCK
            if isinstance(exc, errors.InvalidInput) and "message" in exc.fields
            else PICK_BLOCK
        )
        ack(response_action="errors", errors={block: exc.render(FIELD_ERROR_FORMAT)[:2000]})
        return
    ack()
    if meta.get("url") and not outcome.replayed:
        done = f":white_check_mark: Added to the timeline of *{outcome.order.code}*."
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": done}}]
        reply(deps, team, user, Message(done.replace("*", ""), blocks), url=str(meta["url"]))
    log.info("%s Slack message added", outcome.order.code, extra={"order": outcome.order.code})
