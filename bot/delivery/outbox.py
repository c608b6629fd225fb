"""The notification outbox: Slack calls written with the change, delivered by a worker.

A change and every Slack call it owes are committed in one transaction (`enqueue`); a worker
thread in each process claims due items and delivers them (bot.delivery.deliveries), woken when
a transaction commits. Items of one lane (one message, one channel, one Home tab, one
response_url) go one at a time and in order; redraws render the state at delivery time, so the
pending redraws of one message collapse into one. How a try failed is kept as data
(`Failure`): it decides when the item is tried again, and whether a post may have landed.
"""

from __future__ import annotations

import enum
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, bindparam, case, event, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock
from bot.delivery import budget
from bot.logs import log_context
from orders_core.db import Database
from orders_core.models import OutboxItem

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"


class Kind(enum.StrEnum):
    """What an item does; bot.delivery.deliveries.HANDLERS says how, one function per kind."""

    CARD = "post_card"
    """An order's card in a party's channel: posted once, then redrawn, the news in its thread."""
    REDRAW = "refresh_message"
    """Redraw a message we posted (a card, a digest) as it should look now."""
    RESPOND = "respond"
    """Redraw an ephemeral list or detail through its response_url."""
    VIEW = "view_refresh"
    """Redraw an open modal (a list or a detail)."""
    HOME = "home_refresh"
    """Publish someone's Home tab."""
    REPLY = "reply"
    """Answer one person: on their response_url, as an ephemeral, or by direct message."""
    EPHEMERAL = "ephemeral"
    """A message only one person in a channel sees."""
    DIGEST = "digest"
    """A reminder digest."""
    COLLAPSE = "collapse"
    """Fold an older digest into a line pointing at the newer one."""
    DM_CARD = "dm_card"
    """An order's card by direct message (an escalation)."""
    DM_TEXT = "dm_text"
    """A text by direct message (a reminder's owner told of a problem)."""
    THREAD_CARD = "thread_card"
    """An order's card in the thread where someone wrote its number, kept current."""
    PARTY_MESSAGE = "party_message"
    """A message between the parties, in the thread of the order's card in one's channel."""


REDRAWS = frozenset({Kind.REDRAW, Kind.RESPOND, Kind.VIEW, Kind.HOME})
"""Kinds that draw the state at delivery time: the later ones of a lane add nothing."""
METHODS: dict[Kind, tuple[str, ...]] = {
    Kind.CARD: ("chat.update", "chat.postMessage"),
    Kind.REDRAW: ("chat.update",),
    Kind.RESPOND: (),  # a response_url has no tier
    Kind.VIEW: ("views.update",),
    Kind.HOME: ("views.publish",),
    Kind.REPLY: (),  # mostly a response_url: one person, once
    Kind.EPHEMERAL: ("chat.postEphemeral",),
    Kind.DIGEST: ("chat.postMessage",),
    Kind.COLLAPSE: ("chat.getPermalink", "chat.update"),
    Kind.DM_CARD: ("conversations.open", "chat.postMessage"),
    Kind.DM_TEXT: ("conversations.open", "chat.postMessage"),
    Kind.THREAD_CARD: ("chat.postMessage",),
    Kind.PARTY_MESSAGE: ("chat.postMessage",),
}
"""The rate-limited Slack methods each kind calls (bot.delivery.budget spaces them)."""
URGENT = frozenset(
    {
        Kind.CARD,
        Kind.RESPOND,
        Kind.VIEW,
        Kind.REPLY,
        Kind.EPHEMERAL,
        Kind.THREAD_CARD,
        Kind.PARTY_MESSAGE,
    }
)
"""What a person waits for right after a click: it goes first when a budget is short (a
redraw of the message clicked is urgent too: its payload says so)."""
LOOKED_AT_FIRST = tuple(sorted(k.value for k in URGENT | {Kind.REDRAW}))
"""Kinds a claim takes before the others (the urgent ones, and redraws, which may be): else a
backlog the rate budget holds back, such as a whole team's Home tabs opened at once, would
fill every claim and hold up the cards clicked meanwhile until it drained."""


