"""A bot killed with SIGKILL in the middle of a burst of clicks, and started again: what the dead
process held of the outbox is taken over within seconds, and everything is delivered once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections import Counter

from sqlalchemy import func, select

from bot.console.localslack import LocalSlack, SlackSender, Workspace
from bot.delivery.outbox import PENDING
from bot.ui.orders import ButtonValue
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import Order, OrderEvent, OutboxItem
from tests.e2e.test_instances import EXE, bot_env, children_of, free_port, wait
from tests.support.slackbot import SIGNING_SECRET, TOKEN
from tests.support.world import TEAM, World

ORDERS = 12
TAKEOVER_DEADLINE = 30.0
"""Seconds from the kill: the lease (6 s) and a restart, with room for a loaded machine. With
the 60-second lease the dead process's items waited 55 s and more."""


def start(world: World, slack: LocalSlack, port: int) -> subprocess.Popen[bytes]:
    """`orders-bot run --http` on the world's database (no scheduler: only clicks queue)."""
    return subprocess.Popen(
        [EXE, "run", "--http", "--port", str(port)],
        env={**bot_env(world, slack), "SCHEDULER_ENABLED": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # gunicorn and its worker: one process group, killed as one
    )


def crash(process: subprocess.Popen[bytes]) -> list[int]:
    """kill -9 gunicorn and its workers at once (a lost host); the pids that died."""
    pids = [process.pid, *children_of(process.pid)]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    return pids


def ready(port: int) -> bool:
    """/readyz answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def held_by(world: World, pids: list[int]) -> set[int]:
    """The pending items the outbox workers of these processes hold the lease of (a worker's
    name has its pid)."""
    with world.db.read() as s:
        return {
            item_id
            for pid in pids
            for item_id in s.scalars(
                select(OutboxItem.id).where(
                    OutboxItem.status == PENDING, OutboxItem.locked_by.like(f"%:{pid}:%")
                )
            )
        }


def test_a_killed_bots_notifications_are_taken_over_within_seconds(world: World) -> None:
    """SIGKILL while Slack is slow and the clicks' notifications are in hand: a bot started
    again takes over what the dead one held within seconds (it waited for the 60-second
    lease), and every card, every clicker's view, is delivered exactly once."""
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(ORDERS)]
    world.db.dispose()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        first_port, second_port = free_port(), free_port()
        first = start(world, slack, first_port)
        second: subprocess.Popen[bytes] | None = None
        try:
            wait(lambda: ready(first_port))
            sender = SlackSender(
                f"http://127.0.0.1:{first_port}", SIGNING_SECRET, local_slack=slack
            )
            urls = {
                n: slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
                for n in numbers
            }

            def click(n: int) -> None:
                response = sender.block_action(
                    team_id=TEAM, user_id="U0ANA", action_id="order:confirm", text="Confirm",
                    value=ButtonValue(n, 2, {"k": "detail"}).encode(),
                    channel_id="C0ACME", response_url=urls[n], is_ephemeral=True, message_ts="1.1",
                )  # fmt: skip
                assert response.status == 200

            # Slack answers slowly: each click's notifications are leased, and in hand, a while.
            slack.delay("chat.postMessage", 1.0, times=None)
            slack.delay("chat.update", 1.0, times=None)
            slack.delay("response_url", 1.0, times=None)
            clickers = [threading.Thread(target=click, args=(n,)) for n in numbers]
            for t in clickers:
                t.start()
            for t in clickers:
                t.join()

            def confirmed() -> bool:
                with world.db.read() as s:
                    count = s.scalar(
                        select(func.count())
                        .select_from(OrderEvent)
                        .where(OrderEvent.action == Action.CONFIRM)
                    )
                return count == ORDERS

            wait(confirmed)  # every click's change is committed: now kill it mid-delivery
            pids = [first.pid, *children_of(first.pid)]
            held = held_by(world, pids)
            crash(first)
            killed = time.monotonic()
            assert held, "the dead process held no item: nothing to take over"
            slack.clear_faults()
            # What the dead process had sent Slack is carried out (as Slack would): a post that
            # landed must be found, not posted again.
            slack.wait_for(lambda: slack.in_flight == 0, timeout=10)

            second = start(world, slack, second_port)
            wait(lambda: ready(second_port))
            restarted = time.monotonic() - killed

            def taken_over() -> bool:
                return not held_by(world, pids)

            wait(taken_over, TAKEOVER_DEADLINE + 30)
            took = time.monotonic() - killed
            print(f"restarted {restarted:.1f} s and taken over {took:.1f} s after the kill")
            assert took < TAKEOVER_DEADLINE

            def delivered() -> bool:
                with world.db.read() as s:
                    return not s.scalar(
                        select(func.count())
                        .select_from(OutboxItem)
                        .where(OutboxItem.status == PENDING)
                    )

            wait(delivered, 120)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.wait(60)
        assert second is not None and second.returncode == 0

        with world.db.read() as s:
            per_order = Counter(
                s.scalars(
                    select(Order.number)
                    .join(OrderEvent, OrderEvent.order_id == Order.id)
                    .where(OrderEvent.action == Action.CONFIRM)
                )
            )
        assert sorted(per_order) == sorted(numbers) and set(per_order.values()) == {1}
        cards = [
            m for m in slack.channel_messages("C0PIXEL") if m.get("thread_ts") in (None, m["ts"])
        ]
        per_card = Counter(json.dumps(c["blocks"][1]["block_id"]) for c in cards)
        assert len(cards) == ORDERS and set(per_card.values()) == {1}, per_card  # once each
        assert all("In Development" in json.dumps(c) for c in cards)
        for url in urls.values():
            assert "In Development" in json.dumps(slack.response_messages(url)[-1])


