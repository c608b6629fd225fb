"""Clicks: Confirm on distinct orders' cards, against bare Bolt, by hand, ours and today's main.

Every server runs at once, each in its own processes under the same threads; the load generator
and the fake Slack have processes of their own. Phase by phase, the same signed clicks (the same
orders' cards) go to the bare app first, then the hand-written one, ours and today's main, each
app confirming them on a database of its own. A click is *acked* when the HTTP 200 comes back
and *handled* when the clicked card's `chat.update` has reached the fake Slack: throughput counts
handled clicks, so work queued after the ack is not free.

In the throughput and ack phases each client clicks again as soon as its click is acked. In the
handled phases each client is a person: it clicks again only once its card is redrawn, and the
*handled latency* of a click, from sending it to its card redrawn, is what that person waited.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import MetaData, Table, insert, text

from benchmarks import apps
from benchmarks.datasets import (
    DatabaseKind,
    OrderRow,
    clicks_spec,
    merchant_channel,
    merchant_user,
    provider_channel,
    read_orders,
)
from benchmarks.fakeslack import FakeSlack
from benchmarks.load import LoadProcess, LoadResult, Redrawn, percentile
from benchmarks.procstat import tree_cpu_seconds
from benchmarks.report import Row
from bot.console.localslack import action_item, find_element
from bot.console.localslack.payloads import new_id, new_trigger_id, with_generated_ids
from bot.ui.orders import action_id, render_order_card
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus, Party
from orders_core.orders import get_orders_by_id, last_entries

TEAM = "T0CLICK"


@dataclass(frozen=True)
class ClickPlan:
    """How many clicks each phase sends, and at what concurrency."""

    merchants: int = 8
    warmup: int = 40
    throughput: int = 2000
    throughput_clients: int = 32
    acks: tuple[tuple[int, int], ...] = ((8, 1000), (32, 1500))
    """(concurrent clients, clicks) per ack phase: each client clicks again once acked."""
    handled: tuple[tuple[int, int], ...] = ((1, 200), (8, 1000))
    """(concurrent clients, clicks) per handled phase: each client clicks again once its card
    is redrawn."""

    @property
    def orders(self) -> int:
        """Orders the dataset needs (each click confirms a different one)."""
        phases = (*self.acks, *self.handled)
        return self.warmup + self.throughput + sum(n for _, n in phases)


@dataclass(frozen=True)
class Click:
    """One prepared click: the card it is on, and the signed body's payload."""

    channel: str
    ts: str
    body: str
    other: tuple[str, str] | None = None
    """The other party's card about the same order (channel, ts), when there is one."""


@dataclass(frozen=True)
class Card:
    """A waiting order's card, posted in its merchant's channel (or its provider's)."""

    order_id: int
    merchant_index: int
    channel: str
    ts: str
    provider: bool = False
    """The provider's card (its buttons), in the provider's channel."""


@dataclass
class PhaseResult:
    """One server's figures for one phase."""

    clients: int
    clicks: int
    acks_per_s: float
    handled_per_s: float
    ack_p50_ms: float
    ack_p95_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    handled_p50_ms: float
    handled_p95_ms: float
    handled_p99_ms: float
    handled_max_ms: float
    errors: int
    """Clicks not answered 200, or whose card was never redrawn."""
    cpu_ms_per_click: float
    """The server's processes' CPU time from the first click until the last was handled."""

    def as_json(self) -> dict[str, Any]:
        """For the results file."""
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in vars(self).items()}


@dataclass
class Contender:
    """One server of the click suite, and the database it confirms the orders in."""

    name: str
    """bare, hand, ours or main."""
    server: apps.ServerProcess
    url: str | None = None
    outbox: bool = False
    """It delivers through an outbox: let it settle before the next server's turn."""
    app: apps.AppUnderTest = apps.OURS
    """Whose cards are clicked (the bare apps click ours')."""


