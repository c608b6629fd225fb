"""Delivering outbox items to Slack: each kind draws the current state and makes its call.

`HANDLERS` maps every `Kind` to the function that delivers it; a handler raises `Retry` or
`Permanent` (or lets Slack's error through, which `outbox.classify` judges) when it could not.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.delivery import outbox
from bot.delivery.clients import SlackClients
from bot.delivery.outbox import Claimed, Failure, Kind, Lane, Permanent, Retry
from bot.scheduling.reminders import owner_notice
from bot.ui.format import SLACK_FORMAT, escape
from bot.ui.messages import render_party_message
from bot.ui.orders import ListSpec, Message, render_error, render_order_card, where_kind
from bot.ui.reminders import render_collapsed
from bot.ui.screens import (
    card_message,
    detail_message,
    detail_modal,
    digest_message,
    home_screen,
    list_modal,
    list_screen,
    posted_message,
)
from orders_core import errors
from orders_core.db import Database
from orders_core.lifecycle import Party
from orders_core.models import (
    PartyOrg,
    PostedMessage,
    PostedMessageOrder,
    ReminderRun,
    Workspace,
)
from orders_core.onboarding import party_members
from orders_core.orders import OrderView, order_card, resolve_caller, timeline
from orders_core.reminders import POSTED, QUEUED, UNDELIVERABLE, PolicyView, get_digest_run, set_run

log = logging.getLogger(__name__)

CHANNEL_REFUSALS = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
)
"""A channel the bot cannot post in: telling someone is the only way forward."""
GONE_ERRORS = frozenset(
    {"message_not_found", "channel_not_found", "cant_update_message", "is_archived"}
)
METADATA_EVENT = "orders_bot_delivery"


_LINK_ORDERS = insert(PostedMessageOrder)
"""A posted message's orders, one Core executemany on the session's connection: as ORM objects
(a digest's 100), flushed by the next statement, they were a fifth of the reminder sweep's CPU
(benchmarks/README.md, 2026-12-06)."""


@dataclass
class Deliveries:
    """The outbox's `deliver` function, with what it needs to draw and send."""

    db: Database
    clock: Clock
    clients: SlackClients
    _teams: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def __call__(self, item: Claimed) -> None:
        """Deliver one item with its kind's handler."""
        HANDLERS[item.kind](self, item)

    def slack_answers(self, item: Claimed) -> bool:
        """Whether Slack answers a call now (api.test): an item refused while it does is at
        fault; while it does not, Slack is."""
        try:
            return bool(self.client(item.workspace_id).api_test().get("ok"))
        except Permanent:  # its workspace is gone: nothing to wait for
            return True
        except (SlackApiError, OSError):
            return False

    def client(self, workspace_id: int | None) -> WebClient:
        """The Web API client of a workspace (its installation's token, under OAuth)."""
        team_id, enterprise_id = self._team(workspace_id)
        return self.clients.for_team(team_id, enterprise_id)

    def _team(self, workspace_id: int | None) -> tuple[str, str | None]:
        # A workspace's team and enterprise ids never change: read once per process.
        known = self._teams.get(workspace_id or 0)
        if known is not None:
            return known
        with self.db.read() as s:
            row = s.execute(
                select(Workspace.team_id, Workspace.enterprise_id).where(
                    Workspace.id == workspace_id
                )
            ).first()
        if row is None:
            raise Permanent(f"workspace {workspace_id} is gone")
        self._teams[workspace_id or 0] = (row.team_id, row.enterprise_id)
        return row.team_id, row.enterprise_id

    def keep(
        self,
        answer: Any,
        item: Claimed,
        *,
        kind: str,
        workspace_id: int,
        viewer_party_id: int,
        order_ids: list[int],
        ref: dict[str, Any],
        run_id: int | None = None,
        previous_digest: int | None = None,
    ) -> int:
        """Record a posted message and the orders it shows, so changes to them redraw it, in
        the transaction that marks the item that posted it done (a digest's run posted, and the
        digest it replaces queued to collapse, with them)."""
        now = self.clock.now()
        with self.db.transaction() as s:
            message = PostedMessage(
                workspace_id=workspace_id,
                channel_id=str(answer["channel"]),
                ts=str(answer["ts"]),
                kind=kind,
                viewer_party_id=viewer_party_id,
                ref=ref,
                created_at=now,
                updated_at=now,
            )
            s.add(message)
            s.flush()
            if order_ids:
                s.connection().execute(
                    _LINK_ORDERS, [{"message_id": message.id, "order_id": o} for o in order_ids]
                )
            if run_id is not None:
                set_run(s, run_id, status=POSTED, posted_at=now, message_id=message.id)
            outbox.mark_done(s, item, now)
            if previous_digest is not None:
                outbox.enqueue(
                    s,
                    kind=Kind.COLLAPSE,
                    lane=Lane.message(previous_digest),
                    payload={"message_id": previous_digest, "newer_message_id": message.id},
                    now=now,
                    workspace_id=workspace_id,
                )
            return message.id

    def forget(self, message_id: int) -> None:
        """A posted message is gone from Slack: stop redrawing it (the row is kept)."""
        with self.db.transaction() as s:
            s.execute(
                update(PostedMessage).where(PostedMessage.id == message_id).values(kind="gone")
            )

    def tell_party_channel_refused(
        self, item: Claimed, order: OrderView, party_id: int, channel: str, error: str
    ) -> None:
        """A party's channel refused the bot: tell the person who acted and the party's
        members, who can invite it (nothing else stops)."""
        p = item.payload
        with self.db.transaction() as s:
            party = s.get(PartyOrg, party_id)
            name = party.name if party else "the party"
            text = (
                f":warning: I could not post about *{order.code}* in <#{escape(channel)}> for "
                f"*{escape(name)}*: `{escape(error)}`. Invite me with `/invite @orders` in that "
                "channel, or ask an admin to give the party another channel "
                f"(`orders-bot {party.kind.value if party else 'merchant'} add NAME --channel C…`)."
            )
            team, _ = self._team(order.workspace_id)
            now = self.clock.now()
            actor = p.get("actor") or {}
            if actor.get("user"):
                outbox.enqueue(
                    s,
                    kind=Kind.REPLY,
                    lane=outbox.reply_lane(team, actor["user"], actor.get("url")),
                    payload={
                        "team": team,
                        "user": actor["user"],
                        "url": actor.get("url"),
                        "channel": actor.get("channel"),
                        "text": text.replace("*", ""),
                        "blocks": _section(text),
                    },
                    now=now,
                    workspace_id=order.workspace_id,
                )
            for user in party_members(s, party_id):
                outbox.enqueue(
                    s,
                    kind=Kind.DM_TEXT,
                    lane=Lane.dm(team, user),
                    payload={"user": user, "text": text},
                    now=now,
                    workspace_id=order.workspace_id,
                )


def _section(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]


# -- one handler per kind ----------------------------------------------------------------------


def redraw_message(d: Deliveries, item: Claimed) -> None:
    """Redraw a message we posted, as it should look now."""
    message_id = int(item.payload["message_id"])
    with d.db.read() as s:
        try:
            posted, message = posted_message(s, message_id, d.clock.now())
        except LookupError as exc:
            raise Permanent(str(exc)) from exc
        channel, ts = posted.channel_id, posted.ts
    try:
        d.client(item.workspace_id).chat_update(channel=channel, ts=ts, **message.as_kwargs())
    except SlackApiError as exc:
        if exc.response.get("error") in GONE_ERRORS:
            d.forget(message_id)
            raise Permanent(f"{channel}/{ts}: {exc.response.get('error')}") from exc
        raise


_EXISTING_CARD = (
    select(PostedMessage)
    .join(PostedMessageOrder, PostedMessageOrder.message_id == PostedMessage.id)
    .where(PostedMessage.kind == "card")
    .order_by(PostedMessage.id.desc())
    .limit(1)
)


def _party_card(s: Session, order_id: int, channel: str, party_id: int) -> PostedMessage | None:
    """A party's card for an order in a channel (the newest, should there be two)."""
    return s.scalar(
        _EXISTING_CARD.where(
            PostedMessageOrder.order_id == order_id,
            PostedMessage.channel_id == channel,
            PostedMessage.viewer_party_id == party_id,
        )
    )


def post_card(d: Deliveries, item: Claimed) -> None:
    """The order's card in a party's channel: one card per order and channel, kept current.

    The first time, the card is posted. After that the card is redrawn in place, its first
    line now the latest news, and the news itself goes in the card's thread — shown in the
    channel too when the order now waits on that party — so the channel does not fill up
    with copies of one order.
    """
    p = item.payload
    channel, notice, party_id = str(p["channel"]), p.get("notice"), int(p["party_id"])
    with d.db.read() as s:
        order, viewer, message = _draw_card(
            s, int(p["order_id"]), party_id, d.clock.now(), notice, p.get("viewer")
        )
        existing: Card | None = None
        if p.get("card"):  # found when the change was queued
            existing = Card(p["card"]["message_id"], channel, p["card"]["ts"], p["card"]["ref"])
        else:
            found = _party_card(s, order.id, channel, party_id)
            if found is not None:
                existing = Card(found.id, found.channel_id, found.ts, found.ref or {})
    client = d.client(item.workspace_id)
    if existing is not None:
        try:
            client.chat_update(channel=existing.channel_id, ts=existing.ts, **message.as_kwargs())
        except SlackApiError as exc:
            if exc.response.get("error") not in GONE_ERRORS:
                raise
            d.forget(existing.id)  # deleted in Slack: post a new card below
            existing = None
    try:
        if existing is not None:
            with d.db.transaction() as s:
                s.execute(
                    update(PostedMessage)
                    .where(PostedMessage.id == existing.id)
                    .values(ref={**existing.ref, "notice": notice}, updated_at=d.clock.now())
                )
            if notice:
                post_once(
                    client,
                    item,
                    channel=existing.channel_id,
                    thread_ts=existing.ts,
                    reply_broadcast=order.status.waiting_on is viewer,
                    text=notice.replace("*", ""),
                    blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": notice}]}],
                )
            return
        answer = post_once(client, item, channel=channel, **message.as_kwargs())
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in CHANNEL_REFUSALS:
            d.tell_party_channel_refused(item, order, party_id, channel, error)
            raise Permanent(f"{channel}: {error}") from exc
        raise
    # Kept so that every later change to the order redraws this card too.
    d.keep(
        answer,
        item,
        kind="card",
        workspace_id=order.workspace_id,
        viewer_party_id=party_id,
        order_ids=[order.id],
        ref={"notice": notice},
    )


def respond(d: Deliveries, item: Claimed) -> None:
    """Redraw an ephemeral list or detail through its response_url."""
    p = item.payload
    now = d.clock.now()
    where = p.get("where") or {}
    with d.db.read() as s:
        try:
            caller = resolve_caller(s, p["team"], p["user"])
            if where_kind(where) == "list":
                include = (int(p["number"]),) if p.get("number") is not None else ()
                message = list_screen(
                    s, caller, ListSpec.from_json(where), now, p.get("notice"), include
                )
            elif where_kind(where) == "card" and p.get("number") is not None:
                # A card only its reader sees (the answer to an order number they wrote).
                message = card_message(s, caller, int(p["number"]), now, p.get("notice"))
            elif p.get("number") is not None:
                message = detail_message(s, caller, int(p["number"]), now, p.get("notice"))
            else:
                return
        except errors.OrdersError as exc:
            message = render_error(exc.render(SLACK_FORMAT))
    post_response_url(p["url"], message, replace_original=True)


def refresh_view(d: Deliveries, item: Claimed) -> None:
    """Redraw an open modal (a list or an order's detail)."""
    p = item.payload
    now = d.clock.now()
    where = p.get("where") or {}
    with d.db.read() as s:
        caller = resolve_caller(s, p["team"], p["user"])
        if where_kind(where) == "list":
            include = (int(p["number"]),) if p.get("number") is not None else ()
            view = list_modal(s, caller, ListSpec.from_json(where), now, p.get("notice"), include)
        else:
            view = detail_modal(s, caller, int(p["number"]), now, p.get("notice"))
    try:
        d.client(item.workspace_id).views_update(view_id=p["view_id"], view=view)
    except SlackApiError as exc:
        if exc.response.get("error") in ("not_found", "view_not_found"):
            raise Permanent("the modal was closed") from exc
        raise


def publish_home(d: Deliveries, item: Claimed) -> None:
    """Publish someone's Home tab as it should look now."""
    p = item.payload
    with d.db.read() as s:
        try:
            caller = resolve_caller(s, p["team"], p["user"])
        except errors.OrdersError:
            caller = None
        view = home_screen(s, caller, d.clock.now())
    # A workspace not onboarded yet has no row: its Home tab says how to be, with its token.
    client = (
        d.client(item.workspace_id)
        if item.workspace_id is not None
        else d.clients.for_team(str(p["team"]), None)
    )
    client.views_publish(user_id=p["user"], view=view)


def reply(d: Deliveries, item: Claimed) -> None:
    """Answer one person: on their response_url, else as an ephemeral, else by DM."""
    p = item.payload
    message = Message(str(p.get("text") or ""), list(p.get("blocks") or []))
    if p.get("url"):  # `replace`: the answer takes the place of the message clicked
        post_response_url(p["url"], message, replace_original=bool(p.get("replace")))
        return
    client = d.clients.for_team(str(p["team"]), None)
    if p.get("channel"):
        client.chat_postEphemeral(channel=p["channel"], user=p["user"], **message.as_kwargs())
    else:
        post_once(client, item, channel=_dm_channel(client, p["user"]), **message.as_kwargs())


def ephemeral(d: Deliveries, item: Claimed) -> None:
    """A message only one person in a channel (or a thread of it) sees."""
    p = item.payload
    d.client(item.workspace_id).chat_postEphemeral(
        channel=p["channel"],
        user=p["user"],
        text=p.get("text", ""),
        blocks=p.get("blocks"),
        thread_ts=p.get("thread_ts"),
    )


def digest(d: Deliveries, item: Claimed) -> None:
    """A reminder digest; a channel that refuses it stops only that reminder, and its owner is
    told."""
    now = d.clock.now()
    with d.db.read() as s:
        found = get_digest_run(s, int(item.payload["run_id"]))
        if found is None or found.run.status != QUEUED:
            return  # posted already (a retry after a crash), or given up
        run, policy = found.run, found.policy
        message = digest_message(s, run.id, now, run=run, policy=policy)
    d._teams[policy.workspace_id] = (policy.team_id, policy.enterprise_id)
    try:
        answer = post_once(
            d.client(policy.workspace_id), item, channel=policy.channel_id, **message.as_kwargs()
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in CHANNEL_REFUSALS:
            _digest_refused(d, run.id, policy, error)
            raise Permanent(f"{policy.channel_id}: {error}") from exc
        raise
    d.keep(
        answer,
        item,
        kind="digest",
        workspace_id=policy.workspace_id,
        viewer_party_id=policy.party_id,
        order_ids=list(run.order_ids),
        ref={"run_id": run.id, "policy_id": policy.id},
        run_id=run.id,
        previous_digest=found.previous_message_id,  # read before this post: the one it replaces
    )
    log.info("reminder digest posted", extra={"team_id": policy.team_id})


def _digest_refused(d: Deliveries, run_id: int, policy: PolicyView, error: str) -> None:
    """The bot cannot post there: record it and tell the policy's owner (nothing else stops)."""
    log.warning("reminder #%s cannot post in %s: %s", policy.id, policy.channel_id, error)
    with d.db.transaction() as s:
        s.execute(
            update(ReminderRun)
            .where(ReminderRun.id == run_id)
            .values(status=UNDELIVERABLE, error=error)
        )
        if policy.created_by:
            outbox.enqueue(
                s,
                kind=Kind.DM_TEXT,
                lane=Lane.dm(policy.team_id, policy.created_by),
                payload={"user": policy.created_by, "text": owner_notice(policy, error)},
                now=d.clock.now(),
                workspace_id=policy.workspace_id,
            )


def collapse(d: Deliveries, item: Claimed) -> None:
    """Fold an older digest into one line pointing at the newer one."""
    with d.db.read() as s:
        older = s.get(PostedMessage, int(item.payload["message_id"]))
        newer = s.get(PostedMessage, int(item.payload["newer_message_id"]))
        if older is None or newer is None:
            raise Permanent("a digest to collapse is gone")
    client = d.client(item.workspace_id)
    permalink = client.chat_getPermalink(channel=newer.channel_id, message_ts=newer.ts).get(
        "permalink"
    )
    message = render_collapsed(str(permalink) if permalink else None, older.created_at)
    client.chat_update(channel=older.channel_id, ts=older.ts, **message.as_kwargs())
    with d.db.transaction() as s:
        s.execute(
            update(PostedMessage)
            .where(PostedMessage.id == older.id)
            .values(kind="digest-collapsed", ref={**older.ref, "permalink": permalink})
        )


def dm_card(d: Deliveries, item: Claimed) -> None:
    """An order's card by direct message (an escalation), kept current like any card."""
    p = item.payload
    party_id = int(p["party_id"])
    with d.db.read() as s:
        order, _, message = _draw_card(
            s, int(p["order_id"]), party_id, d.clock.now(), p.get("notice")
        )
    client = d.client(item.workspace_id)
    answer = post_once(client, item, channel=_dm_channel(client, p["user"]), **message.as_kwargs())
    d.keep(
        answer,
        item,
        kind="card",
        workspace_id=order.workspace_id,
        viewer_party_id=party_id,
        order_ids=[order.id],
        ref={"notice": p.get("notice"), "dm": p["user"]},
    )


def dm_text(d: Deliveries, item: Claimed) -> None:
    """A text by direct message."""
    client = d.client(item.workspace_id)
    text = str(item.payload["text"])
    post_once(
        client,
        item,
        channel=_dm_channel(client, item.payload["user"]),
        text=text.replace("*", ""),
        blocks=_section(text),
    )


def thread_card(d: Deliveries, item: Claimed) -> None:
    """An order's card in the thread of a message that wrote its number, with the buttons of
    the party whose channel it is; kept, so that every change to the order redraws it."""
    p = item.payload
    party_id = int(p["party_id"])
    with d.db.read() as s:
        order, _, message = _draw_card(
            s, int(p["order_id"]), party_id, d.clock.now(), None, p.get("viewer")
        )
    client = d.client(item.workspace_id)
    try:
        answer = post_once(
            client,
            item,
            channel=str(p["channel"]),
            thread_ts=str(p["thread_ts"]),
            **message.as_kwargs(),
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in CHANNEL_REFUSALS | GONE_ERRORS | {"thread_not_found"}:
            raise Permanent(f"{p['channel']}: {error}") from exc  # left, archived, deleted
        raise
    d.keep(
        answer,
        item,
        kind="thread-card",
        workspace_id=order.workspace_id,
        viewer_party_id=party_id,
        order_ids=[order.id],
        ref={"thread_ts": p["thread_ts"]},
    )


def party_message(d: Deliveries, item: Claimed) -> None:
    """A message between the parties in the thread of the order's card in one party's channel
    (the card is queued ahead of it in the same lane when there was none), else in the channel;
    a channel that refuses the bot is reported to the sender and the party's members."""
    p = item.payload
    party_id, channel = int(p["party_id"]), str(p["channel"])
    with d.db.read() as s:
        order, viewer, _ = _draw_card(
            s, int(p["order_id"]), party_id, d.clock.now(), None, p.get("viewer")
        )
        entry = next((e for e in timeline(s, order.id) if e.id == int(p["event_id"])), None)
        card = _party_card(s, order.id, channel, party_id)
    if entry is None:
        raise Permanent(f"timeline entry {p['event_id']} is gone")
    message = render_party_message(order, entry, viewer)
    try:
        post_once(
            d.client(item.workspace_id),
            item,
            channel=channel,
            thread_ts=card.ts if card is not None else None,
            **message.as_kwargs(),
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", ""))
        if error in CHANNEL_REFUSALS:
            d.tell_party_channel_refused(item, order, party_id, channel, error)
            raise Permanent(f"{channel}: {error}") from exc
        raise


HANDLERS: dict[Kind, Callable[[Deliveries, Claimed], None]] = {
    Kind.CARD: post_card,
    Kind.REDRAW: redraw_message,
    Kind.RESPOND: respond,
    Kind.VIEW: refresh_view,
    Kind.HOME: publish_home,
    Kind.REPLY: reply,
    Kind.EPHEMERAL: ephemeral,
    Kind.DIGEST: digest,
    Kind.COLLAPSE: collapse,
    Kind.DM_CARD: dm_card,
    Kind.DM_TEXT: dm_text,
    Kind.THREAD_CARD: thread_card,
    Kind.PARTY_MESSAGE: party_message,
}
assert set(HANDLERS) == set(Kind), "every kind of outbox item needs its handler"


# -- helpers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A card we posted, as editing it needs."""

    id: int
    channel_id: str
    ts: str
    ref: dict[str, Any]


def _draw_card(
    session: Any,
    order_id: int,
    party_id: int,
    now: datetime,
    notice: str | None,
    kind: str | None = None,
) -> tuple[OrderView, Party, Message]:
    """An order's card as a party sees it (of `kind`, else read): the order, the party's side,
    and the message."""
    viewer = (
        Party(kind)
        if kind
        else session.scalar(select(PartyOrg.kind).where(PartyOrg.id == party_id))
    )
    if viewer is None:
        raise Permanent("the party is gone")
    order, last = order_card(session, order_id)
    return order, viewer, render_order_card(order, viewer=viewer, last=last, now=now, notice=notice)


def _dm_channel(client: WebClient, user: str) -> str:
    return str(client.conversations_open(users=user)["channel"]["id"])


def post_once(client: WebClient, item: Claimed, *, channel: str, **kwargs: Any) -> Any:
    """chat.postMessage for an outbox item, at most once even when an earlier try had no answer.

    A post whose answer was lost may still have landed: each post carries the item's id in its
    message metadata, and a retry first looks for it in the channel (or the thread). When Slack
    cannot say (the look-up fails too), the item waits and looks again: never posted blind.
    """
    if item.may_have_landed:
        found = _find_posted(client, item, channel, kwargs.get("thread_ts"))
        if found is not None:
            log.info("outbox: item %s had been posted before its answer was lost", item.id)
            return {"ok": True, "channel": channel, "ts": found}
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"item": item.id}}
    return client.chat_postMessage(channel=channel, metadata=metadata, **kwargs)


def _find_posted(
    client: WebClient, item: Claimed, channel: str, thread_ts: str | None
) -> str | None:
    """The ts of the message an earlier try of this item posted, if any (read back from when the
    item was queued, page by page); Retry when Slack cannot answer."""
    since = f"{(item.created_at.timestamp() - 60) if item.created_at else 0:.6f}"
    cursor = None
    for _ in range(20):
        look: dict[str, Any] = {
            "channel": channel,
            "oldest": since,
            "include_all_metadata": True,
            "limit": 200,
        }
        try:
            if thread_ts:
                answer = client.conversations_replies(ts=thread_ts, cursor=cursor, **look)
            else:
                answer = client.conversations_history(cursor=cursor, **look)
        except (SlackApiError, OSError) as exc:
            verdict = outbox.classify(exc)
            if isinstance(verdict, Permanent):
                raise
            # Still unclear whether it landed: keep the item and look again later.
            raise Retry(
                f"looking for an earlier post: {verdict}", Failure.UNCLEAR, verdict.delay
            ) from exc
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            if (
                meta.get("event_type") == METADATA_EVENT
                and (meta.get("event_payload") or {}).get("item") == item.id
            ):
                return str(message["ts"])
        cursor = (answer.get("response_metadata") or {}).get("next_cursor")
        if not answer.get("has_more") or not cursor:
            return None
    return None


def post_response_url(
    url: str, message: Message, *, replace_original: bool, ephemeral: bool = True
) -> None:
    """POST a message to a response_url (slack_sdk's WebhookClient, minus its retry sleeps)."""
    body: dict[str, object] = {**message.as_kwargs(), "replace_original": replace_original}
    if not replace_original:
        body["response_type"] = "ephemeral" if ephemeral else "in_channel"
    request = Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urlopen(request, timeout=10) as answer:
            answer.read()
    except HTTPError as exc:
        exc.close()
        if exc.code in (404, 410):
            raise Permanent(f"response_url expired or used up ({exc.code})") from exc
        if exc.code == 429:
            delay = float(exc.headers.get("Retry-After") or 1)
            raise Retry("rate limited", Failure.RATE_LIMITED, delay) from exc
        raise Retry(f"response_url answered {exc.code}", Failure.REFUSED) from exc


def tell_about_failure(url: str | None, message: Message) -> None:
    """After something failed unexpectedly: tell the user through their response_url, if there
    is one. If Slack cannot be reached either, a warning in the log is all that remains."""
    if not url:
        return
    try:
        post_response_url(url, message, replace_original=False)
    except Exception:
        log.warning("could not tell the user about the failure")
