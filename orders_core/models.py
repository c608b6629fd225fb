"""SQLAlchemy 2.0 models: workspaces, parties, members, services, orders and their timeline.

The schema itself comes from the Alembic migrations in `orders_core/migrations`; a test checks
that these models and the migrated schema never drift apart.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import TypeDecorator

from orders_core.lifecycle import (
    Action,
    EventSource,
    Note,
    OrderStatus,
    Party,
    ServiceStatus,
)
from orders_core.names import name_key

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC (a time another tool wrote with an offset, converted)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=enum.StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A StrEnum stored as its value in a VARCHAR, so migrations stay plain strings."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_cls: type[E]) -> None:
        super().__init__()
        self.enum_cls = enum_cls

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        """Store the value."""
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        """Read back the member (an unknown value raises ValueError)."""
        return None if value is None else self.enum_cls(value)


class StringTuple(TypeDecorator[tuple[str, ...]]):
    """A JSON list of strings read as a tuple (read models)."""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...]:
        """Any list, as a tuple (NULL as empty)."""
        return tuple(value or ())


class TimelineActionType(TypeDecorator[Action | Note]):
    """An order event's action: a lifecycle action, or a note such as a snooze."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: Action | Note | str | None, dialect: Dialect) -> str | None:
        """Store the value."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Action | Note | None:
        """Read back the member."""
        if value is None:
            return None
        try:
            return Action(value)
        except ValueError:
            return Note(value)


def utcnow() -> datetime:
    """Now, in UTC, aware."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """The declarative base of every orders_core table."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Workspace(Base):
    """A tenant: one Slack workspace. Nothing ever crosses from one workspace to another."""

    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32), unique=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    last_order_number: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminders_paused_at: Mapped[datetime | None] = mapped_column()
    """Set while the workspace has uninstalled the app: its reminders wait, its orders stay."""

    parties: Mapped[list[PartyOrg]] = relationship(back_populates="workspace")


