"""The actions on service orders and the queries over them.

Each function does its work inside the session it is given; the caller owns the unit of work
(`with db.transaction() as session:`) and so decides what else commits with it (the Slack
layer adds its notifications to the same transaction).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    column,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from orders_core import errors
from orders_core.lifecycle import (
    MAX_REASON_LENGTH,
    TRANSITIONS,
    Action,
    EventSource,
    Note,
    OrderStatus,
    Party,
    ReasonRule,
    ServiceStatus,
    Transition,
    rule_for_action,
    transition_for,
)
from orders_core.models import (
    EventFile,
    Member,
    Order,
    OrderEvent,
    OrderText,
    PartyOrg,
    Service,
    StringTuple,
    Workspace,
    utcnow,
)
from orders_core.names import search_document, search_key
from orders_core.text import clean, is_blank, trim

NUMBER_PREFIX = "SO-"
NUMBER_WIDTH = 6
MAX_NUMBER_DIGITS = 12
MAX_FILES = 10

# --------------------------------------------------------------------------------------------
# Read models: what the adapters get back (plain frozen data, usable after the session closed).


@dataclass(frozen=True)
class Caller:
    """A member acting in a workspace: who they are and which party they act for."""

    workspace_id: int
    team_id: str
    user_id: str
    party_id: int
    party: Party
    party_name: str
    party_channel_id: str | None

    @property
    def ref(self) -> PartyRef:
        """The caller's party, for scoping queries to what it may see."""
        return PartyRef(self.party_id, self.party, self.workspace_id)


@dataclass(frozen=True)
class PartyRef:
    """A party, for scoping queries to what it may see."""

    id: int
    kind: Party
    workspace_id: int


@dataclass(frozen=True)
class AttachedFile:
    """A Slack file attached to an action (a build, a screenshot)."""

    slack_file_id: str
    name: str
    mimetype: str = ""
    size: int = 0
    permalink: str = ""


@dataclass(frozen=True)
class OrderView:
    """An order with the names it is shown with."""

    id: int
    workspace_id: int
    number: int
    service_id: int
    service_name: str
    merchant_id: int
    merchant_name: str
    merchant_channel_id: str | None
    provider_id: int
    provider_name: str
    provider_channel_id: str | None
    mini_program: str
    apps: tuple[str, ...]
    contact_name: str
    contact: str
    requirements: str
    status: OrderStatus
    version: int
    placed_by: str
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime

    @property
    def code(self) -> str:
        """The order number people type: SO-000123."""
        return format_order_number(self.number)

    def party_id(self, party: Party) -> int:
        """The id of the order's merchant or provider."""
        return self.merchant_id if party is Party.MERCHANT else self.provider_id

    def party_name(self, party: Party) -> str:
        """The name of the order's merchant or provider."""
        return self.merchant_name if party is Party.MERCHANT else self.provider_name

    def party_channel_id(self, party: Party) -> str | None:
        """The notification channel of the order's merchant or provider."""
        return self.merchant_channel_id if party is Party.MERCHANT else self.provider_channel_id


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an order."""

    id: int
    seq: int
    action: Action | Note
    actor_user_id: str | None
    actor_party: Party | None
    from_status: OrderStatus | None
    to_status: OrderStatus
    reason: str | None
    source: EventSource
    created_at: datetime
    files: tuple[AttachedFile, ...] = ()

    @property
    def past(self) -> str:
        """What happened, in the past tense: "confirmed"."""
        if isinstance(self.action, Note):
            return self.action.past
        t = transition_for(self.from_status, self.action)
        return t.past if t else rule_for_action(self.action).past


@dataclass(frozen=True)
class OrderDetail:
    """An order and its whole timeline, oldest first."""

    order: OrderView
    timeline: tuple[TimelineEntry, ...]


@dataclass(frozen=True)
class ActionOutcome:
    """What an action did: the order after it and its timeline entry.

    `replayed` is True when the same idempotency key had already been applied and nothing new
    was written (a Slack retry, a double click).
    """

    order: OrderView
    entry: TimelineEntry
    replayed: bool = False


@dataclass(frozen=True)
class OrderPage:
    """One page of a list, and the cursor of the next (None on the last page)."""

    orders: tuple[OrderView, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class OrderDraft:
    """What a merchant fills in to order a service."""

    service_id: int
    mini_program: str
    contact_name: str
    contact: str
    apps: tuple[str, ...] = ()
    requirements: str = ""
    number: int | None = field(default=None)
    """Only for fixtures and imports: the order number to use instead of the next one."""


# --------------------------------------------------------------------------------------------
# Order numbers


def format_order_number(number: int) -> str:
    """123 → SO-000123."""
    return f"{NUMBER_PREFIX}{number:0{NUMBER_WIDTH}d}"


_NUMBER_TEXT = re.compile(rf"^\s*(?:so[-\s_]?)?(\d{{1,{MAX_NUMBER_DIGITS}}})\s*$", re.IGNORECASE)


def _number_digits(text: str) -> str | None:
    match = _NUMBER_TEXT.match(text)
    return match.group(1) if match else None


def parse_order_number(text: str) -> int | None:
    """`SO-000123`, `so-123`, `123` → 123; None when the text is not an order number."""
    digits = _number_digits(text)
    return int(digits) if digits is not None else None


def _prefix_ranges(digits: str) -> tuple[tuple[int, int], ...]:
    """The number ranges whose printed form (SO-000123, SO-1234567) starts with `digits`."""
    ranges = []
    for width in range(max(NUMBER_WIDTH, len(digits)), MAX_NUMBER_DIGITS + 1):
        if width > NUMBER_WIDTH and digits.startswith("0"):
            break  # numbers wider than the padding have no leading zeros
        scale = 10 ** (width - len(digits))
        low, high = int(digits) * scale, (int(digits) + 1) * scale - 1
        if width > NUMBER_WIDTH:
            low = max(low, 10 ** (width - 1))
        ranges.append((low, high))
    return tuple(ranges)


# --------------------------------------------------------------------------------------------
# Who is acting


def find_workspace(session: Session, team_id: str) -> Workspace:
    """The onboarded workspace of a Slack team id."""
    workspace = session.scalar(select(Workspace).where(Workspace.team_id == team_id))
    if workspace is None:
        raise errors.WorkspaceNotFound(team_id)
    return workspace


def resolve_caller(session: Session, team_id: str, user_id: str) -> Caller:
    """The member `user_id` of workspace `team_id`, with their party; refuses strangers."""
    row = session.execute(_CALLER, {"team_id": team_id, "user_id": user_id}).first()
    if row is None:
        find_workspace(session, team_id)  # a stranger workspace gets its own explanation
        raise errors.NotAMember(user_id, team_id)
    workspace_id, party_id, kind, name, channel_id = row
    return Caller(workspace_id, team_id, user_id, party_id, kind, name, channel_id)


# Built once, as are _BY_NUMBER and _CARD (a click reads its order, each card redrawn its card):
# built per call, they made a Confirm's own work 6-7 ms of CPU, not 3 (CPU per click <= 1.15 x main).
_CALLER = (
    select(Workspace.id, PartyOrg.id, PartyOrg.kind, PartyOrg.name, PartyOrg.channel_id)
    .join(Member, Member.workspace_id == Workspace.id)
    .join(PartyOrg, PartyOrg.id == Member.party_id)
    .where(Workspace.team_id == bindparam("team_id"), Member.user_id == bindparam("user_id"))
)


# --------------------------------------------------------------------------------------------
# Queries


_MERCHANT = aliased(PartyOrg, name="merchant")
_PROVIDER = aliased(PartyOrg, name="provider")
# Plain columns, labelled as OrderView's fields and in their order: each row is a read model's
# arguments (no ORM objects are loaded for it).
_VIEW_COLUMNS = (
    Order.id,
    Order.workspace_id,
    Order.number,
    Order.service_id,
    Service.name.label("service_name"),
    Order.merchant_id,
    _MERCHANT.name.label("merchant_name"),
    _MERCHANT.channel_id.label("merchant_channel_id"),
    Order.provider_id,
    _PROVIDER.name.label("provider_name"),
    _PROVIDER.channel_id.label("provider_channel_id"),
    Order.mini_program,
    type_coerce(Order.apps, StringTuple()).label("apps"),
    Order.contact_name,
    Order.contact,
    Order.requirements,
    Order.status,
    Order.version,
    Order.placed_by,
    Order.created_at,
    Order.updated_at,
    Order.status_changed_at,
)


_ORDER_VIEWS: Select[*tuple[Any, ...]] = (
    select(*_VIEW_COLUMNS)
    .join(Service, Service.id == Order.service_id)
    .join(_MERCHANT, _MERCHANT.id == Order.merchant_id)
    .join(_PROVIDER, _PROVIDER.id == Order.provider_id)
)
"""The read model's select (a Select is immutable: queries refine copies of it)."""

