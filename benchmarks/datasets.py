"""Large datasets, written in bulk (executemany on SQLite, COPY on PostgreSQL) and cached on disk.

Every order gets the timeline that leads to its status (placed → accepted → confirmed → …, each
step by the party the lifecycle table names), so lists, cards and digests draw real rows. A
dataset is cached by name: a SQLite file under benchmarks/data/, or a PostgreSQL database
`orders_bench_<name>`, reused while its signature (generator version, schema revision, shape)
still matches. Datasets the benchmarks change (clicks, the sweep) are copied before each use.
Each app under test has datasets of its own (`Schema`): its tables made by its own migrations,
filled with the columns they have; today's main's are named `<name>-main`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus, Party, transition_for
from orders_core.names import name_key, search_key

GENERATOR_VERSION = 4
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 20_000

# The mix of a busy merchant's history: most orders finished, a tenth waiting on each side.
LIST_MIX: tuple[tuple[OrderStatus, float], ...] = (
    (OrderStatus.NEW, 0.08),
    (OrderStatus.PENDING_CONFIRMATION, 0.10),
    (OrderStatus.IN_DEVELOPMENT, 0.17),
    (OrderStatus.UNDER_APPROVAL, 0.05),
    (OrderStatus.COMPLETED, 0.50),
    (OrderStatus.CANCELED, 0.10),
)
WAITING_MIX: tuple[tuple[OrderStatus, float], ...] = ((OrderStatus.PENDING_CONFIRMATION, 1.0),)

# Which actions lead to each status (Canceled has three roads; one is picked per order).
_PATHS: dict[OrderStatus, tuple[tuple[Action, ...], ...]] = {
    OrderStatus.NEW: ((Action.PLACE,),),
    OrderStatus.PENDING_CONFIRMATION: ((Action.PLACE, Action.ACCEPT),),
    OrderStatus.IN_DEVELOPMENT: ((Action.PLACE, Action.ACCEPT, Action.CONFIRM),),
    OrderStatus.UNDER_APPROVAL: (
        (Action.PLACE, Action.ACCEPT, Action.CONFIRM, Action.SUBMIT_FOR_APPROVAL),
    ),
    OrderStatus.COMPLETED: (
        (Action.PLACE, Action.ACCEPT, Action.CONFIRM, Action.SUBMIT_FOR_APPROVAL, Action.APPROVE),
    ),
    OrderStatus.CANCELED: (
        (Action.PLACE, Action.DECLINE),
        (Action.PLACE, Action.ACCEPT, Action.REJECT),
        (Action.PLACE, Action.ACCEPT, Action.CONFIRM, Action.CANCEL),
    ),
}

COLUMNS: dict[str, tuple[str, ...]] = {
    "workspaces": (
        "id",
        "team_id",
        "enterprise_id",
        "name",
        "time_zone",
        "last_order_number",
        "created_at",
        "reminders_paused_at",
    ),
    "parties": ("id", "workspace_id", "kind", "name", "name_key", "channel_id", "created_at"),
    "members": ("id", "workspace_id", "party_id", "user_id", "created_at"),
    "services": (
        "id",
        "workspace_id",
        "provider_id",
        "name",
        "name_key",
        "industry",
        "service_type",
        "description",
        "apps",
        "payment_terms",
        "status",
        "created_at",
        "updated_at",
    ),
    "orders": (
        "id",
        "workspace_id",
        "number",
        "service_id",
        "merchant_id",
        "provider_id",
        "mini_program",
        "apps",
        "contact_name",
        "contact",
        "requirements",
        "status",
        "version",
        "placed_by",
        "created_at",
        "updated_at",
        "status_changed_at",
    ),
    "order_texts": ("order_id", "search_text"),
    "order_events": (
        "id",
        "order_id",
        "workspace_id",
        "seq",
        "action",
        "actor_user_id",
        "actor_party_id",
        "actor_party",
        "from_status",
        "to_status",
        "reason",
        "source",
        "idempotency_key",
        "created_at",
    ),
    "reminder_policies": (
        "id",
        "workspace_id",
        "party_id",
        "channel_id",
        "days",
        "times",
        "time_zone",
        "statuses",
        "min_age_minutes",
        "working_days_only",
        "escalate_after_minutes",
        "enabled",
        "created_by",
        "created_at",
        "updated_at",
        "deleted_at",
    ),
    "posted_messages": (
        "id",
        "workspace_id",
        "channel_id",
        "ts",
        "kind",
        "viewer_party_id",
        "ref",
        "created_at",
        "updated_at",
    ),
    "posted_message_orders": ("message_id", "order_id"),
}
LOAD_ORDER = tuple(COLUMNS)


def stamp(moment: datetime) -> str:
    """A UTC datetime as both databases read it (SQLAlchemy's SQLite text format)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass(frozen=True)
class Tenant:
    """One workspace: its merchants, one provider with one service, and its orders."""

    team_id: str
    orders: int
    mix: tuple[tuple[OrderStatus, float], ...] = LIST_MIX
    merchants: int = 1
    policy: bool = False
    """One reminder policy for its first merchant (weekdays 09:30, no escalation)."""


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset: its tenants, described compactly enough to sign."""

    name: str
    tenants: tuple[Tenant, ...]

    @property
    def order_count(self) -> int:
        """Orders in every workspace together."""
        return sum(t.orders for t in self.tenants)

    def signature(self, revision: str | None) -> str:
        """Changes whenever the generator, the schema or the shape changes."""
        shape = [(t.team_id, t.orders, t.mix, t.merchants, t.policy) for t in self.tenants]
        digest = hashlib.sha256(json.dumps(shape, default=str).encode()).hexdigest()[:12]
        return f"v{GENERATOR_VERSION}:{revision}:{self.order_count}:{len(self.tenants)}:{digest}"


def list_spec(size: int, others: int) -> DatasetSpec:
    """`size` orders for one merchant, plus 99 other workspaces of `others` orders each."""
    tenants = [Tenant("T0BIG", size)]
    tenants += [Tenant(f"T{i:05d}", others) for i in range(1, 100)]
    return DatasetSpec(f"list-{size_label(size)}-{others}", tuple(tenants))


def sweep_spec(workspaces: int, due: int) -> DatasetSpec:
    """`workspaces` workspaces with `due` orders waiting on the merchant and one policy each."""
    tenants = tuple(Tenant(f"TS{i:05d}", due, WAITING_MIX, policy=True) for i in range(workspaces))
    return DatasetSpec(f"sweep-{workspaces}x{due}", tenants)


def clicks_spec(merchants: int, orders: int) -> DatasetSpec:
    """One workspace whose `merchants` merchants share `orders` Pending Confirmation orders."""
    return DatasetSpec(
        f"clicks-{merchants}x{orders}",
        (Tenant("T0CLICK", orders, WAITING_MIX, merchants=merchants),),
    )


def size_label(size: int) -> str:
    """10000 → 10k, 1000000 → 1m."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}m"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def parse_size(text: str) -> int:
    """10k → 10000, 1m → 1000000, 250 → 250."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("km")) * scale)


# -- who's who in a generated workspace (the benchmarks address them by these names) -------------


def merchant_user(team_id: str, k: int = 0) -> str:
    """The member of the workspace's k-th merchant."""
    return f"U{team_id[1:]}M{k}"


def merchant_channel(team_id: str, k: int = 0) -> str:
    """The notification channel of the workspace's k-th merchant."""
    return f"C{team_id[1:]}M{k}"


def provider_user(team_id: str) -> str:
    """The member of the workspace's provider."""
    return f"U{team_id[1:]}P"


def provider_channel(team_id: str) -> str:
    """The notification channel of the workspace's provider."""
    return f"C{team_id[1:]}P"


# -- rows --------------------------------------------------------------------------------------


@dataclass
class OrderRow:
    """What the benchmarks need to know about a generated order (to click it, or find it)."""

    id: int
    team_id: str
    number: int
    merchant_index: int
    status: OrderStatus
    version: int


@dataclass
class Rows:
    """Generated rows by table, and the ids handed out so far."""

    now: datetime
    tables: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)

    def take_id(self, table: str) -> int:
        """The next id of a table (ids are ours, so rows can refer to each other at once)."""
        value = self.next_id.get(table, 1)
        self.next_id[table] = value + 1
        return value

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        """Queue a row."""
        self.tables.setdefault(table, []).append(row)

    def pending(self) -> int:
        """Rows queued."""
        return sum(len(rows) for rows in self.tables.values())