class LaneKind(enum.StrEnum):
    """What a lane orders: the items for one message, channel, person, Home tab or modal."""

    CHANNEL = "chan"
    DM = "dm"
    MESSAGE = "msg"
    HOME = "home"
    RESPONSE_URL = "respond"
    VIEW = "view"


@dataclass(frozen=True)
class Lane:
    """Items of one lane go one at a time, in order; a paced lane (a channel, a person's DMs)
    waits CHANNEL_SPACING between posts, as Slack allows about one a second."""

    kind: LaneKind
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def paced(self) -> bool:
        """Posts to it are spaced out."""
        return self.kind in (LaneKind.CHANNEL, LaneKind.DM)

    @classmethod
    def parse(cls, text: str) -> Lane:
        """A lane as stored."""
        kind, _, key = text.partition(":")
        return cls(LaneKind(kind), key)

    @classmethod
    def channel(cls, channel_id: str) -> Lane:
        """Posts in a channel."""
        return cls(LaneKind.CHANNEL, channel_id)

    @classmethod
    def dm(cls, team_id: str, user_id: str) -> Lane:
        """Direct messages to a person."""
        return cls(LaneKind.DM, f"{team_id}:{user_id}")

    @classmethod
    def message(cls, message_id: int) -> Lane:
        """Redraws of one posted message."""
        return cls(LaneKind.MESSAGE, str(message_id))

    @classmethod
    def home(cls, team_id: str, user_id: str) -> Lane:
        """A person's Home tab."""
        return cls(LaneKind.HOME, f"{team_id}:{user_id}")

    @classmethod
    def response_url(cls, url: str) -> Lane:
        """What is said on one response_url (its tail is unique enough and short)."""
        return cls(LaneKind.RESPONSE_URL, url[-60:])

    @classmethod
    def view(cls, view_id: str) -> Lane:
        """Redraws of one open modal."""
        return cls(LaneKind.VIEW, view_id)


def reply_lane(team: str, user: str, url: str | None) -> Lane:
    """Where an answer to one person queues: behind what its response_url already has queued."""
    return Lane.response_url(url) if url else Lane.dm(team, user)


class Failure(enum.StrEnum):
    """How a try failed, kept on the item: it decides the next try."""

    REFUSED = "refused"
    """Slack answered an error: it did nothing; try again later (a few times)."""
    UNCLEAR = "unclear"
    """No answer (a timeout, a dropped connection): it may have landed; look before posting."""
    RATE_LIMITED = "rate_limited"
    """Slack said to wait (429 Retry-After)."""
    AUTH = "auth"
    """The workspace's token was refused (revoked, rotated): held until it works again."""


COUNTED = frozenset({Failure.REFUSED, Failure.UNCLEAR})
"""Failures that count towards setting an item aside: waiting for Slack's permission (a rate
limit, a token) is not failing."""


LEASE = timedelta(seconds=6)
"""How long a claim keeps other workers off an item. The claiming process renews it every
RENEW_EVERY seconds while the item is in its hands, however long Slack takes; the lease of a
process that died lapses, and another worker takes the item over, within LEASE."""
RENEW_EVERY = LEASE.total_seconds() / 4
CHANNEL_SPACING = timedelta(seconds=1)
SET_ASIDE_AFTER = 5
"""Tries before a failing item is set aside (marked failed, reported) so its lane moves on, if
Slack answers other calls meanwhile (in an outage nothing is set aside)."""
MAX_BACKOFF = 300.0
UNCLEAR_RETRY_DELAY = 15.0
"""After no answer, Slack may still be carrying the call out: look again only once it surely has."""
AUTH_HOLD = 30.0
"""How often items held by a refused token are tried again."""

RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


class Retry(Exception):
    """Deliver this item again after `delay` seconds (None: the failure's own backoff)."""

    def __init__(self, reason: str, failure: Failure, delay: float | None = None) -> None:
        super().__init__(reason)
        self.failure = failure
        self.delay = delay


class Permanent(Exception):
    """This item can never be delivered (the message is gone, the bot left the channel)."""