assert [c.key for c in _VIEW_COLUMNS] == [f.name for f in fields(OrderView)]


def _views(
    session: Session, query: Select[*tuple[Any, ...]], params: dict[str, Any] | None = None
) -> list[OrderView]:
    # The columns are OrderView's fields in order (checked above).
    return [OrderView(*row) for row in session.execute(query, params)]


# Built once and run on the connection: a reminder digest reads its orders so, and building it
# per call, through the ORM, doubled the reminder sweep (1,000 digests, target < 10 s).
_BY_IDS = _ORDER_VIEWS.where(Order.id.in_(bindparam("ids", expanding=True))).order_by(
    Order.id.desc()
)


def _party_column(party: Party) -> Any:
    return Order.merchant_id if party is Party.MERCHANT else Order.provider_id


def _by_number(party_column: Any) -> Select[*tuple[Any, ...]]:
    return _ORDER_VIEWS.where(
        Order.workspace_id == bindparam("workspace_id"),
        Order.number == bindparam("number"),
        party_column == bindparam("party_id"),
    )


# Built once: see _CALLER.
_BY_NUMBER = {
    Party.MERCHANT: _by_number(Order.merchant_id),
    Party.PROVIDER: _by_number(Order.provider_id),
}


def list_orders(
    session: Session,
    party: PartyRef,
    statuses: Collection[OrderStatus] | None = None,
    *,
    cursor: str | None = None,
    limit: int = 10,
    within: tuple[int, int] | None = None,
) -> OrderPage:
    """A party's orders, newest first, optionally only some statuses; one page per call.

    Paginated by keyset: `cursor` is the opaque value of the previous page's `next_cursor`.
    `within` keeps to a stretch of ids (redrawing a page that was shown before).
    """
    after = _decode_cursor(cursor)
    if within is not None:
        after = within[1] + 1 if after is None else min(after, within[1] + 1)
    wanted = sorted(set(statuses or ()))
    if len(wanted) == len(OrderStatus):
        wanted = []
    column = _party_column(party.kind)

    def newest_first(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
        query = query.where(column == party.id)
        if after is not None:
            query = query.where(Order.id < after)
        if within is not None:
            query = query.where(Order.id >= within[0])
        return query.order_by(Order.id.desc()).limit(limit + 1)

    # One statement, one index range scan per status asked for — (party, status, id), or
    # (party, id) for every status — so the first page costs the same at ten orders or a million.
    if len(wanted) <= 1:
        query = newest_first(
            _ORDER_VIEWS.where(Order.status == wanted[0]) if wanted else _ORDER_VIEWS
        )
    else:
        # The newest `limit + 1` ids of each status (a range scan each), then the page of them.
        ids = [
            select(newest_first(select(Order.id).where(Order.status == status)).subquery().c.id)
            for status in wanted
        ]
        query = (
            _ORDER_VIEWS.where(Order.id.in_(union_all(*ids)))
            .order_by(Order.id.desc())
            .limit(limit + 1)
        )
    views = _views(session, query)
    has_more = len(views) > limit
    views = views[:limit]
    return OrderPage(tuple(views), _encode_cursor(views[-1].id) if has_more and views else None)


def waiting_on(
    session: Session, party: PartyRef, *, limit: int = 10, older_than: datetime | None = None
) -> tuple[list[OrderView], int]:
    """The orders whose next action is this party's, oldest in its status first; and how many."""
    statuses = [s for s in OrderStatus if s.waiting_on is party.kind]
    column = _party_column(party.kind)
    where = [column == party.id, Order.status.in_(statuses)]
    if older_than is not None:
        where.append(Order.status_changed_at <= older_than)
    total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
    query = _ORDER_VIEWS.where(*where).order_by(Order.status_changed_at, Order.id).limit(limit)
    return _views(session, query), total


def recently_changed(
    session: Session, party: PartyRef, *, limit: int = 10
) -> list[tuple[OrderView, TimelineEntry]]:
    """The party's orders that changed last, newest first, each with its last timeline entry."""
    query = (
        _ORDER_VIEWS.where(_party_column(party.kind) == party.id)
        .order_by(Order.updated_at.desc(), Order.id.desc())
        .limit(limit)
    )
    orders = _views(session, query)
    last = last_entries(session, [o.id for o in orders])
    return [(o, last[o.id]) for o in orders if o.id in last]


def _encode_cursor(order_id: int) -> str:
    return f"o{order_id}"


def _decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    digits = cursor[1:]
    # Ids are 64-bit: a longer number is no page of ours (and would overflow the database's).
    if not cursor.startswith("o") or not digits.isdigit() or len(digits) > 18:
        raise errors.InvalidInput({"cursor": "That page link is not valid any more: list again."})
    return int(digits)


SEARCH_WORDS = 8
"""At most this many words of a search are looked for (the rest are ignored)."""

_TRIGRAM = 3
"""Both indexes find words of three characters or more; shorter ones are checked row by row."""

# SQLite's FTS5 index of `OrderText.search_text` (migration 0011): not a model, so nothing but the
# migration creates it.
_ORDERS_SEARCH = table("orders_search", column("rowid"), column("search_text"))


def search_orders(
    session: Session,
    party: PartyRef,
    text: str,
    *,
    cursor: str | None = None,
    limit: int = 10,
    statuses: Collection[OrderStatus] | None = None,
) -> OrderPage:
    """The party's orders found by `text`, a page at a time.

    First, on the first page, orders whose number is `text` or starts with it (`123`,
    `SO-0001`), the exact number first; then, newest first, orders whose mini program, merchant,
    provider, contact name or requirements contain every word of it, in any case and with or
    without accents (`lodz` finds `Łódź`, `café` finds `CAFE`).
    """
    words = search_words(text)
    if not words:
        raise errors.InvalidInput(
            {"text": "Search for an order number (123, SO-0001) or words from an order."}
        )
    after = _decode_cursor(cursor)
    digits = _number_digits(text)
    numbered = _number_hits(session, party, digits, limit) if digits is not None else []
    if statuses:
        numbered = [o for o in numbered if o.status in statuses]
    shown = [] if after is not None else numbered
    room = limit - len(shown)
    found = _word_hits(
        session,
        party,
        words,
        before=after,
        skip=[o.id for o in numbered],
        # A page's worth even when numbers left less room: asked for one row, PostgreSQL reads
        # the texts newest first past every other party's (83 ms at 1M orders, not 6).
        limit=limit + 1,
        statuses=statuses,
    )
    hits = found[:room]
    views = shown + (_views(session, _BY_IDS, {"ids": hits}) if hits else [])
    if len(found) <= room:
        return OrderPage(tuple(views), None)
    # Keyset on id, as the lists: the next page starts after the last word hit shown, or at the
    # first one when order numbers filled this page.
    return OrderPage(tuple(views), _encode_cursor(hits[-1] if hits else found[0] + 1))


def search_words(text: str) -> list[str]:
    """The distinct words of a search, folded as orders' text is (`names.search_key`)."""
    return list(dict.fromkeys(search_key(text[:500]).split()))[:SEARCH_WORDS]


def _word_hits(
    session: Session,
    party: PartyRef,
    words: Sequence[str],
    *,
    before: int | None,
    skip: Sequence[int],
    limit: int,
    statuses: Collection[OrderStatus] | None = None,
) -> list[int]:
    """The ids of the party's orders whose text contains every word, newest first."""
    query = (
        select(Order.id)
        .join(OrderText, OrderText.order_id == Order.id)
        .where(
            _party_column(party.kind) == party.id,
            *[OrderText.search_text.contains(word, autoescape=True) for word in words],
        )
    )
    indexed = [word for word in words if len(word) >= _TRIGRAM]
    if indexed and session.connection().dialect.name == "sqlite":
        # Each word a quoted FTS5 phrase: its trigrams in a row, i.e. the word as a substring.
        phrases = " AND ".join('"' + word.replace('"', '""') + '"' for word in indexed)
        query = query.where(
            Order.id.in_(
                select(_ORDERS_SEARCH.c.rowid).where(_ORDERS_SEARCH.c.search_text.match(phrases))
            )
        )
    if before is not None:
        query = query.where(Order.id < before)
    if skip:
        query = query.where(Order.id.not_in(skip))
    if statuses:
        query = query.where(Order.status.in_(list(statuses)))
    return list(session.scalars(query.order_by(Order.id.desc()).limit(limit)))


def _number_hits(session: Session, party: PartyRef, digits: str, limit: int) -> list[OrderView]:
    """The party's orders whose number is `digits` or starts with them: the exact number first,
    then each prefix range in turn, smallest numbers first. Every query is one short range scan
    of (party, number), whatever the number of orders."""
    ranges = _prefix_ranges(digits)
    query = _search_statement(party.kind, len(ranges), limit)
    params = {"party_id": party.id, "exact": int(digits)}
    for k, (low, high) in enumerate(ranges):
        params[f"low_{k}"], params[f"high_{k}"] = low, high
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return _views(session, query, params)
    # PostgreSQL would plan this statement of up to eight range scans afresh on every run (about
    # 2 ms, several times the scans themselves): its generic plan, the same index range scans
    # whatever the numbers, is kept for the prepared statement instead.
    connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    try:
        return _views(session, query, params)
    finally:
        connection.exec_driver_sql("RESET plan_cache_mode")


# Built once per shape: built per call it took 4 ms of CPU, and /orders search's p95 came within
# 3 ms of its 50 ms target (benchmarks/README.md, "Plain SQLAlchemy").
@functools.cache
def _search_statement(kind: Party, ranges: int, limit: int) -> Select[*tuple[Any, ...]]:
    """The exact number, then each prefix range as its own short range scan of (party, number)."""
    column = _party_column(kind)
    exact: Any = bindparam("exact")
    hits = [
        select(Order.id, literal_column("0").label("rank"), Order.number)
        .where(column == bindparam("party_id"), Order.number == exact)
        .subquery()
    ]
    for k in range(ranges):
        in_range: Select[*tuple[Any, ...]] = (
            select(Order.id, literal_column(str(k + 1)).label("rank"), Order.number)
            .where(
                column == bindparam("party_id"),
                Order.number.between(bindparam(f"low_{k}"), bindparam(f"high_{k}")),
                Order.number != exact,
            )
            .order_by(Order.number)
            .limit(limit)
        )
        hits.append(in_range.subquery())
    found = union_all(*[select(h.c.id, h.c.rank, h.c.number) for h in hits]).subquery()
    return (
        _ORDER_VIEWS.join(found, found.c.id == Order.id)
        .order_by(found.c.rank, found.c.number)
        .limit(limit)
    )


def get_order(session: Session, party: PartyRef, number: str | int) -> OrderView:
    """One of the party's orders, by number in any accepted spelling."""
    n = number if isinstance(number, int) else parse_order_number(number)
    if n is None:
        raise errors.OrderNotFound(str(number).strip())
    params = {"workspace_id": party.workspace_id, "number": n, "party_id": party.id}
    views = _views(session, _BY_NUMBER[party.kind], params)
    if not views:
        raise errors.OrderNotFound(format_order_number(n))
    return views[0]


def get_orders(
    session: Session, party: PartyRef, numbers: Collection[int]
) -> tuple[OrderView, ...]:
    """Some of the party's orders by number, newest first (numbers it cannot see are skipped)."""
    if not numbers:
        return ()
    query = _ORDER_VIEWS.where(
        Order.workspace_id == party.workspace_id,
        Order.number.in_(list(numbers)),
        _party_column(party.kind) == party.id,
    ).order_by(Order.id.desc())
    return tuple(_views(session, query))


def get_orders_by_id(session: Session, order_ids: Collection[int]) -> list[OrderView]:
    """Orders by database id, newest first (the bot's bookkeeping, not user input)."""
    if not order_ids:
        return []
    rows = session.connection().execute(_BY_IDS, {"ids": list(order_ids)})
    return [OrderView(*row) for row in rows]


def get_order_by_id(session: Session, order_id: int) -> OrderView:
    """One order by its database id (for the bot's own bookkeeping, not for user input)."""
    views = _views(session, _ORDER_VIEWS.where(Order.id == order_id))
    if not views:
        raise errors.OrderNotFound(f"#{order_id}")
    return views[0]


def timeline(session: Session, order_id: int) -> tuple[TimelineEntry, ...]:
    """Every entry of an order's timeline, oldest first, with their files."""
    events = session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.seq)
    ).all()
    files: dict[int, list[AttachedFile]] = {}
    if events:
        for f in session.scalars(
            select(EventFile)
            .where(EventFile.event_id.in_([e.id for e in events]))
            .order_by(EventFile.id)
        ):
            files.setdefault(f.event_id, []).append(_to_file(f))
    return tuple(_to_entry(e, files.get(e.id, [])) for e in events)


