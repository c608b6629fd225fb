"""Click throughput and ack latency: Confirm clicks on distinct orders, against a bare Bolt app.

Both servers run at once, each in its own process under waitress with the same threads; the load
generator and the fake Slack have processes of their own. Phase by phase, the same signed clicks
(the same orders' cards) go to the bare app first and then to ours. A click is *acked* when the
HTTP 200 comes back and *handled* when the clicked card's `chat.update` has reached the fake
Slack: throughput counts handled clicks, so work queued after the ack is not free.
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

from sqlalchemy import func, insert, select

from benchmarks import apps
from benchmarks.datasets import (
    DatabaseKind,
    OrderRow,
    clicks_spec,
    merchant_channel,
    merchant_user,
    read_orders,
)
from benchmarks.fakeslack import FakeSlack
from benchmarks.load import LoadProcess, LoadResult, percentile
from benchmarks.procstat import tree_cpu_seconds
from benchmarks.report import Row
from bot.console.localslack import action_item, find_element
from bot.console.localslack.payloads import new_id, new_trigger_id, with_generated_ids
from bot.ui.orders import action_id, render_order_card
from orders_core.db import Database
from orders_core.lifecycle import Action, OrderStatus, Party
from orders_core.models import OutboxItem, PartyOrg, PostedMessage, PostedMessageOrder, Workspace
from orders_core.orders import get_orders_by_id, last_entries

TEAM = "T0CLICK"


@dataclass(frozen=True)
class ClickPlan:
    """How many clicks each phase sends, and at what concurrency."""

    merchants: int = 8
    warmup: int = 40
    throughput: int = 2000
    throughput_clients: int = 32
    latency: tuple[tuple[int, int], ...] = ((1, 200), (8, 1000), (32, 1500))
    """(concurrent clients, clicks) per latency phase."""

    @property
    def orders(self) -> int:
        """Orders the dataset needs (each click confirms a different one)."""
        return self.warmup + self.throughput + sum(n for _, n in self.latency)


@dataclass(frozen=True)
class Click:
    """One prepared click: the card it is on, and the signed body's payload."""

    channel: str
    ts: str
    body: str


@dataclass
class PhaseResult:
    """One server's figures for one phase."""

    clients: int
    clicks: int
    acks_per_s: float
    handled_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    cpu_ms_per_click: float
    """The server process's CPU time from the first click until the last was handled."""

    def as_json(self) -> dict[str, Any]:
        """For the results file."""
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in vars(self).items()}


def run(
    kind: DatabaseKind,
    plan: ClickPlan,
    slack: FakeSlack,
    load: LoadProcess,
    log_dir: Path,
    log: Callable[[str], None],
) -> list[Row]:
    """Every click phase against both servers; rows for throughput and latency."""
    built = kind.prepare(clicks_spec(plan.merchants, plan.orders), log=log)
    url = kind.working_copy(built, "clicks")
    db = Database(url)
    hand_url: str | None = None
    try:
        log(f"clicks on {kind.name}: placing {plan.orders:,} cards in the fake Slack")
        clicks = prepare_clicks(db, slack, plan.merchants)
        # The hand-written app confirms the same orders on a copy of its own.
        hand_url = kind.working_copy(built, "clicks_by_hand")
        n = apps.CLICK_PROCESSES
        bare = apps.bare_bolt(f"bare-bolt-{kind.name}", slack.base_url, log_dir, processes=n)
        hand = apps.bare_bolt(
            f"by-hand-{kind.name}", slack.base_url, log_dir, processes=n, database_url=hand_url
        )
        ours = apps.orders_bot(
            f"orders-bot-clicks-{kind.name}",
            url,
            slack.base_url,
            log_dir,
            processes=n,
            listener_processes=apps.CLICK_LISTENER_PROCESSES,
        )
        with bare, hand, ours:
            phases: list[tuple[str, int, int]] = [("warmup", 4, plan.warmup)]
            phases.append(("throughput", plan.throughput_clients, plan.throughput))
            phases += [(f"latency-{c}", c, n) for c, n in plan.latency]
            results: dict[str, dict[str, PhaseResult]] = {}
            offset = 0
            hand_clicked = 0
            for phase, clients, count in phases:
                batch = clicks[offset : offset + count]
                offset += count
                results[phase] = {}
                # The hand-written app is measured for throughput (and warmed up for it) only.
                servers = {"bare": bare, "hand": hand, "ours": ours}
                if phase not in ("warmup", "throughput"):
                    del servers["hand"]
                else:
                    hand_clicked += count
                for name, server in servers.items():
                    results[phase][name] = _phase(server, batch, clients, slack, load, db)
                    if name == "ours":
                        _settle(db)
                    r = results[phase][name]
                    log(
                        f"  {phase:<12} {name:<4} {r.handled_per_s:6.1f} clicks/s handled, "
                        f"{r.acks_per_s:6.1f} acked, p99 {r.p99_ms:6.1f} ms, "
                        f"{r.cpu_ms_per_click:5.2f} ms CPU per click"
                    )
        confirmed = _count(db, OrderStatus.IN_DEVELOPMENT)
        hand_db = Database(hand_url)
        try:
            hand_confirmed = _count(hand_db, OrderStatus.IN_DEVELOPMENT)
        finally:
            hand_db.dispose()
    finally:
        db.dispose()
        kind.drop_copy(url)
        if hand_url is not None:
            kind.drop_copy(hand_url)
    return _rows(kind.name, plan, results, (confirmed, offset), (hand_confirmed, hand_clicked))


