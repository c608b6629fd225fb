"""The notification outbox: Slack side effects written with the change, delivered by a worker.

A state change and every message it must update are committed in one transaction; a worker
thread (one per process, any number of processes) then claims due items and delivers them, with
retries and backoff, honouring 429 Retry-After. Items of one lane (one message, one channel,
one Home tab, one response_url) go one at a time and in order; redraws render the state at
delivery time, so several pending redraws of one message collapse into one.
"""

from __future__ import annotations

import functools
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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy import and_, bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from bot.clock import Clock
from bot.logs import log_context
from orders_core.db import Database
from orders_core.models import OutboxItem

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
LEASE = timedelta(seconds=6)
"""How long a claim keeps other workers off an item. The claiming process renews it every
RENEW_EVERY seconds while the item is in its hands, however long Slack takes; the lease of a
process that died lapses, and another worker takes the item over, within LEASE."""
RENEW_EVERY = LEASE.total_seconds() / 4
MAX_ATTEMPTS = 40
MAX_BACKOFF = 300.0

# Slack errors that mean "try again later"; any other error is final for that item.
RETRYABLE_ERRORS = frozenset(
    {
        "ratelimited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
PACED_LANES = ("chan:", "dm:")
CHANNEL_SPACING = timedelta(seconds=1)
# Redraws render the current state when delivered: pending ones of a lane collapse into one.
COLLAPSIBLE = frozenset({"refresh_message", "respond", "view_refresh", "home_refresh"})
SAME_BY_LANE = frozenset({"refresh_message", "home_refresh"})
"""Redraws whose lane says everything: queued twice in one transaction, they are queued once."""


UNCLEAR_RETRY_DELAY = 60.0
CLEAR_FAILURES = ("slack ", "rate limited", "response_url answered")
"""How last_error starts when Slack answered that it did nothing (see classify)."""


class Retry(Exception):
    """Deliver this item again after `delay` seconds."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class Permanent(Exception):
    """This item can never be delivered (the message is gone, the bot left the channel)."""


@dataclass
class Claimed:
    """An item this worker holds the lease of."""

    id: int
    workspace_id: int | None
    kind: str
    lane: str
    payload: dict[str, Any]
    attempts: int
    collapse_upto: int
    last_error: str | None = None
    created_at: datetime | None = None
    completed: bool = False
    """Marked done by its delivery, in the transaction that recorded what it posted."""
    taken_over: bool = False
    """Claimed from a worker whose lease lapsed (its process died, maybe mid-delivery)."""

    @property
    def may_have_landed(self) -> bool:
        """An earlier try ended without a clear answer (a timeout, a dropped connection), or
        its worker died with it in hand."""
        unclear = self.attempts > 0 and not (self.last_error or "").startswith(CLEAR_FAILURES)
        return unclear or self.taken_over


Deliver = Callable[[Claimed], None]


def enqueue(
    session: Session,
    *,
    kind: str,
    lane: str,
    payload: Mapping[str, Any],
    now: datetime,
    workspace_id: int | None = None,
) -> None:
    """Add a side effect to the caller's transaction."""
    row = _row(session, Queued(kind, lane, payload, workspace_id), now)
    if row is None:
        return  # this transaction queued the very same redraw already
    # A plain INSERT, run now: no ORM object to track, and its id is known at once.
    item_id = session.connection().execute(_INSERT, row).scalar_one()
    session.info.setdefault(_QUEUED, []).append(item_id)


@dataclass(frozen=True)
class Queued:
    """One item for `enqueue_many`."""

    kind: str
    lane: str
    payload: Mapping[str, Any]
    workspace_id: int | None = None


def enqueue_many(session: Session, items: Sequence[Queued], *, now: datetime) -> None:
    """`enqueue` for several items, in one statement (a sweep queues its digests 25 at once)."""
    rows = [row for item in items if (row := _row(session, item, now)) is not None]
    if not rows:
        return
    # One statement however many rows (SQLAlchemy's "insertmanyvalues"), ids returned.
    ids = session.connection().execute(_INSERT, rows).scalars().all()
    session.info.setdefault(_QUEUED, []).extend(ids)


def _row(session: Session, item: Queued, now: datetime) -> dict[str, Any] | None:
    """The outbox row of an item; None for a redraw this transaction has queued already."""
    if item.kind in SAME_BY_LANE:
        seen: set[tuple[str, str]] = session.info.setdefault(_SEEN, set())
        if (item.kind, item.lane) in seen:
            return None
        seen.add((item.kind, item.lane))
    return {
        "workspace_id": item.workspace_id,
        "kind": item.kind,
        "lane": item.lane,
        "payload": dict(item.payload),
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


_QUEUED = "outbox_items"
_INSERT = insert(OutboxItem).returning(OutboxItem.id)
_SEEN = "outbox_redraws"


def queued_ids(session: Session) -> list[int]:
    """The ids of the items this transaction has queued so far."""
    return list(session.info.get(_QUEUED, []))


def classify(exc: BaseException) -> Retry | Permanent:
    """Turn a Slack or network failure into a retry (with Slack's Retry-After) or a final failure."""
    if isinstance(exc, Retry | Permanent):
        return exc
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = str(exc.response.get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429:
            after = exc.response.headers.get("Retry-After") or exc.response.headers.get(
                "retry-after"
            )
            return Retry("rate limited", float(after[0] if isinstance(after, list) else after or 1))
        if status >= 500 or error in RETRYABLE_ERRORS:
            return Retry(f"slack {status} {error}".strip())
        return Permanent(error or f"slack {status}")
    # Network trouble (timeouts, refused connections) and anything unexpected: try again later.
    return Retry(f"{exc.__class__.__name__}: {exc}")


_ANY_DUE = (
    select(OutboxItem.id)
    .where(OutboxItem.status == PENDING, OutboxItem.next_attempt_at <= bindparam("now"))
    .limit(1)
)
_NEWEST_OF_KIND = (
    select(OutboxItem.id)
    .where(
        OutboxItem.lane == bindparam("lane"),
        OutboxItem.status == PENDING,
        OutboxItem.kind == bindparam("kind"),
    )
    .order_by(OutboxItem.id.desc())
    .limit(1)
)
_LEASE = (
    update(OutboxItem)
    .where(OutboxItem.id.in_(bindparam("ids", expanding=True)))
    .values(locked_by=bindparam("worker"), locked_until=bindparam("until"))
)
_RENEW = (
    update(OutboxItem)
    .where(
        OutboxItem.id.in_(bindparam("ids", expanding=True)),
        OutboxItem.locked_by == bindparam("worker"),
        OutboxItem.status == PENDING,
    )
    .values(locked_until=bindparam("until"))
)


def _lane_head() -> Any:
    """The item is the first pending one of its lane (the lane's next to go)."""
    earlier = aliased(OutboxItem)
    return ~exists().where(
        and_(
            earlier.lane == OutboxItem.lane,
            earlier.status == PENDING,
            earlier.id < OutboxItem.id,
        )
    )


@functools.cache
def _claim_query(only: bool, skip_locked: bool, limit: int) -> Any:
    """The head item of each free lane that is due (`only`: of the ids given), oldest first."""
    now: Any = bindparam("now")
    query = (
        select(
            OutboxItem.id,
            OutboxItem.workspace_id,
            OutboxItem.kind,
            OutboxItem.lane,
            OutboxItem.payload,
            OutboxItem.attempts,
            OutboxItem.last_error,
            OutboxItem.created_at,
            OutboxItem.locked_until,
        )
        .where(
            OutboxItem.status == PENDING,
            OutboxItem.next_attempt_at <= now,
            (OutboxItem.locked_until.is_(None)) | (OutboxItem.locked_until < now),
            _lane_head(),
        )
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    if only:
        query = query.where(OutboxItem.id.in_(bindparam("only", expanding=True)))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=OutboxItem)
    return query


def _lease(
    connection: Any,
    query: Any,
    params: dict[str, Any],
    worker: str,
    now: datetime,
    *,
    collapse: bool = True,
) -> list[Claimed]:
    """Run a claim query and lease what it found to `worker`.

    `collapse`: also take the later redraws of the same lane and kind (they add nothing to the
    one delivered first). Items just queued are the newest of their lanes: nothing to look for.
    """
    claimed: list[Claimed] = []
    for row in connection.execute(query, params).all():
        upto = row.id
        if collapse and row.kind in COLLAPSIBLE:
            upto = (
                connection.scalar(_NEWEST_OF_KIND, {"lane": row.lane, "kind": row.kind}) or row.id
            )
        claimed.append(
            Claimed(
                row.id,
                row.workspace_id,
                row.kind,
                row.lane,
                dict(row.payload),
                row.attempts,
                upto,
                row.last_error,
                row.created_at,
                # Completing, rescheduling and releasing an item all clear its lease: one still
                # set was left by a worker that stopped without doing any of them.
                taken_over=row.locked_until is not None,
            )
        )
    if claimed:
        connection.execute(
            _LEASE, {"ids": [c.id for c in claimed], "worker": worker, "until": now + LEASE}
        )
    return claimed


class Outbox:
    """Claiming, completing and rescheduling items in the database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def claim(self, worker: str, limit: int = 20) -> list[Claimed]:
        """Lease the first due item of up to `limit` lanes that no other worker holds."""
        now = self.clock.now()
        with self.db.read() as s:  # idle polls stay reads: no write lock taken every second
            if s.connection().scalar(_ANY_DUE, {"now": now}) is None:
                return []
        query = _claim_query(False, not self.db.is_sqlite, limit)
        with self.db.transaction() as s:
            return _lease(s.connection(), query, {"now": now}, worker, now)

    def claim_queued(self, session: Session, worker: str) -> list[Claimed]:
        """Claim, in `session`, the items it has queued (see OutboxWorker.claim_queued)."""
        ids = queued_ids(session)
        if not ids:
            return []
        now = self.clock.now()
        query = _claim_query(True, not self.db.is_sqlite, len(ids))
        return _lease(
            session.connection(), query, {"now": now, "only": ids}, worker, now, collapse=False
        )

    def complete_many(self, items: list[Claimed]) -> None:
        """Several delivered items done, in one transaction."""
        now = self.clock.now()
        with self.db.transaction() as s:
            for item in items:
                mark_done(s, item, now)

    def reschedule(self, item: Claimed, reason: str, delay: float | None) -> bool:
        """Try again later (exponential backoff, or Slack's Retry-After); False once given up."""
        attempts = item.attempts + 1
        if delay is None:
            delay = min(MAX_BACKOFF, 2.0 ** min(attempts, 12)) * random.uniform(0.5, 1.0)
        if not reason.startswith(CLEAR_FAILURES):
            # No answer: Slack may still be carrying the request out. Look again only once it
            # surely has, so the retry finds a post that landed instead of posting it twice.
            delay = max(delay, UNCLEAR_RETRY_DELAY)
        give_up = attempts >= MAX_ATTEMPTS
        with self.db.transaction() as s:
            s.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id)
                .values(
                    attempts=attempts,
                    status=FAILED if give_up else PENDING,
                    next_attempt_at=self.clock.now() + timedelta(seconds=delay),
                    locked_by=None,
                    locked_until=None,
                    last_error=reason[:2000],
                )
            )
        return not give_up

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
                    locked_by=None,
                    locked_until=None,
                    done_at=self.clock.now(),
                )
            )

    def renew(self, worker: str, ids: list[int]) -> None:
        """Extend `worker`'s lease of these items (those still pending and still its own)."""
        until = self.clock.now() + LEASE
        with self.db.transaction() as s:
            s.connection().execute(_RENEW, {"ids": ids, "worker": worker, "until": until})

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
            heads = s.execute(
                select(OutboxItem.next_attempt_at, OutboxItem.locked_until)
                .where(
                    OutboxItem.status == PENDING,
                    OutboxItem.next_attempt_at <= now + within,
                    _lane_head(),
                )
                .order_by(OutboxItem.next_attempt_at)
                .limit(100)
            ).all()
        times = [max(due, lease) if lease is not None else due for due, lease in heads]
        soonest = min(times, default=None)
        return soonest if soonest is not None and soonest <= now + within else None


_SPACE_NEXT = (
    update(OutboxItem)
    .where(
        OutboxItem.id
        == select(func.min(OutboxItem.id))
        .where(
            OutboxItem.lane == bindparam("b_lane"),
            OutboxItem.status == PENDING,
            OutboxItem.id > bindparam("b_upto"),
        )
        .scalar_subquery(),
        OutboxItem.next_attempt_at < bindparam("b_at"),
    )
    .values(next_attempt_at=bindparam("b_at"))
)
"""On a paced lane, the next item waits for the channel's spacing."""
_MARK_DONE = (
    update(OutboxItem)
    .where(
        OutboxItem.lane == bindparam("b_lane"),
        OutboxItem.status == PENDING,
        OutboxItem.kind == bindparam("b_kind"),
        OutboxItem.id >= bindparam("b_first"),
        OutboxItem.id <= bindparam("b_upto"),
    )
    .values(status=DONE, done_at=bindparam("b_now"), locked_by=None, locked_until=None)
)
"""The item done, and the redraws of its lane it made redundant with it."""


def done_statements(item: Claimed, now: datetime) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The statements that mark `item` done (on a paced lane, spacing out the next item first),
    and their parameters: a caller may also write them into a statement of its own."""
    params = {
        "b_lane": item.lane,
        "b_kind": item.kind,
        "b_first": item.id,
        "b_upto": item.collapse_upto,
        "b_now": now,
        "b_at": now + CHANNEL_SPACING,
    }
    # Slack allows about one message per second per channel: on a paced lane the next item is
    # spaced out (only the next: the ones after it follow it in turn).
    paced = item.lane.startswith(PACED_LANES)
    return ((_SPACE_NEXT, _MARK_DONE) if paced else (_MARK_DONE,)), params


def mark_done(s: Session, item: Claimed, now: datetime) -> None:
    """Mark a delivered item done in `s` (a delivery's own transaction may do it, saving one).

    The redraws of its lane it made redundant are done with it; on a paced lane, the next item
    is spaced out.
    """
    statements, params = done_statements(item, now)
    connection = s.connection()
    for statement in statements:
        connection.execute(statement, params)
    item.completed = True


class OutboxWorker:
    """A background thread that delivers the outbox; `wake()` after a commit makes it go at once."""

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        *,
        idle_seconds: float = 1.0,
        batch: int = 20,
        threads: int = 4,
        renew_every: float = RENEW_EVERY,
    ) -> None:
        self.outbox = outbox
        self.deliver = deliver
        self.idle_seconds = idle_seconds
        self.batch = batch
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.delivering = threading.Lock()
        self.remote_wake: Callable[[], None] | None = None
        """Set where another process delivers this one's commits (LISTENER_PROCESSES)."""
        self.renew_every = renew_every
        self._in_hand: set[int] = set()
        self._renewing: threading.Thread | None = None
        self._hands = threading.Lock()

    def wake(self) -> None:
        """Something was committed: look now instead of at the next poll."""
        self._wake.set()
        if self.remote_wake is not None:
            self.remote_wake()

    def start(self) -> None:
        """Start delivering in the background."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="outbox-worker", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the item in hand, then stop."""
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
                self._wake.wait(self.idle_seconds)
                self._wake.clear()

    def run_once(self) -> int:
        """Claim and deliver one batch; how many items were handled."""
        with self.delivering:  # one batch at a time per process: drain() waits for the thread's
            items = self.outbox.claim(self.name, self.batch)
            with self._holding(items):
                if self._stop.is_set():
                    # Shutting down: leave all but one for another worker.
                    for item in items[1:]:
                        self.outbox.release(item)
                    items = items[:1]
                if len(items) > 1 and self.threads > 1:
                    # A batch holds the head of each of its lanes, one item per lane, so they
                    # may go in parallel: one slow answer from Slack does not hold up the others.
                    done = list(self._threads().map(self._deliver_unless_stopping, items))
                else:
                    done = [self._deliver_one(item) for item in items]
                self._complete([item for item, ok in zip(items, done, strict=True) if ok])
            return len(items)

    @contextmanager
    def _holding(self, items: list[Claimed]) -> Iterator[None]:
        """Keep the leases of `items` renewed while the block runs."""
        if not items:
            yield
            return
        ids = {item.id for item in items}
        with self._hands:
            self._in_hand |= ids
            if self._renewing is None:
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

    def _complete(self, items: list[Claimed]) -> None:
        """Mark delivered items done, all in one transaction."""
        if items:
            self.outbox.complete_many(items)

    def _deliver_unless_stopping(self, item: Claimed) -> bool:
        if self._stop.is_set():
            self.outbox.release(item)  # shutting down mid-batch: another worker will take it
            return False
        return self._deliver_one(item)

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="outbox-delivery")
        return self._pool

    def _deliver_one(self, item: Claimed) -> bool:
        """Deliver (or reschedule, or fail) one item; True when it is delivered and still to be
        marked done."""
        with log_context(kind=item.kind, lane=item.lane):
            return self._deliver_logged(item)

    def _deliver_logged(self, item: Claimed) -> bool:
        try:
            self.deliver(item)
        except Exception as exc:
            verdict = classify(exc)
            if not isinstance(exc, Retry | Permanent | SlackApiError | OSError):
                log.exception("outbox: unexpected error delivering %s %s", item.kind, item.lane)
            if isinstance(verdict, Permanent):
                log.warning("outbox: %s %s failed for good: %s", item.kind, item.lane, verdict)
                self.outbox.fail(item, str(verdict))
            else:
                kept = self.outbox.reschedule(item, str(verdict), verdict.delay)
                log.info(
                    "outbox: %s %s will be retried (%s)%s",
                    item.kind,
                    item.lane,
                    verdict,
                    "" if kept else ": gave up",
                )
            return False
        return not item.completed

    def claim_queued(self, session: Session) -> list[Claimed]:
        """Lease, inside the transaction that queued them, the items it queued whose lanes are
        free: committed together with the change, they are this thread's to deliver at once
        (`deliver_claimed`), and no other worker can take them meanwhile."""
        return self.outbox.claim_queued(session, self.name)

    def deliver_claimed(self, items: list[Claimed]) -> int:
        """Deliver items this thread claimed (after their transaction committed)."""
        with self._holding(items):
            done = [self._deliver_one(item) for item in items]
            self._complete([item for item, ok in zip(items, done, strict=True) if ok])
        return len(items)

    def drain(self, timeout: float = 10.0) -> bool:
        """Deliver until nothing is due (tests, the console, shutdown); True if emptied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.run_once():
                return True
        return False