def last_entries(session: Session, order_ids: Collection[int]) -> dict[int, TimelineEntry]:
    """The newest timeline entry of each order, in one query (for lists and cards)."""
    if not order_ids:
        return {}
    newest = (
        select(OrderEvent.order_id, func.max(OrderEvent.seq).label("seq"))
        .where(OrderEvent.order_id.in_(list(order_ids)), _IS_TRANSITION)
        .group_by(OrderEvent.order_id)
        .subquery()
    )
    rows = session.execute(
        select(OrderEvent.order_id, *_ENTRY_COLUMNS).join(
            newest, and_(OrderEvent.order_id == newest.c.order_id, OrderEvent.seq == newest.c.seq)
        )
    )
    return {row[0]: TimelineEntry(*row[1:]) for row in rows}


def order_card(session: Session, order_id: int) -> tuple[OrderView, TimelineEntry | None]:
    """An order and its newest timeline entry, in one query: what a card draws."""
    row = session.execute(_CARD, {"order_id": order_id}).first()
    if row is None:
        raise errors.OrderNotFound(f"#{order_id}")
    at = len(_VIEW_COLUMNS)
    entry = TimelineEntry(*row[at:]) if row[at] is not None else None
    return OrderView(*row[:at]), entry


_ENTRY_COLUMNS = (
    OrderEvent.id,
    OrderEvent.seq,
    OrderEvent.action,
    OrderEvent.actor_user_id,
    OrderEvent.actor_party,
    OrderEvent.from_status,
    OrderEvent.to_status,
    OrderEvent.reason,
    OrderEvent.source,
    OrderEvent.created_at,
)
"""A timeline entry's columns, in TimelineEntry's order (files aside)."""