def generate(spec: DatasetSpec, now: datetime, sink: Sink) -> None:
    """Write every row of the dataset through `sink`, a chunk at a time."""
    rng = random.Random(spec.name)
    rows = Rows(now)
    horizon = timedelta(days=400)
    for tenant in spec.tenants:
        _tenant_rows(tenant, rows, rng, horizon)
        if rows.pending() >= CHUNK:
            sink.write(rows.tables)
            rows.tables = {}
    if rows.pending():
        sink.write(rows.tables)


def _tenant_rows(tenant: Tenant, rows: Rows, rng: random.Random, horizon: timedelta) -> None:
    now = rows.now
    created = stamp(now - horizon - timedelta(days=1))
    team = tenant.team_id
    workspace_id = rows.take_id("workspaces")
    rows.add(
        "workspaces",
        (workspace_id, team, None, f"Workspace {team}", "UTC", tenant.orders, created, None),
    )
    merchants = []
    for k in range(tenant.merchants):
        party_id = rows.take_id("parties")
        rows.add(
            "parties",
            (
                party_id,
                workspace_id,
                "merchant",
                f"Merchant {k} of {team}",
                name_key(f"Merchant {k} of {team}"),
                merchant_channel(team, k),
                created,
            ),
        )
        rows.add(
            "members",
            (rows.take_id("members"), workspace_id, party_id, merchant_user(team, k), created),
        )
        merchants.append(party_id)
    provider_id = rows.take_id("parties")
    rows.add(
        "parties",
        (
            provider_id,
            workspace_id,
            "provider",
            f"Provider of {team}",
            name_key(f"Provider of {team}"),
            provider_channel(team),
            created,
        ),
    )
    rows.add(
        "members",
        (rows.take_id("members"), workspace_id, provider_id, provider_user(team), created),
    )
    service_id = rows.take_id("services")
    rows.add(
        "services",
        (
            service_id,
            workspace_id,
            provider_id,
            "Loyalty mini program",
            name_key("Loyalty mini program"),
            "Retail",
            "mini_program_development",
            "Stamp cards and rewards.",
            '["Alipay+", "GCash"]',
            "50% upfront",
            "online",
            created,
            created,
        ),
    )
    if tenant.policy:
        rows.add(
            "reminder_policies",
            (
                rows.take_id("reminder_policies"),
                workspace_id,
                merchants[0],
                merchant_channel(team),
                "[0, 1, 2, 3, 4]",
                '["09:30"]',
                "UTC",
                None,
                24 * 60,
                0,
                None,  # no escalation DMs: the sweep posts exactly one digest per policy
                1,
                merchant_user(team),
                created,
                created,
                None,
            ),
        )
    statuses = [s for s, _ in tenant.mix]
    weights = [w for _, w in tenant.mix]
    first = now - horizon
    # Placed evenly over the horizon, each step one to 48 hours after the last: at most eight
    # days from placing to the last step, so every timeline ends at least a day before `now`.
    spread = (horizon - timedelta(days=10)) / max(tenant.orders, 1)
    merchant_users = [merchant_user(team, k) for k in range(tenant.merchants)]
    provider = provider_user(team)
    # What search_document makes of each order's fields (the same for all but two), folded once.
    merchant_keys = [search_key(f"Merchant {k} of {team}") for k in range(tenant.merchants)]
    provider_key = search_key(f"Provider of {team}")
    requirements = "Stamp card with rewards, a points balance and a store locator."
    requirements_key = search_key(requirements)
    for number in range(1, tenant.orders + 1):
        k = (number - 1) % tenant.merchants
        status = rng.choices(statuses, weights)[0] if len(statuses) > 1 else statuses[0]
        paths = _PATHS[status]
        path = paths[rng.randrange(len(paths))] if len(paths) > 1 else paths[0]
        order_id = rows.take_id("orders")
        at = first + spread * number
        placed = stamp(at)
        previous: OrderStatus | None = None
        for seq, action in enumerate(path, start=1):
            if seq > 1:
                at += timedelta(hours=rng.randint(1, 48))
            transition = transition_for(previous, action)
            assert transition is not None
            merchant_acts = transition.party is Party.MERCHANT
            rows.add(
                "order_events",
                (
                    rows.take_id("order_events"),
                    order_id,
                    workspace_id,
                    seq,
                    action.value,
                    merchant_users[k] if merchant_acts else provider,
                    merchants[k] if merchant_acts else provider_id,
                    transition.party.value,
                    previous.value if previous else None,
                    transition.target.value,
                    "Out of scope this quarter." if action is Action.CANCEL else None,
                    "slack",
                    None,
                    stamp(at),
                ),
            )
            previous = transition.target
        changed = stamp(at)
        text = (f"mini program {number}", merchant_keys[k], provider_key, f"contact {number}")
        rows.add("order_texts", (order_id, "\n".join((*text, requirements_key))))
        rows.add(
            "orders",
            (
                order_id,
                workspace_id,
                number,
                service_id,
                merchants[k],
                provider_id,
                f"Mini program {number}",
                '["Alipay+"]',
                f"Contact {number}",
                f"contact{number}@example.test",
                requirements,
                status.value,
                len(path),
                merchant_users[k],
                placed,
                changed,
                changed,
            ),
        )