def run(
    kind: DatabaseKind,
    plan: ClickPlan,
    slack: FakeSlack,
    load: LoadProcess,
    log_dir: Path,
    log: Callable[[str], None],
    under_test: Sequence[apps.AppUnderTest] = (apps.OURS,),
) -> list[Row]:
    """Every click phase against every server; rows for throughput, CPU and latency."""
    spec = clicks_spec(plan.merchants, plan.orders)
    copies: list[str] = []
    try:
        # Each app confirms the same orders on a copy of its own dataset, made by its own
        # migrations; the hand-written app on a copy of ours.
        urls = {}
        for app in under_test:
            built = kind.prepare(spec, schema=app.schema, log=log)
            urls[app.name] = kind.working_copy(built, f"clicks-{app.name}")
            copies.append(urls[app.name])
        hand_url = kind.working_copy(kind.prepare(spec, log=log), "clicks-by-hand")
        copies.append(hand_url)
        log(f"clicks on {kind.name}: placing {plan.orders:,} cards in the fake Slack")
        clicks, cards = prepare_clicks(Database(urls["ours"]), slack)
        for app in under_test:
            record_cards(urls[app.name], cards)
        n = apps.CLICK_WORKERS
        contenders = [
            Contender(
                "bare", apps.bare_bolt(f"bare-bolt-{kind.name}", slack.base_url, log_dir, workers=n)
            ),
            Contender(
                "hand",
                apps.bare_bolt(
                    f"by-hand-{kind.name}",
                    slack.base_url,
                    log_dir,
                    workers=n,
                    database_url=hand_url,
                ),
                hand_url,
            ),
        ]
        contenders += [
            Contender(
                app.name,
                app.server(
                    f"orders-bot-clicks-{app.name}-{kind.name}",
                    urls[app.name],
                    slack.base_url,
                    log_dir,
                    busy=True,
                    rate_limits=False,
                ),
                urls[app.name],
                outbox=True,
                app=app,
            )
            for app in under_test
        ]
        results = _phases(plan, clicks, contenders, slack, load, log)
        clicked = {
            name: sum(r.clicks for r in by_phase.values()) for name, by_phase in results.items()
        }
        confirmed = {c.name: _confirmed(c.url) for c in contenders if c.url is not None}
    finally:
        for url in copies:
            kind.drop_copy(url)
    return _rows(kind.name, plan, results, confirmed, clicked)


def _phases(
    plan: ClickPlan,
    clicks: list[Click],
    contenders: list[Contender],
    slack: FakeSlack,
    load: LoadProcess,
    log: Callable[[str], None],
) -> dict[str, dict[str, PhaseResult]]:
    """Each phase's clicks to each server in turn: {server: {phase: figures}}."""
    phases: list[tuple[str, int, int]] = [("warmup", 4, plan.warmup)]
    phases.append(("throughput", plan.throughput_clients, plan.throughput))
    phases += [(f"acks-{c}", c, n) for c, n in plan.acks]
    phases += [(f"handled-{c}", c, n) for c, n in plan.handled]
    results: dict[str, dict[str, PhaseResult]] = {c.name: {} for c in contenders}
    servers = [c.server for c in contenders]
    try:
        for server in servers:
            server.start()
        offset = 0
        for phase, clients, count in phases:
            batch = clicks[offset : offset + count]
            offset += count
            for contender in contenders:
                # The hand-written app is measured for throughput (and warmed up for it) only.
                if contender.name == "hand" and phase not in ("warmup", "throughput"):
                    continue
                handled = phase.startswith("handled-")
                bodies = [contender.app.click(c.body) for c in batch]
                r = _phase(
                    contender.server, batch, bodies, clients, slack, load, wait_redrawn=handled
                )
                results[contender.name][phase] = r
                if contender.outbox and contender.url is not None:
                    _settle(contender.url)
                log(
                    f"  {phase:<12} {contender.name:<4} {r.handled_per_s:6.1f} clicks/s handled, "
                    f"{r.acks_per_s:6.1f} acked, ack p99 {r.ack_p99_ms:6.1f} ms, handled p95 "
                    f"{r.handled_p95_ms:6.1f} ms, {r.cpu_ms_per_click:5.2f} ms CPU per click"
                )
    finally:
        for server in servers:
            server.stop()
    return results