_EARLIER = aliased(OrderEvent, name="earlier")
# Built once: see _CALLER.
_CARD = (
    _ORDER_VIEWS.add_columns(*_ENTRY_COLUMNS)
    .outerjoin(
        OrderEvent,
        and_(
            OrderEvent.order_id == Order.id,
            OrderEvent.seq
            == select(func.max(_EARLIER.seq))
            .where(
                _EARLIER.order_id == Order.id,
                or_(_EARLIER.from_status.is_(None), _EARLIER.from_status != _EARLIER.to_status),
            )
            .scalar_subquery(),
        ),
    )
    .where(Order.id == bindparam("order_id"))
)


def get_order_detail(session: Session, party: PartyRef, number: str | int) -> OrderDetail:
    """One of the party's orders and its timeline."""
    order = get_order(session, party, number)
    return OrderDetail(order, timeline(session, order.id))


def count_by_status(session: Session, party: PartyRef) -> dict[OrderStatus, int]:
    """How many of the party's orders are in each status (every status, zeros included)."""
    counts = dict.fromkeys(OrderStatus, 0)
    rows = session.execute(
        select(Order.status, func.count())
        .where(_party_column(party.kind) == party.id)
        .group_by(Order.status)
    )
    for status, count in rows:
        counts[status] = count
    return counts