def classify(exc: BaseException) -> Retry | Permanent:
    """A Slack or network failure as a retry (with how it failed) or a final failure."""
    if isinstance(exc, Retry | Permanent):
        return exc
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429:
            after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            delay = float(after[0] if isinstance(after, list) else after or 1)
            return Retry("rate limited", Failure.RATE_LIMITED, delay)
        if error in AUTH_ERRORS:
            return Retry(f"slack refused the token: {error}", Failure.AUTH)
        if status >= 500 or error in RETRYABLE_ERRORS:
            return Retry(f"slack {status} {error}".strip(), Failure.REFUSED)
        return Permanent(error or f"slack {status}")
    # Network trouble (timeouts, refused connections) and anything unexpected: no answer came.
    return Retry(f"{exc.__class__.__name__}: {exc}", Failure.UNCLEAR)


@dataclass
class Claimed:
    """An item this worker holds the lease of."""

    id: int
    workspace_id: int | None
    kind: Kind
    lane: Lane
    payload: dict[str, Any]
    attempts: int
    collapse_upto: int
    last_failure: Failure | None = None
    created_at: datetime | None = None
    taken_over: bool = False
    """Claimed from a worker whose lease lapsed (its process died, maybe mid-delivery)."""
    completed: bool = field(default=False, compare=False)
    """Marked done by its delivery, in the transaction that recorded what it posted."""

    @property
    def may_have_landed(self) -> bool:
        """An earlier try ended without an answer, or its worker died with it in hand."""
        return self.last_failure is Failure.UNCLEAR or self.taken_over


def enqueue(
    session: Session,
    *,
    kind: Kind,
    lane: Lane,
    payload: Mapping[str, Any],
    now: datetime,
    workspace_id: int | None = None,
    due: datetime | None = None,
) -> None:
    """Add a Slack call to the caller's transaction (a redraw queued twice in it, once), due
    now or at `due`."""
    enqueue_many(session, [Queued(kind, lane, payload, workspace_id, due)], now=now)


@dataclass(frozen=True)
class Queued:
    """One item for `enqueue_many`."""

    kind: Kind
    lane: Lane
    payload: Mapping[str, Any]
    workspace_id: int | None = None
    due: datetime | None = None


def enqueue_many(session: Session, items: Sequence[Queued], *, now: datetime) -> None:
    """`enqueue` for several items. Everything a transaction queues is written in one INSERT
    as it commits (an action queues three or four items: one round trip, not four)."""
    seen: set[tuple[Kind, Lane]] = session.info.setdefault("outbox_redraws", set())
    rows: list[dict[str, Any]] = session.info.setdefault(_QUEUED, [])
    for item in items:
        if item.kind in REDRAWS:
            if (item.kind, item.lane) in seen:
                continue
            seen.add((item.kind, item.lane))
        rows.append(
            {
                "workspace_id": item.workspace_id,
                "kind": item.kind.value,
                "lane": str(item.lane),
                "payload": dict(item.payload),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": item.due or now,
                "created_at": now,
            }
        )


_QUEUED = "outbox_queued"
"""session.info key: the rows a transaction queued, written as it commits."""


@event.listens_for(Session, "before_commit")
def _write_queued(session: Session) -> None:
    rows = session.info.pop(_QUEUED, None)
    if rows:
        session.execute(insert(OutboxItem), rows)


@event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUED, None)
    session.info.pop("outbox_redraws", None)


# The claim's statements, built once (the time `now` and the batch's `limit` bound at each
# call): built per call, its aliases proxying every column and its subqueries cost 8-9 ms of CPU
# a claim, and a claim runs on every wake of every worker (benchmarks/README.md, 2026-12-06).

_LANE_ITEM = aliased(OutboxItem, name="lane_item")
_LANE_HEADS = (
    select(func.min(_LANE_ITEM.id)).where(_LANE_ITEM.status == PENDING).group_by(_LANE_ITEM.lane)
)
"""The first pending item of each lane (the lane's next to go): one pass over the pending
items in the (status, lane, id) index. Finding heads first keeps a claim from visiting each
due item behind a head that waits (paced, rate limited, backing off) and asking whether it is
one: with 5,000 of them in one channel that took PostgreSQL half a second a claim."""