def prepare_clicks(
    db: Database,
    slack: FakeSlack,
    *,
    provider_cards: bool = False,
    users: Sequence[str] = (),
) -> tuple[list[Click], list[Card]]:
    """Post each waiting order's card in its merchant's channel and sign a Confirm on it; with
    `provider_cards`, its card in the provider's channel too (`Click.other`); the i-th click by
    `users[i % len(users)]`, else by the merchant's first member.

    The cards are drawn from our database; every app's dataset has the same orders (the same
    ids, numbers and versions), so the same signed clicks go to each."""
    try:
        orders = read_orders(db, TEAM, OrderStatus.PENDING_CONFIRMATION)
        by_merchant: dict[int, list[OrderRow]] = {}
        for order in orders:
            by_merchant.setdefault(order.merchant_index, []).append(order)
        stamps: dict[int, tuple[str, str]] = {}
        for k, mine in by_merchant.items():
            channel = merchant_channel(TEAM, k)
            for order, ts in zip(mine, slack.seed(channel, len(mine)), strict=True):
                stamps[order.id] = (channel, ts)
        others: dict[int, tuple[str, str]] = {}
        if provider_cards:
            channel = provider_channel(TEAM)
            for order, ts in zip(orders, slack.seed(channel, len(orders)), strict=True):
                others[order.id] = (channel, ts)
        now = datetime.now(UTC)
        clicks: list[Click] = []
        with db.read() as s:
            for start in range(0, len(orders), 500):
                chunk = orders[start : start + 500]
                views = {v.id: v for v in get_orders_by_id(s, [o.id for o in chunk])}
                last = last_entries(s, list(views))
                for order in chunk:
                    view = views[order.id]
                    card = render_order_card(
                        view, viewer=Party.MERCHANT, last=last.get(view.id), now=now
                    )
                    channel, ts = stamps[order.id]
                    user = users[len(clicks) % len(users)] if users else None
                    body = click_body(card.as_kwargs(), order, channel, ts, user)
                    clicks.append(Click(channel, ts, body, others.get(order.id)))
    finally:
        db.dispose()
    cards = [Card(o.id, o.merchant_index, *stamps[o.id]) for o in orders]
    if provider_cards:
        cards += [Card(o.id, o.merchant_index, *others[o.id], provider=True) for o in orders]
    return clicks, cards


def record_cards(url: str, cards: Sequence[Card]) -> None:
    """Record the cards as the bot's posted messages about their orders, in one app's database
    (the tables as its own migrations made them, read from the database)."""
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            meta = MetaData()
            posted = Table("posted_messages", meta, autoload_with=conn)
            links = Table("posted_message_orders", meta, autoload_with=conn)
            workspace_id = conn.scalar(
                text("SELECT id FROM workspaces WHERE team_id = :team"), {"team": TEAM}
            )
            parties = list(
                conn.scalars(
                    text(
                        "SELECT id FROM parties WHERE workspace_id = :w AND kind = 'merchant'"
                        " ORDER BY id"
                    ),
                    {"w": workspace_id},
                )
            )
            provider = conn.scalar(
                text("SELECT id FROM parties WHERE workspace_id = :w AND kind = 'provider'"),
                {"w": workspace_id},
            )
            first_id = (conn.scalar(text("SELECT max(id) FROM posted_messages")) or 0) + 1
            now = datetime.now(UTC).replace(tzinfo=None)
            conn.execute(
                insert(posted),
                [
                    {
                        "id": first_id + i,
                        "workspace_id": workspace_id,
                        "channel_id": card.channel,
                        "ts": card.ts,
                        "kind": "card",
                        "viewer_party_id": provider
                        if card.provider
                        else parties[card.merchant_index],
                        "ref": {"notice": None},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, card in enumerate(cards)
                ],
            )
            conn.execute(
                insert(links),
                [{"message_id": first_id + i, "order_id": c.order_id} for i, c in enumerate(cards)],
            )
            if not db.is_sqlite:
                conn.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence('posted_messages', 'id'),"
                        " (SELECT max(id) FROM posted_messages))"
                    )
                )
    finally:
        db.dispose()