def _to_file(f: EventFile) -> AttachedFile:
    return AttachedFile(f.slack_file_id, f.name, f.mimetype, f.size, f.permalink)


def _to_entry(e: OrderEvent, files: Sequence[AttachedFile] = ()) -> TimelineEntry:
    return TimelineEntry(
        id=e.id,
        seq=e.seq,
        action=e.action,
        actor_user_id=e.actor_user_id,
        actor_party=e.actor_party,
        from_status=e.from_status,
        to_status=e.to_status,
        reason=e.reason,
        source=e.source,
        created_at=e.created_at,
        files=tuple(files),
    )


_IS_TRANSITION = or_(
    OrderEvent.from_status.is_(None), OrderEvent.from_status != OrderEvent.to_status
)
"""Timeline entries that changed the status (not notes such as snoozes)."""


def last_entry(session: Session, order_id: int) -> TimelineEntry:
    """The newest timeline entry of an order."""
    event = session.scalars(
        select(OrderEvent)
        .where(OrderEvent.order_id == order_id, _IS_TRANSITION)
        .order_by(OrderEvent.seq.desc())
        .limit(1)
    ).one()
    return _to_entry(event)


# --------------------------------------------------------------------------------------------
# Actions


def _clean_reason(transition: Transition, reason: str | None, verb: str) -> str | None:
    """Apply the transition's reason rule; the text is kept as typed but for what no database
    stores (`text.clean`), and one that shows nothing counts as no reason (`text.is_blank`)."""
    reason = None if reason is None or is_blank(reason) else clean(reason)
    if transition.reason is ReasonRule.REQUIRED and reason is None:
        raise errors.ReasonRequired(_REASON_FOR.get(transition.action, verb + " it"))
    if transition.reason is ReasonRule.NONE and reason is not None:
        raise errors.ReasonNotAccepted("a reason", verb)
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise errors.ReasonTooLong(len(reason), MAX_REASON_LENGTH)
    return reason


def _check_files(transition: Transition, files: Sequence[AttachedFile], verb: str) -> None:
    if files and not transition.files_allowed:
        raise errors.ReasonNotAccepted("files", verb)
    if len(files) > MAX_FILES:
        raise errors.InvalidInput({"files": f"Attach at most {MAX_FILES} files."})


_REASON_FOR = {
    Action.REJECT_APPROVAL: "reject a mini program submitted for approval",
    Action.CANCEL: "cancel an order in development",
}
"""What a required reason is for, in ReasonRequired's message."""


def _verb(action: Action) -> str:
    """How an action reads after "can": "confirm", "reject the approval of"."""
    return {
        Action.SUBMIT_FOR_APPROVAL: "submit for approval",
        Action.REJECT_APPROVAL: "reject the approval of",
        Action.DECLINE: "reject",
    }.get(action, action.value)


def _passive(action: Action) -> str:
    """How an action reads after "can no longer be": "confirmed"."""
    return {
        Action.SUBMIT_FOR_APPROVAL: "submitted for approval",
        Action.REJECT_APPROVAL: "rejected",
        Action.DECLINE: "rejected",
    }.get(action, rule_for_action(action).past)


