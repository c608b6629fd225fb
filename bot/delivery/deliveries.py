"""Delivering outbox items to Slack: each kind draws the current state and makes one call."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from slack_sdk.errors import SlackApiError
from sqlalchemy import Integer, String, bindparam, func, insert, literal, select, update

from bot.clock import Clock
from bot.delivery import outbox
from bot.delivery.clients import SlackClients
from bot.delivery.outbox import Claimed, Permanent, Retry
from bot.scheduling.reminders import owner_notice
from bot.ui.format import SLACK_FORMAT
from bot.ui.orders import ListSpec, Message, render_error, render_order_card
from bot.ui.reminders import render_collapsed
from bot.ui.screens import (
    detail_message,
    detail_modal,
    digest_message,
    home_screen,
    list_modal,
    list_screen,
    posted_message,
)
from orders_core import errors
from orders_core.db import Database, id_source
from orders_core.lifecycle import Party
from orders_core.models import (
    OutboxItem,
    PartyOrg,
    PostedMessage,
    PostedMessageOrder,
    ReminderRun,
    Workspace,
)
from orders_core.orders import OrderView, order_card, resolve_caller
from orders_core.reminders import (
    POSTED,
    QUEUED,
    UNDELIVERABLE,
    PolicyView,
    get_digest_run,
    set_run,
)

log = logging.getLogger(__name__)

CHANNEL_REFUSALS = frozenset(
    {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}
)
GONE_ERRORS = frozenset(
    {"message_not_found", "channel_not_found", "cant_update_message", "is_archived"}
)


@dataclass
class Deliveries:
    """The outbox's `deliver` function, with what it needs to draw and send."""

    db: Database
    clock: Clock
    clients: SlackClients
    _teams: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def __call__(self, item: Claimed) -> None:
        """Deliver one item; raises Retry or Permanent (or a Slack error) when it could not."""
        handler: Callable[[Claimed], None] | None = getattr(self, f"_deliver_{item.kind}", None)
        if handler is None:
            raise Permanent(f"unknown outbox item kind {item.kind!r}")
        handler(item)

    def _team(self, workspace_id: int | None) -> tuple[str, str | None]:
        # A workspace's team and enterprise ids never change: read once per process.
        known = self._teams.get(workspace_id or 0)
        if known is not None:
            return known
        with self.db.read() as s:
            row = (
                s.execute(
                    select(Workspace.team_id, Workspace.enterprise_id).where(
                        Workspace.id == workspace_id
                    )
                ).first()
                if workspace_id
                else None
            )
        if row is None:
            raise Permanent(f"workspace {workspace_id} is gone")
        self._teams[workspace_id or 0] = (row.team_id, row.enterprise_id)
        return row.team_id, row.enterprise_id

    def _client(self, workspace_id: int | None):  # type: ignore[no-untyped-def]
        team_id, enterprise_id = self._team(workspace_id)
        return self.clients.for_team(team_id, enterprise_id)

    def _keep(
        self,
        answer: Any,
        kind: str,
        workspace_id: int,
        viewer_party_id: int,
        order_ids: list[int],
        ref: dict[str, Any],
        now: datetime,
        item: Claimed,
        *,
        run_id: int | None = None,
        previous_digest: int | None = None,
    ) -> int:
        """Record a posted message and the orders it shows, so changes to them redraw it; the
        item that posted it is done with it. A digest's run is marked posted, and the policy's
        previous digest queued to collapse, with them too.

        All of it is one transaction; on PostgreSQL, one statement (data-modifying CTEs):
        one round trip instead of seven, which is most of a digest's database time.
        """
        values = {
            "workspace_id": workspace_id,
            "channel_id": str(answer["channel"]),
            "ts": str(answer["ts"]),
            "kind": kind,
            "viewer_party_id": viewer_party_id,
            "ref": ref,
            "created_at": now,
            "updated_at": now,
        }
        if not self.db.is_sqlite:
            steps, params = outbox.done_statements(item, now)
            statement = _posted_in_one(steps, run_id is not None, previous_digest is not None)
            params.update({f"m_{c}": v for c, v in values.items()})
            params.update(
                ids=order_ids,
                m_run=run_id,
                m_posted=POSTED,
                m_previous=previous_digest,
                m_collapse_lane=f"msg:{previous_digest}",
            )
            with self.db.one_statement() as s:
                message_id = int(s.connection().execute(statement, params).scalar_one())
            item.completed = True
            return message_id
        with self.db.transaction() as s:
            message_id = int(s.connection().execute(_INSERT_POSTED, values).scalar_one())
            link_orders(s, message_id, order_ids)
            if run_id is not None:
                set_run(s, run_id, status=POSTED, posted_at=now, message_id=message_id)
            outbox.mark_done(s, item, now)
            if previous_digest is not None:
                _collapse_later(s, previous_digest, message_id, workspace_id, now)
            return message_id

    # -- kinds ---------------------------------------------------------------------------------

    def _deliver_refresh_message(self, item: Claimed) -> None:
        now = self.clock.now()
        with self.db.read() as s:
            try:
                posted, message = posted_message(s, int(item.payload["message_id"]), now)
            except LookupError as exc:
                raise Permanent(str(exc)) from exc
            channel, ts = posted.channel_id, posted.ts
        try:
            self._client(item.workspace_id).chat_update(
                channel=channel, ts=ts, **message.as_kwargs()
            )
        except SlackApiError as exc:
            if exc.response.get("error") in GONE_ERRORS:
                forget_message(self.db, int(item.payload["message_id"]))
                raise Permanent(f"{channel}/{ts}: {exc.response.get('error')}") from exc
            raise

    def _deliver_post_card(self, item: Claimed) -> None:
        """The order's card in a party's channel: one card per order and channel, kept current.

        The first time, the card is posted. After that the card is redrawn in place, its first
        line now the latest news, and the news itself goes in the card's thread — shown in the
        channel too when the order now waits on that party — so the channel does not fill up
        with copies of one order.
        """
        p = item.payload
        now = self.clock.now()
        channel, notice = str(p["channel"]), p.get("notice")
        party_id = int(p["party_id"])
        with self.db.read() as s:
            order, viewer, message = _draw_card(s, int(p["order_id"]), party_id, now, notice)
            existing = (
                s.connection()
                .execute(
                    _EXISTING_CARD,
                    {"order_id": order.id, "channel": channel, "party_id": party_id},
                )
                .first()
            )
        client = self._client(item.workspace_id)
        if existing is not None:
            try:
                client.chat_update(
                    channel=existing.channel_id, ts=existing.ts, **message.as_kwargs()
                )
            except SlackApiError as exc:
                if exc.response.get("error") not in GONE_ERRORS:
                    raise
                forget_message(self.db, existing.id)  # deleted in Slack: post a new card below
                existing = None
        if existing is not None:
            with self.db.transaction() as s:
                s.execute(
                    update(PostedMessage)
                    .where(PostedMessage.id == existing.id)
                    .values(ref={**existing.ref, "notice": notice}, updated_at=now)
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
        # Kept so that every later change to the order redraws this card too.
        self._keep(
            answer, "card", order.workspace_id, party_id, [order.id], {"notice": notice}, now, item
        )

    def _deliver_respond(self, item: Claimed) -> None:
        p = item.payload
        now = self.clock.now()
        where = p.get("where") or {}
        with self.db.read() as s:
            try:
                caller = resolve_caller(s, p["team"], p["user"])
                if where.get("k") == "list":
                    include = (int(p["number"]),) if p.get("number") is not None else ()
                    spec = ListSpec.from_json(where)
                    message = list_screen(s, caller, spec, now, p.get("notice"), include)
                elif p.get("number") is not None:
                    message = detail_message(s, caller, int(p["number"]), now, p.get("notice"))
                else:
                    return
            except errors.OrdersError as exc:
                message = render_error(exc.render(SLACK_FORMAT))
        post_response_url(p["url"], message, replace_original=True)

    def _deliver_view_refresh(self, item: Claimed) -> None:
        p = item.payload
        now = self.clock.now()
        where = p.get("where") or {}
        with self.db.read() as s:
            caller = resolve_caller(s, p["team"], p["user"])
            if where.get("k") == "list":
                include = (int(p["number"]),) if p.get("number") is not None else ()
                view = list_modal(
                    s, caller, ListSpec.from_json(where), now, p.get("notice"), include
                )
            else:
                view = detail_modal(s, caller, int(p["number"]), now, p.get("notice"))
        try:
            self._client(item.workspace_id).views_update(view_id=p["view_id"], view=view)
        except SlackApiError as exc:
            if exc.response.get("error") in ("not_found", "view_not_found"):
                raise Permanent("the modal was closed") from exc
            raise

    def _deliver_digest(self, item: Claimed) -> None:
        now = self.clock.now()
        with self.db.read() as s:
            found = get_digest_run(s, int(item.payload["run_id"]))
            if found is None or found.run.status != QUEUED:
                return  # posted already (a retry after a crash), or given up
            run, policy = found.run, found.policy
            message = digest_message(s, run.id, now, run=run, policy=policy)
        self._teams[policy.workspace_id] = (policy.team_id, policy.enterprise_id)
        client = self._client(policy.workspace_id)
        try:
            answer = post_once(client, item, channel=policy.channel_id, **message.as_kwargs())
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in CHANNEL_REFUSALS:
                self._channel_refused(run.id, policy, error, now)
                raise Permanent(f"{policy.channel_id}: {error}") from exc
            raise
        self._keep(
            answer,
            "digest",
            policy.workspace_id,
            policy.party_id,
            list(run.order_ids),
            {"run_id": run.id, "policy_id": policy.id},
            now,
            item,
            run_id=run.id,
            # Read with the run, before this post: the digest this one replaces.
            previous_digest=found.previous_message_id,
        )
        log.info(
            "reminder digest posted",
            extra={"team_id": policy.team_id, "kind": "digest", "lane": item.lane},
        )

    def _channel_refused(self, run_id: int, policy: PolicyView, error: str, now: datetime) -> None:
        """The bot cannot post there: record it and tell the policy's owner (nothing else stops)."""
        log.warning("reminder #%s cannot post in %s: %s", policy.id, policy.channel_id, error)
        with self.db.transaction() as s:
            s.execute(
                update(ReminderRun)
                .where(ReminderRun.id == run_id)
                .values(status=UNDELIVERABLE, error=error)
            )
            if policy.created_by:
                outbox.enqueue(
                    s,
                    kind="dm_text",
                    lane=f"dm:{policy.team_id}:{policy.created_by}",
                    payload={"user": policy.created_by, "text": owner_notice(policy, error)},
                    now=now,
                    workspace_id=policy.workspace_id,
                )

    def _deliver_collapse(self, item: Claimed) -> None:
        with self.db.read() as s:
            older = s.get(PostedMessage, int(item.payload["message_id"]))
            newer = s.get(PostedMessage, int(item.payload["newer_message_id"]))
            if older is None or newer is None:
                raise Permanent("a digest to collapse is gone")
            older_where, newer_where = (older.channel_id, older.ts), (newer.channel_id, newer.ts)
        client = self._client(item.workspace_id)
        permalink = client.chat_getPermalink(channel=newer_where[0], message_ts=newer_where[1]).get(
            "permalink"
        )
        message = render_collapsed(str(permalink) if permalink else None, older.created_at)
        client.chat_update(channel=older_where[0], ts=older_where[1], **message.as_kwargs())
        with self.db.transaction() as s:
            s.execute(
                update(PostedMessage)
                .where(PostedMessage.id == older.id)
                .values(kind="digest-collapsed", ref={**older.ref, "permalink": permalink})
            )

    def _dm_channel(self, client: Any, user: str) -> str:
        return str(client.conversations_open(users=user)["channel"]["id"])

    def _deliver_dm_card(self, item: Claimed) -> None:
        p = item.payload
        now = self.clock.now()
        party_id = int(p["party_id"])
        with self.db.read() as s:
            order, _, message = _draw_card(s, int(p["order_id"]), party_id, now, p.get("notice"))
        client = self._client(item.workspace_id)
        answer = post_once(
            client, item, channel=self._dm_channel(client, p["user"]), **message.as_kwargs()
        )
        ref = {"notice": p.get("notice"), "dm": p["user"]}
        self._keep(answer, "card", order.workspace_id, party_id, [order.id], ref, now, item)

    def _deliver_dm_text(self, item: Claimed) -> None:
        client = self._client(item.workspace_id)
        text = str(item.payload["text"])
        post_once(
            client,
            item,
            channel=self._dm_channel(client, item.payload["user"]),
            text=text.replace("*", ""),
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        )

    def _deliver_ephemeral(self, item: Claimed) -> None:
        p = item.payload
        self._client(item.workspace_id).chat_postEphemeral(
            channel=p["channel"], user=p["user"], text=p.get("text", ""), blocks=p.get("blocks")
        )

    def _deliver_home_refresh(self, item: Claimed) -> None:
        p = item.payload
        now = self.clock.now()
        with self.db.read() as s:
            try:
                caller = resolve_caller(s, p["team"], p["user"])
            except errors.OrdersError:
                caller = None
            view = home_screen(s, caller, now)
        self._client(item.workspace_id).views_publish(user_id=p["user"], view=view)


_INSERT_POSTED = insert(PostedMessage).returning(PostedMessage.id)
_PARTY_KIND = select(PartyOrg.kind).where(PartyOrg.id == bindparam("party_id"))
_EXISTING_CARD = (
    select(PostedMessage.id, PostedMessage.channel_id, PostedMessage.ts, PostedMessage.ref)
    .join(PostedMessageOrder, PostedMessageOrder.message_id == PostedMessage.id)
    .where(
        PostedMessageOrder.order_id == bindparam("order_id"),
        PostedMessage.channel_id == bindparam("channel"),
        PostedMessage.viewer_party_id == bindparam("party_id"),
        PostedMessage.kind == "card",
    )
    .order_by(PostedMessage.id.desc())
    .limit(1)
)
"""The card a party already has for an order in a channel (the newest, should there be two)."""


def _draw_card(
    session: Any, order_id: int, party_id: int, now: datetime, notice: str | None
) -> tuple[OrderView, Party, Message]:
    """An order's card as a party sees it: the order, the party's side, and the message."""
    viewer = session.connection().scalar(_PARTY_KIND, {"party_id": party_id})
    if viewer is None:
        raise Permanent("the party is gone")
    order, last = order_card(session, order_id)
    return order, viewer, render_order_card(order, viewer=viewer, last=last, now=now, notice=notice)


@functools.cache
def _insert_links(dialect: str) -> Any:
    ids = id_source(dialect)
    rows = select(bindparam("message_id", type_=Integer), ids.c.value)
    return insert(PostedMessageOrder).from_select(["message_id", "order_id"], rows)


def _collapse_later(
    session: Any, older: int, newer: int, workspace_id: int | None, now: datetime
) -> None:
    """Queue the older digest's collapse into a line pointing at the newer one."""
    outbox.enqueue(
        session,
        kind="collapse",
        lane=f"msg:{older}",
        payload={"message_id": older, "newer_message_id": newer},
        now=now,
        workspace_id=workspace_id,
    )


@functools.cache
def _posted_in_one(done: tuple[Any, ...], run: bool, collapse: bool) -> Any:
    """PostgreSQL: what `Deliveries._keep` writes, as one statement returning the message's id.

    Each write is a CTE of one `SELECT posted.id`; they all run (PostgreSQL runs every
    data-modifying CTE, referenced or not) against one snapshot, and none of them touches a row
    another one does: the new message, its links, the run, the item and its lane's next item
    (`done`: the statements of `outbox.done_statements`). The collapse is `_collapse_later`'s.
    """
    # Each value bound once, with its column's type, wherever it is used; named so no name is
    # a column's (SQLAlchemy would take a parameter named after a column for a value to SET).
    values = {
        c: bindparam(f"m_{c}", type_=PostedMessage.__table__.c[c].type) for c in _POSTED_COLUMNS
    }
    posted = insert(PostedMessage).values(values).returning(PostedMessage.id).cte("posted")
    new_id = select(posted.c.id).scalar_subquery()
    ids = id_source("postgresql")
    parts: list[Any] = [
        insert(PostedMessageOrder)
        .from_select(["message_id", "order_id"], select(new_id, ids.c.value))
        .cte("linked")
    ]
    if run:
        parts.append(
            update(ReminderRun)
            .where(ReminderRun.id == bindparam("m_run"))
            .values(status=bindparam("m_posted"), posted_at=values["created_at"], message_id=new_id)
            .cte("run_posted")
        )
    parts += [statement.cte(f"done_{k}") for k, statement in enumerate(done)]
    if collapse:
        parts.append(
            insert(OutboxItem)
            .from_select(
                _QUEUED_COLUMNS,
                select(
                    values["workspace_id"],
                    literal("collapse"),
                    bindparam("m_collapse_lane", type_=String),
                    func.json_build_object(
                        "message_id",
                        bindparam("m_previous", type_=Integer),
                        "newer_message_id",
                        new_id,
                    ),
                    literal(outbox.PENDING),
                    literal(0),
                    values["created_at"],
                    values["created_at"],
                ),
            )
            .cte("collapse_queued")
        )
    return select(posted.c.id).add_cte(*parts)


_POSTED_COLUMNS = tuple(c.name for c in PostedMessage.__table__.c if not c.primary_key)
_QUEUED_COLUMNS = [
    "workspace_id",
    "kind",
    "lane",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


def link_orders(session: Any, message_id: int, order_ids: list[int]) -> None:
    """Which orders a posted message shows: one insert for all of them."""
    if order_ids:
        # One INSERT … SELECT from the ids as one array parameter: the same statement for any
        # number of orders (a multi-row VALUES is compiled afresh per length; executemany
        # sends a row at a time, slow on PostgreSQL).
        connection = session.connection()
        connection.execute(
            _insert_links(connection.dialect.name),
            {"message_id": message_id, "ids": list(order_ids)},
        )


METADATA_EVENT = "orders_bot_delivery"


def post_once(client: Any, item: Claimed, *, channel: str, **kwargs: Any) -> Any:
    """chat.postMessage for an outbox item, at most once even when an earlier try timed out.

    A post that timed out may still have landed: each post carries the item's id in its message
    metadata, and a retry first looks for it in the channel (or the thread) before posting again.
    """
    if item.may_have_landed:
        found = _find_posted(client, item, channel, kwargs.get("thread_ts"))
        if found is not None:
            log.info("outbox: item %s had been posted before its answer was lost", item.id)
            return {"ok": True, "channel": channel, "ts": found}
    metadata = {"event_type": METADATA_EVENT, "event_payload": {"item": item.id}}
    return client.chat_postMessage(channel=channel, metadata=metadata, **kwargs)


def _find_posted(client: Any, item: Claimed, channel: str, thread_ts: str | None) -> str | None:
    """The ts of the message an earlier try of this item posted, if any (read back from when the
    item was queued, page by page)."""
    since = f"{(item.created_at.timestamp() - 60) if item.created_at else 0:.6f}"
    cursor = None
    for _ in range(20):
        try:
            if thread_ts:
                answer = client.conversations_replies(
                    channel=channel,
                    ts=thread_ts,
                    oldest=since,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
            else:
                answer = client.conversations_history(
                    channel=channel,
                    oldest=since,
                    include_all_metadata=True,
                    limit=200,
                    cursor=cursor,
                )
        except SlackApiError as exc:
            log.warning(
                "outbox: cannot look for an earlier post of item %s (%s): posting again",
                item.id,
                exc.response.get("error"),
            )
            return None
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
            raise Retry("rate limited", float(exc.headers.get("Retry-After") or 1)) from exc
        raise Retry(f"response_url answered {exc.code}") from exc


def tell_about_failure(url: str | None, message: Message) -> None:
    """After something failed: tell the user through their response_url, if there is one. If
    Slack cannot be reached either, a warning in the log is all that remains."""
    if not url:
        return
    try:
        post_response_url(url, message, replace_original=False)
    except Exception:
        log.warning("could not tell the user about the failure")


def forget_message(db: Database, message_id: int) -> None:
    """A posted message is gone from Slack: stop redrawing it (the row is kept)."""
    with db.transaction() as s:
        s.execute(update(PostedMessage).where(PostedMessage.id == message_id).values(kind="gone"))
