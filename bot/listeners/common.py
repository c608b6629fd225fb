"""What every surface's listeners share: who is asking, answering them alone, and modal metadata.

A listener runs in the request's own thread and does everything before it acks: it reads or
writes the database (queueing the Slack calls a change owes in the same transaction), opens a
modal when the click asks for one (a `trigger_id` lasts 3 s), and acks. Every other Slack call
goes through the outbox, whose worker is woken when the transaction commits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery import notify, outbox
from bot.deps import Deps
from bot.ui.format import SLACK_FORMAT
from bot.ui.orders import FILES_BLOCK, Message, render_error
from orders_core import errors
from orders_core.errors import OrdersError
from orders_core.lifecycle import Party
from orders_core.models import PostedMessage
from orders_core.orders import AttachedFile, Caller, resolve_caller

log = logging.getLogger(__name__)

COMMAND = "/orders"
BOT_EVENTS = (
    "app_home_opened",
    "app_uninstalled",
    "message.channels",
    "message.groups",
    "tokens_revoked",
)
"""The events the app listens to (manifest.yml subscribes to exactly these): messages in public
and private channels the bot is in, for the order numbers people write (listeners.conversation)."""
NOT_OURS = render_error("That button is out of date or not one of ours. Try `/orders list`.")


SubcommandHandler = Callable[[Deps, dict[str, Any], str, WebClient], Message | None]
"""A subcommand of /orders: the answer to show (None when it opened a modal instead)."""
SUBCOMMANDS: dict[str, SubcommandHandler] = {}
"""/orders's subcommands by name, filled by each surface's module (`subcommand`)."""


def subcommand(*names: str) -> Callable[[SubcommandHandler], SubcommandHandler]:
    """Register a subcommand of /orders under one or more names."""

    def add(handler: SubcommandHandler) -> SubcommandHandler:
        for name in names:
            SUBCOMMANDS[name] = handler
        return handler

    return add


def deps_of(context: BoltContext) -> Deps:
    """What the composition root gave the listeners (a middleware puts it in every context)."""
    deps: Deps = context["deps"]
    return deps


def who(body: Mapping[str, Any]) -> tuple[str, str]:
    """The team and user of a payload, as Slack sent them (never from a button's value)."""
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or body.get("team_id") or ""
    return team, user.get("id") or body.get("user_id") or ""


def trusted_origin(session: Session, origin: notify.Origin, caller: Caller) -> notify.Origin:
    """`origin`, unless it names a message we posted for another workspace or another party
    (a forged container): that message is not the caller's to have redrawn."""
    if origin.kind != "channel" or not origin.channel_id or not origin.ts:
        return origin
    posted = session.execute(
        select(PostedMessage.workspace_id, PostedMessage.viewer_party_id).where(
            PostedMessage.channel_id == origin.channel_id, PostedMessage.ts == origin.ts
        )
    ).first()
    if posted is None or (
        posted.workspace_id == caller.workspace_id
        and posted.viewer_party_id in (None, caller.party_id)
    ):
        return origin
    return notify.Origin("none", origin.team_id, origin.user_id)


# -- answering the person who clicked ------------------------------------------------------------


def error_modal(message: Message) -> dict[str, Any]:
    """A small modal carrying a refusal (for clicks inside modals and the Home tab)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Not possible"},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": message.blocks,
    }


def tell(deps: Deps, client: WebClient, body: Mapping[str, Any], message: Message) -> None:
    """Answer the clicker only: in a modal over the one (or the Home tab) they clicked in,
    opened now with the click's trigger; otherwise, through the outbox, on their response_url
    or as an ephemeral in the channel, or by direct message when neither is there."""
    team, user = who(body)
    container = body.get("container") or {}
    if container.get("type") == "view" and body.get("trigger_id"):
        view = error_modal(message)
        try:
            if (body.get("view") or {}).get("type") == "modal":
                client.views_push(trigger_id=body["trigger_id"], view=view)
            else:
                client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        except SlackApiError as exc:
            # Slack refused the modal (a lapsed trigger): the answer comes as a direct message.
            log.info("no modal for a refusal (%s): telling %s directly", exc, user)
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
    reply(deps, team, user, message, url=body.get("response_url"), channel=channel)


def reply(
    deps: Deps,
    team: str,
    user: str,
    message: Message,
    *,
    url: str | None = None,
    channel: str | None = None,
    replace: bool = False,
) -> None:
    """Queue an answer to one person (response_url, else ephemeral, else DM) and wake the worker
    (`replace`: in place of the message clicked, through its response_url)."""
    if not user:
        return
    with deps.db.transaction() as s:
        outbox.enqueue(
            s,
            kind=outbox.Kind.REPLY,
            lane=outbox.reply_lane(team, user, url),
            payload={"team": team, "user": user, "url": url, "channel": channel, "replace": replace}
            | message.as_kwargs(),
            now=deps.clock.now(),
        )
    deps.committed()


def refuse(deps: Deps, client: WebClient, body: Mapping[str, Any], exc: Exception) -> None:
    """Tell the clicker why nothing happened: a domain error's own words, or a stale button."""
    text = (
        exc.render(SLACK_FORMAT)
        if isinstance(exc, OrdersError)
        else "That button is out of date or not one of ours: open the list again."
    )
    tell(deps, client, body, render_error(text))


# -- modal metadata, sealed ------------------------------------------------------------------------
#
# A modal carries context the submission needs and Slack does not send back on its own: the
# channel a reminder list is about, the message a Reject was opened from, where to confirm an
# order. Slack says never to trust it, and none of it can be checked against the caller's party
# the way an order number or a policy id can. So it is sealed: an HMAC of its JSON, keyed by the
# workspace's bot token (different in each workspace), travels with it, and metadata that does
# not match is treated as missing. Forms open when the token changes answer "out of date" once.

SEAL_KEY = "~"


def _mac(client: WebClient, data: Mapping[str, Any]) -> str:
    key = hashlib.sha256(b"orders-bot private_metadata\0" + (client.token or "").encode()).digest()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()[:32]


def seal(client: WebClient, data: Mapping[str, Any]) -> str:
    """`data` as private_metadata, sealed for the workspace of `client`."""
    plain = {k: v for k, v in data.items() if k != SEAL_KEY}
    return json.dumps({**plain, SEAL_KEY: _mac(client, plain)}, separators=(",", ":"))


def seal_view(client: WebClient, view: dict[str, Any]) -> dict[str, Any]:
    """A view built with plain JSON private_metadata, its metadata sealed."""
    data = json.loads(view.get("private_metadata") or "{}")
    return {**view, "private_metadata": seal(client, data)}


def unseal(client: WebClient, text: str | None) -> dict[str, Any] | None:
    """The metadata the bot sealed, or None when it is missing, not ours, or was changed."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    given = data.pop(SEAL_KEY, None)
    if not isinstance(given, str) or not hmac.compare_digest(given, _mac(client, data)):
        return None
    return data


def submitted_files(values: dict[str, Any]) -> list[AttachedFile]:
    """The files of a file_input, as Slack sends them (`files` may be missing or null)."""
    return slack_files(((values.get(FILES_BLOCK) or {}).get(FILES_BLOCK) or {}).get("files"))


def slack_files(files: Any) -> list[AttachedFile]:
    """Slack's file objects (of a file_input, or of a message) as files to attach."""
    return [
        AttachedFile(
            slack_file_id=str(f.get("id", "")),
            name=str(f.get("name") or f.get("title") or f.get("id", "file")),
            mimetype=str(f.get("mimetype") or ""),
            size=int(f.get("size") or 0),
            permalink=str(f.get("permalink") or f.get("url_private") or ""),
        )
        for f in files or []
        if isinstance(f, dict) and f.get("id")
    ]


def open_modal(client: WebClient, body: Mapping[str, Any], view: dict[str, Any]) -> None:
    """Open `view` with the click's trigger: pushed over the modal clicked in, else opened."""
    if (body.get("view") or {}).get("type") == "modal":
        client.views_push(trigger_id=body["trigger_id"], view=view)
    else:
        client.views_open(trigger_id=body["trigger_id"], view=view)


def merchant(session: Session, team: str, user: str) -> Caller:
    """The caller, who must act for a merchant to order."""
    caller = resolve_caller(session, team, user)
    if caller.party is not Party.MERCHANT:
        raise errors.OnlyMerchantsOrder(caller.party_name)
    return caller