def _replay(session: Session, workspace_id: int, key: str | None) -> ActionOutcome | None:
    """The first outcome of an idempotency key already applied, if any."""
    if key is None:
        return None
    event = session.scalar(
        select(OrderEvent).where(
            OrderEvent.workspace_id == workspace_id, OrderEvent.idempotency_key == key
        )
    )
    if event is None:
        return None
    entries = {e.id: e for e in timeline(session, event.order_id)}
    return ActionOutcome(get_order_by_id(session, event.order_id), entries[event.id], replayed=True)


_STAGE = {
    OrderStatus.NEW: 0,
    OrderStatus.PENDING_CONFIRMATION: 1,
    OrderStatus.IN_DEVELOPMENT: 2,
    OrderStatus.UNDER_APPROVAL: 3,
    OrderStatus.COMPLETED: 4,
    OrderStatus.CANCELED: 4,
}


def _stale(session: Session, order: OrderView, action: Action) -> errors.StaleAction:
    last = last_entry(session, order.id)
    sources = [t.source for t in TRANSITIONS if t.action is action and t.source is not None]
    # "Not yet" when the order has not reached the step the action belongs to.
    needs = sources[0] if sources and _STAGE[order.status] < _STAGE[sources[0]] else None
    return errors.StaleAction(
        order.code,
        _passive(action),
        order.status,
        last.actor_user_id,
        last.past,
        last.created_at,
        needs=needs,
    )


def check_action(
    session: Session,
    caller: Caller,
    number: str | int,
    action: Action,
    *,
    expected_version: int | None = None,
) -> tuple[OrderView, Transition]:
    """Whether the caller may take `action` on the order now (before asking them for a reason).

    Raises what `act` would raise for the party, status and version; writes nothing.
    """
    order = get_order(session, caller.ref, number)
    rule = rule_for_action(action)
    if rule.party is not caller.party:
        raise errors.WrongParty(order.code, _verb(action), rule.party, order.party_name(rule.party))
    transition = transition_for(order.status, action)
    if transition is None or (expected_version is not None and expected_version != order.version):
        raise _stale(session, order, action)
    return order, transition


def act(
    session: Session,
    caller: Caller,
    number: str | int,
    action: Action,
    *,
    reason: str | None = None,
    files: Sequence[AttachedFile] = (),
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    source: EventSource = EventSource.SLACK,
    now: datetime | None = None,
) -> ActionOutcome:
    """Take `action` on one of the caller's orders, following the lifecycle table.

    Refuses (with a named error, nothing written) a member of the wrong party, an action the
    order's status does not allow, a message drawn for an older version (`expected_version`),
    and a reason that breaks the action's reason rule. Of two simultaneous actions exactly one
    wins; the other is refused naming who acted first.
    """
    if action is Action.PLACE:
        raise ValueError("use place_order to place an order")
    now = now or utcnow()
    if expected_version is None:
        # With a version, a repeat cannot apply again (the first bumped the version): it is
        # looked up below, only once the check refuses it.
        replayed = _replay(session, caller.workspace_id, idempotency_key)
        if replayed is not None:
            return replayed
    verb = _verb(action)
    try:
        order, transition = check_action(
            session, caller, number, action, expected_version=expected_version
        )
    except errors.StaleAction:
        # The same click may have won a moment ago, between our first look and this read.
        replayed = _replay(session, caller.workspace_id, idempotency_key)
        if replayed is not None:
            return replayed
        raise
    clean_reason = _clean_reason(transition, reason, verb)
    _check_files(transition, files, verb)

    # The conditional update is the lock: of two concurrent actions only one matches the
    # status and version it read; the other updates nothing (the rowcount of the Core result)
    # and is told who was first.
    result = session.connection().execute(
        _GUARDED_UPDATE,
        {
            "order_id": order.id,
            "read_status": order.status,
            "read_version": order.version,
            "target": transition.target,
            "now": now,
        },
    )
    if result.rowcount != 1:
        replayed = _replay(session, caller.workspace_id, idempotency_key)
        if replayed is not None:
            return replayed
        raise _stale(session, get_order_by_id(session, order.id), action)

    event = _record(
        session,
        order_id=order.id,
        workspace_id=caller.workspace_id,
        action=action,
        caller=caller,
        from_status=order.status,
        to_status=transition.target,
        reason=clean_reason,
        files=files,
        source=source,
        idempotency_key=idempotency_key,
        now=now,
    )
    # The order as it now is, from what was just read and written (no second read).
    after = replace(
        order,
        status=transition.target,
        version=order.version + 1,
        updated_at=now,
        status_changed_at=now,
    )
    return ActionOutcome(after, event)


# Built once, as _CALLER is: built and keyed per click, the guarded UPDATE and the timeline INSERT
# were 1-2 ms of a Confirm's CPU (benchmarks/README.md, 2026-12-06).
_GUARDED_UPDATE = (
    update(Order)
    .where(
        Order.id == bindparam("order_id"),
        Order.status == bindparam("read_status"),
        Order.version == bindparam("read_version"),
    )
    .values(
        status=bindparam("target"),
        version=Order.version + 1,
        updated_at=bindparam("now"),
        status_changed_at=bindparam("now"),
    )
)
# The next seq of the order's timeline is computed by the INSERT itself. (Bind names differ
# from the column names: SQLAlchemy keeps those for the VALUES clause.)
_INSERT_EVENT = (
    insert(OrderEvent)
    .values(
        order_id=bindparam("event_order_id"),
        workspace_id=bindparam("event_workspace_id"),
        seq=select(func.coalesce(func.max(OrderEvent.seq), 0) + 1)
        .where(OrderEvent.order_id == bindparam("event_order_id"))
        .scalar_subquery(),
        action=bindparam("event_action"),
        actor_user_id=bindparam("actor_user"),
        actor_party_id=bindparam("actor_party_org"),
        actor_party=bindparam("actor_party_kind"),
        from_status=bindparam("event_from"),
        to_status=bindparam("event_to"),
        reason=bindparam("event_reason"),
        source=bindparam("event_source"),
        idempotency_key=bindparam("event_key"),
        created_at=bindparam("event_at"),
    )
    .returning(OrderEvent.id, OrderEvent.seq)
)