def click_body(
    card: dict[str, Any], order: OrderRow, channel: str, ts: str, user: str | None = None
) -> str:
    """The form body Slack posts when a merchant member (`user`, else the merchant's first)
    presses Confirm on a card."""
    user = user or merchant_user(TEAM, order.merchant_index)
    blocks = with_generated_ids(card["blocks"])
    block, element = find_element(blocks, action_id(Action.CONFIRM))
    message = {
        "type": "message",
        "text": card["text"],
        "user": "U0BOT",
        "bot_id": "B0BOT",
        "app_id": "A0ORDERS",
        "team": TEAM,
        "ts": ts,
        "blocks": blocks,
    }
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
        "api_app_id": "A0ORDERS",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": new_trigger_id(),
        "team": {"id": TEAM, "domain": TEAM.lower()},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel.lower()},
        "message": message,
        "state": {"values": {}},
        "response_url": f"https://hooks.slack.com/actions/{TEAM}/{new_id('', 13)}/{new_id('', 24)}",
        "actions": [action_item(block, element)],
    }
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def _phase(
    server: apps.ServerProcess,
    clicks: Sequence[Click],
    bodies: list[str],
    clients: int,
    slack: FakeSlack,
    load: LoadProcess,
    *,
    wait_redrawn: bool = False,
) -> PhaseResult:
    mark = slack.mark()
    targets = [(c.channel, c.ts) for c in clicks]
    redrawn = Redrawn(slack.redrawn_url, mark, tuple(targets)) if wait_redrawn else None
    cpu_before = tree_cpu_seconds(server.pid)
    result = load.run(server.url, apps.SIGNING_SECRET, bodies, clients, redrawn)
    deadline = time.monotonic() + 120 + len(clicks) / 20
    updates: list[float | None] = [None] * len(clicks)
    while time.monotonic() < deadline:
        updates = slack.update_times(mark, targets)
        if all(u is not None for u in updates) or result.errors:
            break
        time.sleep(0.05)
    cpu = tree_cpu_seconds(server.pid) - cpu_before
    return _figures(result, clients, updates, cpu)


def _figures(
    result: LoadResult, clients: int, updates: Sequence[float | None], cpu: float
) -> PhaseResult:
    n = len(result.sent)
    acks = result.latencies()
    handled = [u - s.sent_at for s, u in zip(result.sent, updates, strict=True) if u is not None]
    last_ack = max((s.sent_at + s.latency for s in result.sent), default=result.started_at)
    done = max([last_ack, *(u for u in updates if u is not None)])
    return PhaseResult(
        clients=clients,
        clicks=n,
        acks_per_s=n / max(last_ack - result.started_at, 1e-9),
        # Unhandled clicks count as not done: the rate is of clicks whose update arrived.
        handled_per_s=len(handled) / max(done - result.started_at, 1e-9),
        ack_p50_ms=percentile(acks, 50) * 1000,
        ack_p95_ms=percentile(acks, 95) * 1000,
        ack_p99_ms=percentile(acks, 99) * 1000,
        ack_max_ms=max(acks, default=0.0) * 1000,
        handled_p50_ms=percentile(handled, 50) * 1000,
        handled_p95_ms=percentile(handled, 95) * 1000,
        handled_p99_ms=percentile(handled, 99) * 1000,
        handled_max_ms=max(handled, default=0.0) * 1000,
        errors=result.errors + (n - len(handled)),
        cpu_ms_per_click=cpu * 1000 / max(n, 1),
    )