_LATER = aliased(OutboxItem, name="later")
_NEWEST_REDRAW = (
    select(func.max(_LATER.id))
    .where(
        _LATER.lane == OutboxItem.lane,
        _LATER.kind == OutboxItem.kind,
        _LATER.status == PENDING,
        OutboxItem.kind.in_([k.value for k in REDRAWS]),
    )
    .scalar_subquery()
)
"""The newest pending redraw of the head's lane and kind says what is wanted now (a list's
latest page): found with the head, delivered in its place."""

_SOONER = aliased(OutboxItem, name="sooner")
_REDRAW_DUE = exists().where(
    _SOONER.lane == OutboxItem.lane,
    _SOONER.kind == OutboxItem.kind,
    _SOONER.status == PENDING,
    _SOONER.next_attempt_at <= bindparam("now"),
    OutboxItem.kind.in_([k.value for k in REDRAWS]),
)
"""A redraw due now (the message clicked) behind one of the same message that waits (to
coalesce, or for room in the budget): the head goes now, drawn once for both."""

_CLAIM = (
    select(OutboxItem, _NEWEST_REDRAW)
    .where(
        OutboxItem.id.in_(_LANE_HEADS),
        OutboxItem.status == PENDING,
        (OutboxItem.next_attempt_at <= bindparam("now")) | _REDRAW_DUE,
        OutboxItem.locked_until.is_(None) | (OutboxItem.locked_until < bindparam("now")),
    )
    .order_by(case((OutboxItem.kind.in_(LOOKED_AT_FIRST), 0), else_=1), OutboxItem.id)
    .limit(bindparam("limit"))
)
_CLAIM_SKIP_LOCKED = _CLAIM.with_for_update(of=OutboxItem, skip_locked=True)
"""PostgreSQL's: two workers' claims pass each other's rows by (SQLite's writers queue on
BEGIN IMMEDIATE instead)."""
_ANY_DUE = (
    select(OutboxItem.id)
    .where(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= bindparam("now"))
    .limit(1)
)
"""SQLite's idle poll: a read, so that no write lock is taken every second for nothing."""
_PAYLOADS = select(OutboxItem.id, OutboxItem.payload).where(
    OutboxItem.id.in_(bindparam("ids", expanding=True))
)
_LEASE = (
    update(OutboxItem)
    .where(OutboxItem.id.in_(bindparam("ids", expanding=True)))
    .values(locked_by=bindparam("worker"), locked_until=bindparam("lease_until"))
)
_HEADS_DUE = (
    select(OutboxItem.next_attempt_at, OutboxItem.locked_until)
    .where(
        OutboxItem.id.in_(_LANE_HEADS),
        OutboxItem.status == PENDING,
        OutboxItem.next_attempt_at <= bindparam("until"),
    )
    .order_by(OutboxItem.next_attempt_at)
    .limit(100)
)
"""`next_due`'s: lane heads due by `until`."""