class PartyOrg(Base):
    """A merchant or a service provider of a workspace, with its notification channel."""

    __tablename__ = "parties"
    __table_args__ = (UniqueConstraint("workspace_id", "kind", "name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    kind: Mapped[Party] = mapped_column(StrEnumType(Party))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    """The name as it is matched (orders_core.names.name_key): kept in step with `name`."""
    channel_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    workspace: Mapped[Workspace] = relationship(back_populates="parties")
    members: Mapped[list[Member]] = relationship(back_populates="party", order_by="Member.id")

    @validates("name")
    def _keep_key(self, _key: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class Member(Base):
    """A Slack user registered as one of a party's people (one party per workspace)."""

    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    party: Mapped[PartyOrg] = relationship(back_populates="members")


class Service(Base):
    """An offer in the Service Market, published by a provider."""

    __tablename__ = "services"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name_key"),
        Index(None, "workspace_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(200))
    """The name as it is matched (orders_core.names.name_key): kept in step with `name`."""
    industry: Mapped[str] = mapped_column(String(200), default="")
    service_type: Mapped[str] = mapped_column(String(64), default="mini_program_development")
    description: Mapped[str] = mapped_column(Text, default="")
    apps: Mapped[list[str]] = mapped_column(default=list)
    payment_terms: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[ServiceStatus] = mapped_column(StrEnumType(ServiceStatus))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[PartyOrg] = relationship()

    @validates("name")
    def _keep_key(self, _key: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class Order(Base):
    """A service order: a merchant ordered a provider's service for one mini program."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        # A party's list, newest first, all statuses or one status at a time (keyset on id).
        Index(None, "merchant_id", "id"),
        Index(None, "provider_id", "id"),
        Index(None, "merchant_id", "status", "id"),
        Index(None, "provider_id", "status", "id"),
        # What waits on a party, oldest first (Home, reminders), and what changed last (Home).
        Index(None, "merchant_id", "status", "status_changed_at"),
        Index(None, "provider_id", "status", "status_changed_at"),
        Index(None, "merchant_id", "updated_at"),
        Index(None, "provider_id", "updated_at"),
        # Search by number or its prefix, within a party.
        Index(None, "merchant_id", "number"),
        Index(None, "provider_id", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    number: Mapped[int] = mapped_column(BigInteger)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    mini_program: Mapped[str] = mapped_column(String(200))
    apps: Mapped[list[str]] = mapped_column(default=list)
    contact_name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(320))
    requirements: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[OrderStatus] = mapped_column(StrEnumType(OrderStatus))
    version: Mapped[int] = mapped_column(Integer, default=1)
    placed_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    status_changed_at: Mapped[datetime] = mapped_column()

    service: Mapped[Service] = relationship()
    merchant: Mapped[PartyOrg] = relationship(foreign_keys=[merchant_id])
    provider: Mapped[PartyOrg] = relationship(foreign_keys=[provider_id])
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="OrderEvent.seq"
    )


class OrderText(Base):
    """An order's words as `/orders search` finds them (`names.search_document`), folded.

    A table of its own, indexed by migration 0011 (pg_trgm on PostgreSQL, the FTS5 table
    `orders_search` on SQLite): in `orders` the text made every row half as big again, and
    PostgreSQL then read a party's newest orders by scanning the whole table backwards.
    """

    __tablename__ = "order_texts"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    search_text: Mapped[str] = mapped_column(Text)


class OrderEvent(Base):
    """One row of an order's append-only timeline."""

    __tablename__ = "order_events"
    __table_args__ = (
        UniqueConstraint("order_id", "seq"),
        # A Slack retry or a double click carries the same key: it must never apply twice.
        UniqueConstraint("workspace_id", "idempotency_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[Action | Note] = mapped_column(TimelineActionType())
    actor_user_id: Mapped[str | None] = mapped_column(String(32))
    actor_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    actor_party: Mapped[Party | None] = mapped_column(StrEnumType(Party))
    from_status: Mapped[OrderStatus | None] = mapped_column(StrEnumType(OrderStatus))
    to_status: Mapped[OrderStatus] = mapped_column(StrEnumType(OrderStatus))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[EventSource] = mapped_column(StrEnumType(EventSource))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column()

    order: Mapped[Order] = relationship(back_populates="events")
    files: Mapped[list[EventFile]] = relationship(order_by="EventFile.id")


class EventFile(Base):
    """A file attached to a timeline entry (a Slack file: we keep its id, name and permalink)."""

    __tablename__ = "event_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("order_events.id"), index=True)
    slack_file_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(500))
    mimetype: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    permalink: Mapped[str] = mapped_column(String(1000), default="")


class HomeViewer(Base):
    """Someone who had opened the bot's Home tab, when Home tabs were republished on every
    change (before revision 0010). No longer written or read: Home is drawn when opened. Kept
    so that processes of the previous release, still running during a rolling upgrade, work;
    to be dropped by a later migration."""

    __tablename__ = "home_viewers"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    user_id: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column()


class PostedMessage(Base):
    """A message the bot posted about one or more orders, kept so it can be redrawn when they change.

    `viewer_party_id` is the party whose buttons it shows; `kind` is what was drawn (a card, a
    digest) so the same renderer can draw it again.
    """

    __tablename__ = "posted_messages"
    __table_args__ = (UniqueConstraint("channel_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    viewer_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    ref: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostedMessageOrder(Base):
    """Which orders a posted message shows."""

    __tablename__ = "posted_message_orders"

    message_id: Mapped[int] = mapped_column(ForeignKey("posted_messages.id"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True, index=True)


class OutboxItem(Base):
    """A side effect of a committed change, waiting to be delivered (to Slack) by a worker.

    Written in the same transaction as the change, so a crash or an outage loses nothing. Items of
    one `lane` (one message, one channel, one Home tab) are delivered one at a time, in order.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        # Led by status: a claim finds each lane's first pending item (migration 0011).
        Index(None, "status", "lane", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(ForeignKey("workspaces.id"))
    kind: Mapped[str] = mapped_column(String(32))
    lane: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    last_failure: Mapped[str | None] = mapped_column(String(16))
    """How the last try ended, when it failed (bot.delivery.outbox.Failure): Slack refused it
    (nothing was done), no answer came (it may have landed), rate limited, or the token refused."""
    created_at: Mapped[datetime] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()


class OrderMention(Base):
    """An order answered where someone wrote its number: once per thread (or, for an answer
    only its author sees, per message) within an hour, however many processes, and however
    often Slack delivers the event."""

    __tablename__ = "order_mentions"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    answered_at: Mapped[datetime] = mapped_column()


class RateBudget(Base):
    """When a workspace may next call a Slack method, within Slack's rate limit for it
    (bot.delivery.budget): shared by every process that delivers."""

    __tablename__ = "rate_budgets"

    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    method: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column()
    """The theoretical arrival time of the next call (GCRA): calls may run ahead of it by the
    method's burst, never more."""


class ReminderPolicy(Base):
    """When to remind one party, in one channel, of the orders still waiting on it."""

    __tablename__ = "reminder_policies"
    __table_args__ = (Index(None, "workspace_id", "channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    channel_id: Mapped[str] = mapped_column(String(32))
    days: Mapped[list[int]] = mapped_column(JSON)
    """Days of the week, 0 = Monday."""
    times: Mapped[list[str]] = mapped_column(JSON)
    """Times of day, "HH:MM", in `time_zone`."""
    time_zone: Mapped[str | None] = mapped_column(String(64))
    statuses: Mapped[list[str] | None] = mapped_column(JSON)
    """None: the statuses waiting on the party."""
    min_age_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    working_days_only: Mapped[bool] = mapped_column(Boolean, default=False)
    escalate_after_minutes: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column()


class ReminderRun(Base):
    """One policy's digest for one time slot: claimed once, whatever the number of schedulers."""

    __tablename__ = "reminder_runs"
    __table_args__ = (
        UniqueConstraint("policy_id", "slot"),
        Index(None, "status", "slot"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("reminder_policies.id"))
    slot: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    order_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column()
    posted_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(ForeignKey("posted_messages.id"))
    error: Mapped[str | None] = mapped_column(Text)


class OrderSnooze(Base):
    """An order kept out of one party's reminders until a time."""

    __tablename__ = "order_snoozes"
    __table_args__ = (Index(None, "party_id", "order_id", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    until: Mapped[datetime] = mapped_column()
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column()


class Escalation(Base):
    """An order sent as a direct message to the members it waits on: at most once a day."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("order_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    day: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column()


APSCHEDULER_JOBS = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
"""APScheduler's SQLAlchemy job store table, made by our migrations so the schema has one owner."""