def read_orders(db: Database, team_id: str, status: OrderStatus | None = None) -> list[OrderRow]:
    """The generated orders of a workspace (optionally of one status), by id."""
    from sqlalchemy import select

    from orders_core.models import Order, PartyOrg, Workspace

    with db.read() as s:
        merchant_ids = {
            party_id: k
            for k, party_id in enumerate(
                s.scalars(
                    select(PartyOrg.id)
                    .join(Workspace, Workspace.id == PartyOrg.workspace_id)
                    .where(Workspace.team_id == team_id, PartyOrg.kind == Party.MERCHANT)
                    .order_by(PartyOrg.id)
                )
            )
        }
        query = (
            select(Order.id, Order.number, Order.merchant_id, Order.status, Order.version)
            .join(Workspace, Workspace.id == Order.workspace_id)
            .where(Workspace.team_id == team_id)
            .order_by(Order.id)
        )
        if status is not None:
            query = query.where(Order.status == status)
        return [
            OrderRow(i, team_id, n, merchant_ids[m], st, v) for i, n, m, st, v in s.execute(query)
        ]


# -- sinks: where rows go ----------------------------------------------------------------------


class Sink:
    """Receives chunks of rows by table, and stores the columns its tables have.

    The generator writes the columns of this checkout's schema; an older schema (today's main,
    at an earlier revision) lacks some of them (`name_key`), which are left out for it.
    """

    def __init__(self, present: dict[str, set[str]]) -> None:
        self.columns = {t: tuple(c for c in COLUMNS[t] if c in present[t]) for t in COLUMNS}
        self.keep = {t: [i for i, c in enumerate(COLUMNS[t]) if c in present[t]] for t in COLUMNS}

    def project(self, table: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """The rows, with only the columns the table has."""
        keep = self.keep[table]
        if len(keep) == len(COLUMNS[table]):
            return rows
        return [tuple(row[i] for i in keep) for row in rows]

    def write(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """Store one chunk."""
        raise NotImplementedError


class SqliteSink(Sink):
    """executemany into one open transaction of a plain sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        super().__init__(
            {t: {row[1] for row in conn.execute(f"PRAGMA table_info({t})")} for t in COLUMNS}
        )

    def write(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """Insert each table's rows (parents first, so foreign keys hold)."""
        for table in LOAD_ORDER:
            rows = tables.get(table)
            if rows and self.columns[table]:  # an older schema may lack the table
                cols = self.columns[table]
                marks = ", ".join("?" for _ in cols)
                self.conn.executemany(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})",
                    self.project(table, rows),
                )