class Outbox:
    """Claiming, completing and rescheduling items in the database."""

    def __init__(self, db: Database, clock: Clock, *, rate_limits: bool = True) -> None:
        self.db = db
        self.clock = clock
        self.rate_limits = rate_limits
        """Spend the rate budgets (bot.delivery.budget) before each call: off only where the
        Slack called has no limits."""
        self.soonest: datetime | None = None
        """When the earliest item the last claim held back for a rate limit falls due."""

    def claim(self, worker: str, limit: int = 20) -> list[Claimed]:
        """Lease the first due item of up to `limit` lanes that no other worker holds, with the
        later redraws of the same lane and kind (they add nothing to the one delivered)."""
        now = self.clock.now()
        if self.db.is_sqlite:  # an idle poll stays a read: no write lock taken every second
            with self.db.read() as s:
                if s.scalar(_ANY_DUE, {"now": now}) is None:
                    return []
        query = _CLAIM if self.db.is_sqlite else _CLAIM_SKIP_LOCKED
        with self.db.transaction() as s:
            found = s.execute(query, {"now": now, "limit": limit}).all()
            rows = [(row, upto or row.id) for row, upto in found]
            # The payloads of the later redraws delivered in their heads' place.
            collapsed = [upto for row, upto in rows if upto != row.id]
            payloads: dict[int, Any] = {row.id: row.payload for row, _ in rows}
            if collapsed:
                found = s.execute(_PAYLOADS, {"ids": collapsed}).all()
                payloads.update((i, payload) for i, payload in found)
            # Within Slack's rate limits: what does not fit waits, its lane with it. A redraw is
            # urgent when its head or the one delivered in its place is.
            asks = [
                budget.Ask(
                    row.id,
                    row.workspace_id,
                    METHODS[Kind(row.kind)],
                    Kind(row.kind) in URGENT
                    or any((payloads[i] or {}).get("urgent") for i in (row.id, upto)),
                )
                for row, upto in rows
                if row.workspace_id is not None and self.rate_limits
            ]
            wait = budget.take(s, asks, now)
            for row, _ in rows:
                if row.id in wait:
                    row.next_attempt_at = wait[row.id]
            self.soonest = min(wait.values(), default=None)
            claimed = [
                self._claimed(row, upto, payloads[upto] or row.payload)
                for row, upto in rows
                if row.id not in wait
            ]
            if claimed:  # Core, on the connection: the rows read need no synchronising
                s.connection().execute(
                    _LEASE,
                    {"ids": [c.id for c in claimed], "worker": worker, "lease_until": now + LEASE},
                )
        return claimed

    @staticmethod
    def _claimed(row: OutboxItem, upto: int, payload: dict[str, Any]) -> Claimed:
        """`row` leased, to be delivered with `payload` (that of `upto`, the newest redraw of
        its lane, when there is a later one)."""
        return Claimed(
            row.id,
            row.workspace_id,
            Kind(row.kind),
            Lane.parse(row.lane),
            dict(payload),
            row.attempts,
            upto,
            Failure(row.last_failure) if row.last_failure else None,
            row.created_at,
            # Completing, rescheduling and releasing an item all clear its lease: one still set
            # was left by a worker that stopped without doing any of them.
            taken_over=row.locked_until is not None,
        )

    def complete(self, items: Sequence[Claimed]) -> None:
        """Delivered items done, in one transaction."""
        with self.db.transaction() as s:
            mark_all_done(s, items, self.clock.now())

    def would_set_aside(self, item: Claimed, retry: Retry) -> bool:
        """Whether rescheduling after this failure sets the item aside."""
        return retry.failure in COUNTED and item.attempts + 1 >= SET_ASIDE_AFTER

    def reschedule(self, item: Claimed, retry: Retry, *, may_set_aside: bool = True) -> bool:
        """Try again later, as its failure says; False when it is set aside instead (unless
        `may_set_aside` is False: Slack refuses everything, so the item is not at fault)."""
        attempts = item.attempts + 1
        delay = retry.delay
        if delay is None:
            backoff = min(MAX_BACKOFF, 2.0 ** min(attempts, 12)) * random.uniform(0.5, 1.0)
            delay = {
                Failure.UNCLEAR: max(backoff, UNCLEAR_RETRY_DELAY),
                Failure.AUTH: AUTH_HOLD,
            }.get(retry.failure, backoff)
        set_aside = may_set_aside and self.would_set_aside(item, retry)
        with self.db.transaction() as s:
            if retry.failure is Failure.RATE_LIMITED and item.workspace_id is not None:
                until = self.clock.now() + timedelta(seconds=delay)
                budget.refused(s, item.workspace_id, METHODS[item.kind], until)
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    attempts=attempts,
                    status=FAILED if set_aside else PENDING,
                    next_attempt_at=self.clock.now() + timedelta(seconds=delay),
                    locked_by=None,
                    locked_until=None,
                    last_error=str(retry)[:2000],
                    last_failure=retry.failure.value,
                    done_at=self.clock.now() if set_aside else None,
                )
            )
        return not set_aside

    def fail(self, item: Claimed, reason: str) -> None:
        """Never deliverable: keep it, marked failed, for the operator."""
        with self.db.transaction() as s:
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    status=FAILED,
                    attempts=item.attempts + 1,
                    last_error=reason[:2000],
                    last_failure=Failure.REFUSED.value,
                    locked_by=None,
                    locked_until=None,
                    done_at=self.clock.now(),
                )
            )

    def renew(self, worker: str, ids: list[int]) -> None:
        """Extend `worker`'s lease of these items (those still pending and still its own)."""
        with self.db.transaction() as s:
            s.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id.in_(ids),
                    OutboxItem.locked_by == worker,
                    OutboxItem.status == PENDING,
                )
                .values(locked_until=self.clock.now() + LEASE)
            )

    def release(self, item: Claimed) -> None:
        """Give an unstarted item back (shutting down)."""
        with self.db.transaction() as s:
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.status == PENDING)
                .values(locked_by=None, locked_until=None)
            )

    def next_due(self, within: timedelta) -> datetime | None:
        """When the next item could be delivered (the head of its lane, due and not leased),
        if that is within `within` from now."""
        now = self.clock.now()
        with self.db.read() as s:
            heads = s.execute(_HEADS_DUE, {"until": now + within}).all()
        times = [max(due, lease) if lease is not None else due for due, lease in heads]
        soonest = min(times, default=None)
        return soonest if soonest is not None and soonest <= now + within else None