BURST = 50


def test_every_acknowledged_click_survives_a_kill_in_the_middle_of_a_burst(world: World) -> None:
    """50 Confirms at once and `kill -9` 0.3 s later: every click answered 200 was applied (it
    was written before its ack), and after a restart every notice it owed is delivered once.
    Clicks the dead process never answered may or may not be applied: nobody was told either."""
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(BURST)]
    world.db.dispose()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        first_port, second_port = free_port(), free_port()
        first = start(world, slack, first_port)
        second: subprocess.Popen[bytes] | None = None
        acked: list[int] = []
        try:
            wait(lambda: ready(first_port))
            sender = SlackSender(
                f"http://127.0.0.1:{first_port}", SIGNING_SECRET, local_slack=slack
            )
            urls = {
                n: slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
                for n in numbers
            }

            def click(n: int) -> None:
                try:
                    response = sender.block_action(
                        team_id=TEAM, user_id="U0ANA", action_id="order:confirm", text="Confirm",
                        value=ButtonValue(n, 2, {"k": "detail"}).encode(),
                        channel_id="C0ACME", response_url=urls[n], is_ephemeral=True,
                        message_ts="1.1",
                    )  # fmt: skip
                except OSError:
                    return  # the process died before answering: not acknowledged
                if response.status == 200:
                    acked.append(n)

            slack.delay("response_url", 0.5, times=None)  # deliveries in hand when it dies
            clickers = [threading.Thread(target=click, args=(n,)) for n in numbers]
            for t in clickers:
                t.start()
            time.sleep(0.3)  # the point of the test: a kill at an arbitrary moment of the burst
            crash(first)
            for t in clickers:
                t.join(30)
            slack.clear_faults()
            slack.wait_for(lambda: slack.in_flight == 0, timeout=10)
            assert acked, "no click was answered before the kill: nothing to check"

            second = start(world, slack, second_port)
            wait(lambda: ready(second_port))

            def delivered() -> bool:
                with world.db.read() as s:
                    return not s.scalar(
                        select(func.count())
                        .select_from(OutboxItem)
                        .where(OutboxItem.status == PENDING)
                    )

            wait(delivered, 120)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            if second is not None:
                second.send_signal(signal.SIGTERM)
                second.wait(60)

        with world.db.read() as s:
            per_order = Counter(
                s.scalars(
                    select(Order.number)
                    .join(OrderEvent, OrderEvent.order_id == Order.id)
                    .where(OrderEvent.action == Action.CONFIRM)
                )
            )
        assert set(acked) <= set(per_order), "an acknowledged click was lost"
        assert set(per_order.values()) == {1}  # none applied twice
        for n in per_order:  # each applied click: its redraw and its card, once
            messages = slack.response_messages(urls[n])
            assert len(messages) == 1 and "In Development" in json.dumps(messages[0]), n
        cards = [
            m for m in slack.channel_messages("C0PIXEL") if m.get("thread_ts") in (None, m["ts"])
        ]
        per_card = Counter(json.dumps(c["blocks"][1]["block_id"]) for c in cards)
        assert len(cards) == len(per_order) and set(per_card.values()) == {1}, per_card