def prepare_clicks(db: Database, slack: FakeSlack, merchants: int) -> list[Click]:
    """Post each waiting order's card in its merchant's channel, record it, and sign a Confirm."""
    orders = read_orders(db, TEAM, OrderStatus.PENDING_CONFIRMATION)
    by_merchant: dict[int, list[OrderRow]] = {}
    for order in orders:
        by_merchant.setdefault(order.merchant_index, []).append(order)
    stamps: dict[int, tuple[str, str]] = {}
    for k, mine in by_merchant.items():
        channel = merchant_channel(TEAM, k)
        for order, ts in zip(mine, slack.seed(channel, len(mine)), strict=True):
            stamps[order.id] = (channel, ts)
    now = datetime.now(UTC)
    with db.transaction() as s:
        workspace_id = s.scalar(select(Workspace.id).where(Workspace.team_id == TEAM))
        parties = list(
            s.scalars(
                select(PartyOrg.id)
                .where(PartyOrg.workspace_id == workspace_id, PartyOrg.kind == Party.MERCHANT)
                .order_by(PartyOrg.id)
            )
        )
        first_id = (s.scalar(select(func.max(PostedMessage.id))) or 0) + 1
        posted = []
        links = []
        for i, order in enumerate(orders):
            channel, ts = stamps[order.id]
            posted.append(
                {
                    "id": first_id + i,
                    "workspace_id": workspace_id,
                    "channel_id": channel,
                    "ts": ts,
                    "kind": "card",
                    "viewer_party_id": parties[order.merchant_index],
                    "ref": {"notice": None},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            links.append({"message_id": first_id + i, "order_id": order.id})
        s.execute(insert(PostedMessage), posted)
        s.execute(insert(PostedMessageOrder), links)
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
                clicks.append(Click(channel, ts, click_body(card.as_kwargs(), order, channel, ts)))
    return clicks


def click_body(card: dict[str, Any], order: OrderRow, channel: str, ts: str) -> str:
    """The form body Slack posts when a merchant member presses Confirm on a card."""
    user = merchant_user(TEAM, order.merchant_index)
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
    clients: int,
    slack: FakeSlack,
    load: LoadProcess,
    db: Database,
) -> PhaseResult:
    mark = slack.mark()
    cpu_before = tree_cpu_seconds(server.pid)
    result = load.run(server.url, apps.SIGNING_SECRET, [c.body for c in clicks], clients)
    targets = [(c.channel, c.ts) for c in clicks]
    deadline = time.monotonic() + 120 + len(clicks) / 20
    handled, last = 0, 0.0
    while time.monotonic() < deadline:
        handled, last = slack.updated(mark, targets)
        if handled >= len(clicks) or result.errors:
            break
        time.sleep(0.05)
    cpu = tree_cpu_seconds(server.pid) - cpu_before
    return _figures(result, clients, handled, last, cpu)


def _figures(
    result: LoadResult, clients: int, handled: int, last_update: float, cpu: float
) -> PhaseResult:
    n = len(result.sent)
    latencies = result.latencies()
    last_ack = max((s.sent_at + s.latency for s in result.sent), default=result.started_at)
    done = max(last_ack, last_update)
    return PhaseResult(
        clients=clients,
        clicks=n,
        acks_per_s=n / max(last_ack - result.started_at, 1e-9),
        # Unhandled clicks count as not done: the rate is of clicks whose update arrived.
        handled_per_s=handled / max(done - result.started_at, 1e-9),
        p50_ms=percentile(latencies, 50) * 1000,
        p95_ms=percentile(latencies, 95) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
        errors=result.errors + (n - handled),
        cpu_ms_per_click=cpu * 1000 / max(n, 1),
    )


def _settle(db: Database, timeout: float = 120.0) -> None:
    """Wait until our app's outbox has delivered what a next phase would compete with.

    Cards posted to the provider's channel are left out: the outbox paces posts to one channel a
    second apart (Slack's rate limit), so a phase's cards trickle out for minutes at next to no
    cost, and waiting for them would only make the run longer.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.read() as s:
            pending = s.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(OutboxItem.status == "pending", OutboxItem.kind != "post_card")
            )
        if not pending:
            return
        time.sleep(0.1)


def _count(db: Database, status: OrderStatus) -> int:
    from orders_core.models import Order

    with db.read() as s:
        return int(
            s.scalar(select(func.count()).select_from(Order).where(Order.status == status)) or 0
        )


def _rows(
    db_name: str,
    plan: ClickPlan,
    results: dict[str, dict[str, PhaseResult]],
    ours_confirmed: tuple[int, int],
    hand_confirmed: tuple[int, int],
) -> list[Row]:
    """Rows from every phase; each `*_confirmed` is (orders now In development, clicks sent)."""
    details: dict[str, Any] = {
        phase: {name: r.as_json() for name, r in by_server.items()}
        for phase, by_server in results.items()
    }
    details["orders_confirmed"] = {
        "expected": ours_confirmed[1],
        "in_development": ours_confirmed[0],
    }
    details["orders_confirmed_by_hand"] = {
        "expected": hand_confirmed[1],
        "in_development": hand_confirmed[0],
    }
    tp = results["throughput"]
    ratio = tp["ours"].handled_per_s / max(tp["bare"].handled_per_s, 1e-9)
    correct = ours_confirmed[0] == ours_confirmed[1] and all(
        tp[name].errors == 0 for name in ("bare", "ours")
    )
    hand_ratio = tp["hand"].handled_per_s / max(tp["bare"].handled_per_s, 1e-9)
    hand_correct = hand_confirmed[0] == hand_confirmed[1] and tp["hand"].errors == 0
    rows = [
        Row(
            key="clicks.throughput",
            what=f"click throughput ({plan.throughput_clients} clients), clicks/s",
            db=db_name,
            value=tp["ours"].handled_per_s,
            baseline=tp["bare"].handled_per_s,
            ratio=ratio,
            target="≥ 0.8 x bare Bolt",
            passed=ratio >= 0.8 and correct,
            unit="clicks/s",
            details=details,
        ),
        # What the click's writes cost at the least: bare Bolt committing them in raw SQL.
        Row(
            key="clicks.throughput_by_hand",
            what=f"click throughput ({plan.throughput_clients} clients), bare Bolt + the writes in raw SQL, clicks/s",
            db=db_name,
            value=tp["hand"].handled_per_s,
            baseline=tp["bare"].handled_per_s,
            ratio=hand_ratio,
            target="— (the floor the work sets)",
            passed=None if hand_correct else False,
            unit="clicks/s",
            details={"throughput": tp["hand"].as_json(), **details["orders_confirmed_by_hand"]},
        ),
        Row(
            key="clicks.throughput_vs_hand",
            what="click throughput, ours against bare Bolt + the writes in raw SQL, clicks/s",
            db=db_name,
            value=tp["ours"].handled_per_s,
            baseline=tp["hand"].handled_per_s,
            ratio=tp["ours"].handled_per_s / max(tp["hand"].handled_per_s, 1e-9),
            target="—",
            passed=None,
            unit="clicks/s",
        ),
    ]
    for clients, _ in plan.latency:
        r = results[f"latency-{clients}"]
        ours, bare = r["ours"].p99_ms, r["bare"].p99_ms
        ratio = ours / max(bare, 1e-9)
        ok_errors = r["ours"].errors == 0
        if clients == 8:
            target, passed = "< 100 ms", ours < 100 and ok_errors
        elif clients == 32:
            target, passed = "≤ 1.25 x bare and < 1 s", ratio <= 1.25 and ours < 1000 and ok_errors
        else:
            target, passed = "—", None
        rows.append(
            Row(
                key=f"clicks.ack_p99.{clients}",
                what=f"ack p99, {clients} client{'s' if clients > 1 else ''}, ms",
                db=db_name,
                value=ours,
                baseline=bare,
                ratio=ratio,
                target=target,
                passed=passed,
                unit="ms",
                details={name: res.as_json() for name, res in r.items()},
            )
        )
    return rows