@dataclass(frozen=True)
class Health:
    """What an operator should know of the outbox (`orders-bot doctor`)."""

    waiting: int
    held_by_token: dict[str, int]
    """Items waiting because Slack refuses a workspace's token, by team id."""
    set_aside: int
    """Items given up on in the last week (Slack refused them every time, or for good)."""


def health(db: Database, now: datetime) -> Health:
    """The outbox as an operator should see it."""
    from orders_core.models import Workspace

    with db.read() as s:
        waiting = s.scalar(select(func.count()).where(OutboxItem.status == PENDING)) or 0
        held = s.execute(
            select(Workspace.team_id, func.count())
            .select_from(OutboxItem)
            .join(Workspace, Workspace.id == OutboxItem.workspace_id)
            .where(OutboxItem.status == PENDING, OutboxItem.last_failure == Failure.AUTH.value)
            .group_by(Workspace.team_id)
        ).all()
        set_aside = s.scalar(
            select(func.count()).where(
                OutboxItem.status == FAILED, OutboxItem.done_at >= now - timedelta(days=7)
            )
        )
    return Health(int(waiting), {team: int(n) for team, n in held}, int(set_aside or 0))


def mark_done(s: Session, item: Claimed, now: datetime) -> None:
    """Mark a delivered item done in `s` (a delivery's own transaction may do it, as it records
    what it posted): see mark_all_done."""
    mark_all_done(s, [item], now)


def mark_all_done(s: Session, items: Sequence[Claimed], now: datetime) -> None:
    """Mark delivered items done in `s`, each with the redraws of its lane it made redundant,
    in one statement; on a paced lane, the next item spaced out (only the next: the ones
    after it follow it in turn)."""
    if not items:
        return
    for item in items:
        if item.lane.paced:
            following = (
                select(func.min(OutboxItem.id))
                .where(
                    OutboxItem.lane == str(item.lane),
                    OutboxItem.status == PENDING,
                    OutboxItem.id > item.collapse_upto,
                )
                .scalar_subquery()
            )
            s.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == following,
                    OutboxItem.next_attempt_at < now + CHANNEL_SPACING,
                )
                .values(next_attempt_at=now + CHANNEL_SPACING)
            )
    s.execute(
        update(OutboxItem)
        .where(
            OutboxItem.status == PENDING,
            or_(
                *(
                    and_(
                        OutboxItem.lane == str(item.lane),
                        OutboxItem.kind == item.kind.value,
                        OutboxItem.id.between(item.id, item.collapse_upto),
                    )
                    for item in items
                )
            ),
        )
        .values(status=DONE, done_at=now, locked_by=None, locked_until=None)
    )
    for item in items:
        item.completed = True


Deliver = Callable[[Claimed], None]