def _record(
    session: Session,
    *,
    order_id: int,
    workspace_id: int,
    action: Action | Note,
    caller: Caller,
    from_status: OrderStatus | None,
    to_status: OrderStatus,
    reason: str | None,
    files: Sequence[AttachedFile],
    source: EventSource,
    idempotency_key: str | None,
    now: datetime,
) -> TimelineEntry:
    # One statement (_INSERT_EVENT). Two actions on one order never race here: the order's
    # guarded UPDATE came first.
    event_id, seq = session.execute(
        _INSERT_EVENT,
        {
            "event_order_id": order_id,
            "event_workspace_id": workspace_id,
            "event_action": action,
            "actor_user": caller.user_id,
            "actor_party_org": caller.party_id,
            "actor_party_kind": caller.party,
            "event_from": from_status,
            "event_to": to_status,
            "event_reason": reason,
            "event_source": source,
            "event_key": idempotency_key,
            "event_at": now,
        },
    ).one()
    if files:
        session.execute(
            insert(EventFile),
            [
                {
                    "event_id": event_id,
                    "slack_file_id": f.slack_file_id,
                    "name": f.name,
                    "mimetype": f.mimetype,
                    "size": f.size,
                    "permalink": f.permalink,
                }
                for f in files
            ],
        )
    return TimelineEntry(
        id=event_id,
        seq=seq,
        action=action,
        actor_user_id=caller.user_id,
        actor_party=caller.party,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        source=source,
        created_at=now,
        files=tuple(files),
    )


# Named actions: one per row of the lifecycle table, for readable call sites.


def accept_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Provider: New → Pending Confirmation."""
    return act(session, caller, number, Action.ACCEPT, **kw)


def decline_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Provider: New → Canceled, with an optional reason."""
    return act(session, caller, number, Action.DECLINE, **kw)


def confirm_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Merchant: Pending Confirmation → In Development."""
    return act(session, caller, number, Action.CONFIRM, **kw)


def reject_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Merchant: Pending Confirmation → Canceled, with an optional reason."""
    return act(session, caller, number, Action.REJECT, **kw)


def submit_for_approval(
    session: Session, caller: Caller, number: str | int, **kw: Any
) -> ActionOutcome:
    """Provider: In Development → Under Approval, with an optional note and files."""
    return act(session, caller, number, Action.SUBMIT_FOR_APPROVAL, **kw)