class PostgresSink(Sink):
    """COPY … FROM STDIN, one table after another."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        present: dict[str, set[str]] = {t: set() for t in COLUMNS}
        for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = ANY(%s)",
            (list(COLUMNS),),
        ):
            present[table].add(column)
        super().__init__(present)

    def write(self, tables: dict[str, list[tuple[Any, ...]]]) -> None:
        """COPY each table's rows (parents first, so foreign keys hold)."""
        with self.conn.cursor() as cur:
            for table in LOAD_ORDER:
                rows = tables.get(table)
                if rows and self.columns[table]:  # an older schema may lack the table
                    cols = ", ".join(self.columns[table])
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in self.project(table, rows):
                            copy.write_row(row)


# -- schemas: whose migrations made the tables ---------------------------------------------------

_HEAD = (
    "from orders_core.db import Database\n"
    "db = Database('sqlite:///head-revision-probe.sqlite3')  # never connects\n"
    "print(db.head_revision())\n"
)
_UPGRADE = (
    "import sys\n"
    "from orders_core.db import Database\n"
    "db = Database(sys.argv[1])\n"
    "db.upgrade()\n"
    "db.dispose()\n"
)


@dataclass(frozen=True)
class Schema:
    """The tables of one app under test, made by its own source tree's migrations.

    This checkout and today's main are at different revisions, so each gets datasets of its own,
    migrated by its own code (in a process importing that tree), never a shared database.
    """

    label: str
    """Empty for this checkout; else a suffix of its datasets' names ("main")."""
    source: Path

    def _python(self, code: str, *args: str) -> str:
        # The tree's own directory is the working directory and the only path added: `-c` puts
        # the working directory first on sys.path, ahead of PYTHONPATH.
        env = {**os.environ, "PYTHONPATH": str(self.source)}
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=self.source,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.source}: {done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    @property
    def revision(self) -> str:
        """The tree's head revision (its migration scripts, read once)."""
        return _revision(self)

    def upgrade(self, url: str) -> None:
        """Create the tables in an empty database, as the tree's `db upgrade` does."""
        self._python(_UPGRADE, url)

    def dataset(self, name: str) -> str:
        """The cache name of a dataset with these tables."""
        return f"{name}-{self.label}" if self.label else name


@functools.cache
def _revision(schema: Schema) -> str:
    return schema._python(_HEAD).splitlines()[-1]


THIS_SCHEMA = Schema("", ROOT)
"""This checkout's tables."""


# -- targets: one database kind each ---------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """A dataset ready to use: its URL, and when its timelines end."""

    url: str
    now: datetime
    seconds: float
    """How long making it took (0 when it came from the cache)."""


class DatabaseKind:
    """Where datasets of one database engine live, and how they are made and copied."""

    name = "?"

    def prepare(
        self, spec: DatasetSpec, *, schema: Schema = THIS_SCHEMA, log: Any = print
    ) -> Built:
        """The dataset with `schema`'s tables, from the cache or freshly made."""
        raise NotImplementedError

    def working_copy(self, built: Built, label: str) -> str:
        """A throwaway copy of a dataset, for benchmarks that change it; its URL."""
        raise NotImplementedError

    def drop_copy(self, url: str) -> None:
        """Remove a working copy."""
        raise NotImplementedError


class SqliteKind(DatabaseKind):
    """SQLite files under benchmarks/data/sqlite/."""

    name = "sqlite"

    def __init__(self, root: Path = DATA_DIR / "sqlite") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / f"{name}.sqlite3"

    def prepare(
        self, spec: DatasetSpec, *, schema: Schema = THIS_SCHEMA, log: Any = print
    ) -> Built:
        """Reuse the file while its marker's signature matches; else make it again."""
        name = schema.dataset(spec.name)
        path = self._path(name)
        marker = path.with_suffix(".json")
        signature = spec.signature(schema.revision)
        if path.exists() and marker.exists():
            meta = json.loads(marker.read_text())
            if meta.get("signature") == signature:
                return Built(f"sqlite:///{path}", datetime.fromisoformat(meta["now"]), 0.0)
        log(f"generating {name} on SQLite ({spec.order_count:,} orders)")
        started = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        for leftover in (tmp, marker, path):
            leftover.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        schema.upgrade(f"sqlite:///{tmp}")
        now = datetime.now(UTC).replace(microsecond=0)
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # one file to copy and rename
            conn.execute("PRAGMA synchronous=OFF")  # a crash just means generating again
            conn.execute("PRAGMA cache_size=-262144")
            conn.execute("BEGIN")
            generate(spec, now, SqliteSink(conn))
            conn.execute("COMMIT")
        finally:
            conn.close()
        tmp.rename(path)
        seconds = time.perf_counter() - started
        marker.write_text(json.dumps({"signature": signature, "now": now.isoformat()}))
        return Built(f"sqlite:///{path}", now, seconds)

    def working_copy(self, built: Built, label: str) -> str:
        """A file copy beside the original."""
        source = Path(built.url.removeprefix("sqlite:///"))
        target = self.root / f"work-{label}-{os.getpid()}.sqlite3"  # runs at once never share
        self.drop_copy(f"sqlite:///{target}")
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"

    def drop_copy(self, url: str) -> None:
        """Delete the file and its WAL."""
        path = Path(url.removeprefix("sqlite:///"))
        for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
            p.unlink(missing_ok=True)


class PostgresKind(DatabaseKind):
    """One PostgreSQL database per dataset, `orders_bench_<name>`; copies use it as a template."""

    name = "postgres"

    def __init__(self, admin_url: str = PG_ADMIN_URL) -> None:
        self.admin_url = admin_url
        self.base = admin_url.rpartition("/")[0]

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.admin_url, autocommit=True)

    @staticmethod
    def db_name(name: str) -> str:
        """orders_bench_list_1m_2000."""
        return "orders_bench_" + name.replace("-", "_")

    def url(self, db_name: str) -> str:
        """The SQLAlchemy URL of a database on this server."""
        return f"{self.base}/{db_name}".replace("postgresql://", "postgresql+psycopg://")

    def prepare(
        self, spec: DatasetSpec, *, schema: Schema = THIS_SCHEMA, log: Any = print
    ) -> Built:
        """Reuse the database while its comment carries the same signature; else make it again."""
        name = self.db_name(schema.dataset(spec.name))
        signature = spec.signature(schema.revision)
        with self._admin() as admin:
            row = admin.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (name,),
            ).fetchone()
            if row is not None and row[0]:
                meta = json.loads(row[0])
                if meta.get("signature") == signature:
                    return Built(self.url(name), datetime.fromisoformat(meta["now"]), 0.0)
            log(f"generating {name} on PostgreSQL ({spec.order_count:,} orders)")
            started = time.perf_counter()
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        url = self.url(name)
        schema.upgrade(url)
        now = datetime.now(UTC).replace(microsecond=0)
        libpq = f"{self.base}/{name}"
        with psycopg.connect(libpq) as conn:
            conn.execute("SET synchronous_commit = off")
            # The rows are consistent by construction: skip the per-row foreign key triggers.
            conn.execute("SET session_replication_role = replica")
            generate(spec, now, PostgresSink(conn))
            for table in ("workspaces", "parties", "members", "services", "orders"):
                _reset_sequence(conn, table)
            for table in ("order_events", "reminder_policies", "posted_messages"):
                _reset_sequence(conn, table)
            conn.commit()
        with psycopg.connect(libpq, autocommit=True) as conn:
            # A production database has statistics (autovacuum); a fresh bulk load has none yet.
            conn.execute("VACUUM ANALYZE")
        with self._admin() as admin:
            meta = json.dumps({"signature": signature, "now": now.isoformat()})
            admin.execute(f"COMMENT ON DATABASE \"{name}\" IS '{meta}'")
        return Built(url, now, time.perf_counter() - started)

    def working_copy(self, built: Built, label: str) -> str:
        """CREATE DATABASE … TEMPLATE: a file-level copy, far faster than loading again."""
        source = built.url.rpartition("/")[2]
        target = f"orders_bench_work_{label.replace('-', '_')}_{os.getpid()}"  # nor here
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        return self.url(target)

    def drop_copy(self, url: str) -> None:
        """DROP DATABASE."""
        name = url.rpartition("/")[2]
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def available(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            with psycopg.connect(self.admin_url, connect_timeout=3):
                return None
        except psycopg.Error as exc:
            return f"PostgreSQL is not reachable at {self.admin_url}: {exc}".strip()


def _reset_sequence(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
    )