def _settle(url: str, timeout: float = 120.0) -> None:
    """Wait until an app's outbox has delivered what a next phase would compete with.

    Cards posted to the provider's channel are left out: the outbox paces posts to one channel a
    second apart (Slack's rate limit), so a phase's cards trickle out for minutes at next to no
    cost, and waiting for them would only make the run longer.
    """
    db = Database(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with db.engine.connect() as conn:
                pending = conn.scalar(
                    text(
                        "SELECT count(*) FROM outbox"
                        " WHERE status = 'pending' AND kind <> 'post_card'"
                    )
                )
            if not pending:
                return
            time.sleep(0.1)
    finally:
        db.dispose()


def _confirmed(url: str) -> int:
    """Orders In Development in an app's database (every one of them confirmed by a click)."""
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return int(
                conn.scalar(text("SELECT count(*) FROM orders WHERE status = 'in_development'"))
                or 0
            )
    finally:
        db.dispose()


def _rows(
    db_name: str,
    plan: ClickPlan,
    results: dict[str, dict[str, PhaseResult]],
    confirmed: dict[str, int],
    clicked: dict[str, int],
) -> list[Row]:
    """Rows from every phase: ours against the bare app (or the hand-written one) and main."""
    has_main = "main" in results
    ok = {
        name: all(r.errors == 0 for r in by_phase.values())
        and confirmed.get(name, clicked[name]) == clicked[name]
        for name, by_phase in results.items()
    }
    orders_confirmed = {
        name: {"expected": clicked[name], "in_development": confirmed[name]} for name in confirmed
    }

    def figure(name: str, phase: str, attribute: str) -> float:
        return float(getattr(results[name][phase], attribute))

    def row(
        key: str,
        what: str,
        phase: str,
        attribute: str,
        unit: str,
        target: str = "—",
        passes: Callable[[float, float], bool] | None = None,
        *,
        baseline: str = "bare",
        against_main: bool = True,
        needs_main: bool = False,
    ) -> Row:
        """Ours in one phase against a baseline server and main; `passes(ours, main)`, judged
        only when main ran if the target `needs_main` (information otherwise)."""
        value = figure("ours", phase, attribute)
        base = figure(baseline, phase, attribute)
        main = figure("main", phase, attribute) if has_main and against_main else None
        passed: bool | None = None
        if passes is not None and (main is not None or not needs_main):
            passed = passes(value, main if main is not None else float("nan")) and ok["ours"]
        return Row(
            key=key,
            what=what,
            db=db_name,
            value=value,
            baseline=base,
            ratio=value / max(base, 1e-9),
            main=main,
            main_ratio=None if main is None else value / max(main, 1e-9),
            target=target,
            passed=passed,
            unit=unit,
            details={
                **{
                    name: by_phase[phase].as_json()
                    for name, by_phase in results.items()
                    if phase in by_phase
                },
                "orders_confirmed": orders_confirmed,
                "every_click_acked_and_handled": ok,
            },
        )

    tp = "throughput"
    clients = plan.throughput_clients
    hand = results["hand"][tp]
    rows = [
        row(
            "clicks.handled_per_s",
            f"clicks handled per second, {clients} clients",
            tp,
            "handled_per_s",
            "clicks/s",
            "≥ 0.85 x main",
            lambda ours, main: ours >= 0.85 * main,
            needs_main=True,
        ),
        row(
            "clicks.handled_per_s_vs_hand",
            f"clicks handled per second, {clients} clients, against the hand-written app",
            tp,
            "handled_per_s",
            "clicks/s",
            baseline="hand",
            against_main=False,
        ),
        # What the click's writes cost at the least: bare Bolt committing them in raw SQL.
        Row(
            key="clicks.handled_per_s_by_hand",
            what=f"clicks handled per second, {clients} clients, hand-written app (bare Bolt + the writes in raw SQL)",
            db=db_name,
            value=hand.handled_per_s,
            baseline=results["bare"][tp].handled_per_s,
            ratio=hand.handled_per_s / max(results["bare"][tp].handled_per_s, 1e-9),
            target="— (the floor the work sets)",
            passed=None if ok["hand"] else False,
            unit="clicks/s",
            details={
                "throughput": hand.as_json(),
                **orders_confirmed["hand"],
            },
        ),
        row(
            "clicks.cpu_per_click",
            f"CPU per click, {clients} clients, ms",
            tp,
            "cpu_ms_per_click",
            "ms",
            "≤ 1.15 x main",
            lambda ours, main: ours <= 1.15 * main,
            needs_main=True,
        ),
        row(
            "clicks.ack_p99.8",
            "ack p99, 8 clients, ms",
            "acks-8",
            "ack_p99_ms",
            "ms",
            "< 100 ms",
            lambda ours, _main: ours < 100,
        ),
        row(
            "clicks.ack_p99.32",
            "ack p99, 32 clients, ms",
            "acks-32",
            "ack_p99_ms",
            "ms",
            "< 1 s",
            lambda ours, _main: ours < 1000,
        ),
    ]
    for n, _ in plan.handled:
        for p in (50, 95):
            at_8 = n == 8 and p == 95
            rows.append(
                row(
                    f"clicks.handled_p{p}.{n}",
                    f"handled latency (click to card redrawn) p{p}, {n} client{'s' if n > 1 else ''}, ms",
                    f"handled-{n}",
                    f"handled_p{p}_ms",
                    "ms",
                    "< 250 ms" if at_8 else "—",
                    (lambda ours, _main: ours < 250) if at_8 else None,
                )
            )
    return rows