def approve_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Merchant: Under Approval → Completed."""
    return act(session, caller, number, Action.APPROVE, **kw)


def reject_approval(
    session: Session, caller: Caller, number: str | int, **kw: Any
) -> ActionOutcome:
    """Merchant: Under Approval → In Development, with a required reason and optional files."""
    return act(session, caller, number, Action.REJECT_APPROVAL, **kw)


def cancel_order(session: Session, caller: Caller, number: str | int, **kw: Any) -> ActionOutcome:
    """Provider: In Development → Canceled, with a required reason."""
    return act(session, caller, number, Action.CANCEL, **kw)


# --------------------------------------------------------------------------------------------
# Placing an order

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_PHONE = re.compile(r"^\+?[0-9(][0-9 ()\-.]{4,22}[0-9]$")
FIELD_LIMITS = {"mini_program": 100, "contact_name": 100, "contact": 254, "requirements": 3000}


def is_contact(text: str) -> bool:
    """True for an email address or a phone number (at least 6 digits)."""
    text = text.strip()
    if _EMAIL.match(text):
        return True
    return bool(_PHONE.match(text)) and sum(c.isdigit() for c in text) >= 6


def validate_draft(service: Service, draft: OrderDraft) -> dict[str, str]:
    """Every problem with a draft order, by field; empty when it can be placed."""
    problems: dict[str, str] = {}
    draft = _tidy(draft)
    required = {
        "mini_program": ("mini program name", draft.mini_program),
        "contact_name": ("contact name", draft.contact_name),
        "contact": ("contact", draft.contact),
    }
    for key, (label, value) in required.items():
        if is_blank(value):  # spaces or zero-width characters alone are no name
            problems[key] = f"Enter the {label}."
    for key, limit in FIELD_LIMITS.items():
        value = getattr(draft, key)
        if value and len(value) > limit:
            problems[key] = f"Keep it under {limit:,} characters (it is {len(value):,})."
    if "contact" not in problems and not is_contact(draft.contact):
        problems["contact"] = (
            "Enter a phone number (+65 6123 4567) or an email address (ana@example.com)."
        )
    unknown = [a for a in draft.apps if a not in (service.apps or [])]
    if unknown:
        offered = ", ".join(service.apps or []) or "none"
        problems["apps"] = (
            f"{', '.join(unknown)} is not offered by this service (it offers {offered})."
        )
    elif service.apps and not draft.apps:
        problems["apps"] = "Choose at least one app the mini program is for."
    return problems


def _tidy(draft: OrderDraft) -> OrderDraft:
    """The draft as it would be stored: names and contact `trim`med, every text `clean`."""
    return replace(
        draft,
        mini_program=trim(draft.mini_program or ""),
        contact_name=trim(draft.contact_name or ""),
        contact=trim(draft.contact or ""),
        apps=tuple(clean(a) for a in draft.apps),
        requirements=clean(draft.requirements or ""),
    )


PUBLISHED = frozenset({ServiceStatus.ONLINE, ServiceStatus.WITHDRAWN, ServiceStatus.ARCHIVED})
"""Statuses of a service that has been in the Service Market: its name is no secret."""


def _orderable_service(session: Session, workspace_id: int, service_id: int) -> Service:
    service = session.get(Service, service_id)
    # A Draft, Pending Review or Turned Down service was never shown to merchants: a forged id
    # learns nothing, not even its name.
    if service is None or service.workspace_id != workspace_id or service.status not in PUBLISHED:
        raise errors.ServiceNotFound(f"#{service_id}")
    if service.status is not ServiceStatus.ONLINE:
        raise errors.ServiceNotOrderable(service.name, service.status)
    return service


def _next_number(session: Session, workspace_id: int, wanted: int | None) -> int:
    if wanted is not None:
        taken = session.scalar(
            select(Order.id).where(Order.workspace_id == workspace_id, Order.number == wanted)
        )
        if taken is not None:
            raise errors.Conflict(f"{format_order_number(wanted)} already exists.")
        session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id, Workspace.last_order_number < wanted)
            .values(last_order_number=wanted)
        )
        return wanted
    # An atomic increment: the row lock it takes serialises concurrent orders in a workspace.
    number = session.scalar(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(last_order_number=Workspace.last_order_number + 1)
        .returning(Workspace.last_order_number)
    )
    assert number is not None
    return int(number)


def place_order(
    session: Session,
    caller: Caller,
    draft: OrderDraft,
    *,
    idempotency_key: str | None = None,
    source: EventSource = EventSource.SLACK,
    now: datetime | None = None,
) -> ActionOutcome:
    """A merchant orders an Online service: the order starts as New."""
    now = now or utcnow()
    replayed = _replay(session, caller.workspace_id, idempotency_key)
    if replayed is not None:
        return replayed
    transition = transition_for(None, Action.PLACE)
    assert transition is not None
    if caller.party is not transition.party:
        raise errors.OnlyMerchantsOrder(caller.party_name)
    service = _orderable_service(session, caller.workspace_id, draft.service_id)
    problems = validate_draft(service, draft)
    if problems:
        raise errors.InvalidInput(problems)
    draft = _tidy(draft)
    order = Order(
        workspace_id=caller.workspace_id,
        number=_next_number(session, caller.workspace_id, draft.number),
        service_id=service.id,
        merchant_id=caller.party_id,
        provider_id=service.provider_id,
        mini_program=draft.mini_program,
        apps=list(draft.apps),
        contact_name=draft.contact_name,
        contact=draft.contact,
        requirements=draft.requirements,
        status=transition.target,
        version=1,
        placed_by=caller.user_id,
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    session.add(order)
    session.flush()
    text = search_document(
        draft.mini_program,
        caller.party_name,
        service.provider.name,
        draft.contact_name,
        draft.requirements,
    )
    session.add(OrderText(order_id=order.id, search_text=text))
    entry = _record(
        session,
        order_id=order.id,
        workspace_id=caller.workspace_id,
        action=Action.PLACE,
        caller=caller,
        from_status=None,
        to_status=transition.target,
        reason=None,
        files=(),
        source=source,
        idempotency_key=idempotency_key,
        now=now,
    )
    return ActionOutcome(get_order_by_id(session, order.id), entry)


MESSAGE_CHARS = 3000
"""The longest message one party sends the other (Slack's limit for one section of text)."""


def send_message(
    session: Session,
    caller: Caller,
    number: str | int,
    text: str | None,
    files: Sequence[AttachedFile] = (),
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> ActionOutcome:
    """A message from the caller's party to the other party of one of its orders, kept on the
    order's timeline (its status stays as it was)."""
    return _note(
        session, caller, number, Note.MESSAGE, text, files, idempotency_key=idempotency_key, now=now
    )


def add_slack_message(
    session: Session,
    caller: Caller,
    number: str | int,
    text: str,
    files: Sequence[AttachedFile] = (),
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> ActionOutcome:
    """A Slack message (its text, a note and a link back, as `text`) kept on the timeline of
    one of the caller's party's open orders."""
    return _note(
        session,
        caller,
        number,
        Note.SLACK_MESSAGE,
        text,
        files,
        open_only=True,
        idempotency_key=idempotency_key,
        now=now,
    )


def _note(
    session: Session,
    caller: Caller,
    number: str | int,
    note: Note,
    text: str | None,
    files: Sequence[AttachedFile],
    *,
    open_only: bool = False,
    idempotency_key: str | None,
    now: datetime | None,
) -> ActionOutcome:
    now = now or utcnow()
    replayed = _replay(session, caller.workspace_id, idempotency_key)
    if replayed is not None:
        return replayed
    order = get_order(session, caller.ref, number)
    if open_only and order.status.is_terminal:
        raise errors.InvalidInput(
            {"order": f"{order.code} is {order.status.label}: pick an order still open."}
        )
    body = clean(text or "").strip()
    if is_blank(body) and not files:
        raise errors.InvalidInput({"message": "Write a message (or attach a file) to send."})
    if len(body) > MESSAGE_CHARS:
        raise errors.InvalidInput(
            {"message": f"A message holds up to {MESSAGE_CHARS:,} characters, not {len(body):,}."}
        )
    # Lock the order row so the timeline's sequence stays unique alongside concurrent actions.
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    entry = _record(
        session,
        order_id=order.id,
        workspace_id=caller.workspace_id,
        action=note,
        caller=caller,
        from_status=order.status,
        to_status=order.status,
        reason=body or None,
        files=files,
        source=EventSource.SLACK,
        idempotency_key=idempotency_key,
        now=now,
    )
    return ActionOutcome(order, entry)