class OutboxWorker:
    """A background thread that delivers the outbox; `wake()` after a commit makes it go at once.

    A batch holds the head of each of its lanes, one item per lane, so they go in parallel on
    `threads` threads: one slow answer from Slack holds up no other lane.
    """

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        *,
        idle_seconds: float = 1.0,
        batch: int = 20,
        threads: int = 4,
        renew_every: float = RENEW_EVERY,
        slack_answers: Callable[[Claimed], bool] = lambda item: True,
    ) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.slack_answers = slack_answers
        """Whether Slack answers at all now (asked before an item is set aside)."""
        self.idle_seconds = idle_seconds
        self.batch = batch
        self.threads = threads
        self.renew_every = renew_every
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._pool: ThreadPoolExecutor | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._batch = threading.Lock()
        self._in_hand: set[int] = set()
        self._renewing: threading.Thread | None = None
        self._hands = threading.Lock()

    def wake(self) -> None:
        """Something was committed: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start delivering in the background."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the items in hand, then stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database may be briefly unreachable: keep the thread alive
                log.exception("outbox: claiming failed; retrying shortly")
                worked = 0
            if not worked:
                idle = self.idle_seconds
                if self.outbox.soonest is not None:  # held back for a rate limit: due sooner
                    until = (self.outbox.soonest - self.outbox.clock.now()).total_seconds()
                    idle = min(idle, max(0.01, until))
                self._wake.wait(idle)
                self._wake.clear()

    def run_once(self) -> int:
        """Claim and deliver one batch; how many items were handled."""
        with self._batch:  # one batch at a time per process: drain() waits for the thread's
            items = self.outbox.claim(self.name, self.batch)
            with self._holding(items):
                if len(items) > 1 and self.threads > 1:
                    done = list(self._threads().map(self._deliver_unless_stopping, items))
                else:
                    done = [self._deliver_unless_stopping(item) for item in items]
                delivered = [item for item, ok in zip(items, done, strict=True) if ok]
                if delivered:
                    self.outbox.complete(delivered)
            return len(items)

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is due (tests, the console, a one-off command); True if emptied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run_once():
                return True
        return False

    @contextmanager
    def _holding(self, items: list[Claimed]) -> Iterator[None]:
        """Keep the leases of `items` renewed while the block runs."""
        ids = {item.id for item in items}
        with self._hands:
            self._in_hand |= ids
            if ids and self._renewing is None:
                self._renewing = threading.Thread(
                    target=self._renew_leases, name="outbox-leases", daemon=True
                )
                self._renewing.start()
        try:
            yield
        finally:
            with self._hands:
                self._in_hand -= ids

    def _renew_leases(self) -> None:
        """Renew the leases of the items in hand every `renew_every` seconds; end once none is
        (the next claim starts another)."""
        while True:
            time.sleep(self.renew_every)
            with self._hands:
                ids = sorted(self._in_hand)
                if not ids:
                    self._renewing = None
                    return
            try:
                self.outbox.renew(self.name, ids)
            except Exception:  # the database may be briefly unreachable: try again next round
                log.warning("outbox: renewing %d leases failed", len(ids), exc_info=True)

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="outbox-delivery")
        return self._pool

    def _deliver_unless_stopping(self, item: Claimed) -> bool:
        """Deliver (or reschedule, or fail) one item; True when delivered and still to be marked
        done. Stopping, an item not yet started goes back for another worker."""
        if self._stop.is_set() and self._thread is not None:
            self.outbox.release(item)
            return False
        with log_context(kind=item.kind.value, lane=str(item.lane)):
            try:
                self.deliver(item)
            except Exception as exc:
                self._failed(item, exc)
                return False
        return not item.completed

    def _failed(self, item: Claimed, exc: Exception) -> None:
        verdict = classify(exc)
        if not isinstance(exc, Retry | Permanent | SlackApiError | OSError):
            log.exception("outbox: unexpected error delivering %s %s", item.kind, item.lane)
        if isinstance(verdict, Permanent):
            log.warning("outbox: %s %s failed for good: %s", item.kind, item.lane, verdict)
            self.outbox.fail(item, str(verdict))
        elif self.outbox.reschedule(
            item,
            verdict,
            # An item Slack refuses while answering the rest is at fault; in an outage, none is.
            may_set_aside=not self.outbox.would_set_aside(item, verdict)
            or self.slack_answers(item),
        ):
            level = logging.WARNING if verdict.failure is Failure.AUTH else logging.INFO
            log.log(level, "outbox: %s %s held for a retry (%s)", item.kind, item.lane, verdict)
        else:
            log.warning(
                "outbox: %s %s set aside after %d tries (%s); its lane moves on",
                item.kind,
                item.lane,
                item.attempts + 1,
                verdict,
            )
