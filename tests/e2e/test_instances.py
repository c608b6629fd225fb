"""Several instances on one PostgreSQL database, as real processes: two HTTP instances under
gunicorn (one with two workers), a notification worker and a scheduler alone. Conflicting clicks
go to both at once. And what gunicorn does for a service: a stop that keeps every acked click,
a worker killed and replaced."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.console.localslack import LocalSlack, SlackSender, Workspace
from bot.ui.orders import ButtonValue
from orders_core.lifecycle import Action, OrderStatus
from orders_core.models import Order, OrderEvent, OutboxItem, ReminderRun
from orders_core.reminders import PolicySpec, save_policy
from tests.integration.test_scheduler import seed_missed_job, slot_minutes_ago
from tests.support.slackbot import SIGNING_SECRET, TOKEN
from tests.support.world import TEAM, World

EXE = str(Path(sys.executable).with_name("orders-bot"))
ORDERS = 20


def free_port() -> int:
    """A port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(condition, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll until true (the processes work on their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.postgres
def test_two_http_instances_and_a_scheduler_on_postgres(world_pg: World) -> None:
    """One transition per order, every message consistent, each digest once."""
    world = world_pg
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(ORDERS)]
    for _ in range(3):  # due for the provider's reminder
        world.order_in(OrderStatus.NEW, now=datetime.now(UTC) - timedelta(days=2))
    hhmm, slot = slot_minutes_ago(3)
    with world.db.transaction() as s:
        policy = save_policy(
            s, world.caller("U0PIA"),
            PolicySpec(channel_id="C0PIXEL", days=tuple(range(7)), times=(hhmm,), time_zone="UTC", min_age=timedelta(hours=1), escalate_after=None),
            now=datetime.now(UTC),
        )  # fmt: skip
    seed_missed_job(world.db, policy.id, hhmm, slot)
    world.db.dispose()

    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        env = bot_env(world, slack)
        ports = [free_port(), free_port()]
        processes = [
            subprocess.Popen(
                # The first instance serves its port with two gunicorn workers.
                [EXE, "run", "--http", "--port", str(p), "--workers", "2" if k == 0 else "1"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k, p in enumerate(ports)
        ] + [
            subprocess.Popen(
                [EXE, command],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in ("scheduler", "worker")
        ]
        forked: list[int] = []
        logs: list[list[str]] = [[] for _ in processes]
        readers = [
            threading.Thread(target=lambda i=i: logs[i].extend(processes[i].stderr), daemon=True)
            for i in range(len(processes))
        ]  # type: ignore[arg-type]
        for r in readers:
            r.start()
        try:
            for port in ports:
                wait(lambda port=port: _healthy(port))
            senders = [
                SlackSender(f"http://127.0.0.1:{p}", SIGNING_SECRET, local_slack=slack)
                for p in ports
            ]
            urls: dict[tuple[int, str], str] = {}

            def click(sender: SlackSender, user: str) -> None:
                for n in numbers:
                    url = slack.new_response_url(channel="C0ACME", user=user, team_id=TEAM)
                    urls[(n, user)] = url
                    value = ButtonValue(n, 2, {"k": "detail"}).encode()
                    response = sender.block_action(
                        team_id=TEAM, user_id=user, action_id="order:confirm", value=value, text="Confirm",
                        channel_id="C0ACME", response_url=url, is_ephemeral=True, message_ts="1.1",
                    )  # fmt: skip
                    assert response.status == 200

            clickers = [
                threading.Thread(target=click, args=(senders[0], "U0ANA")),
                threading.Thread(target=click, args=(senders[1], "U0BEN")),
            ]
            for t in clickers:
                t.start()
            for t in clickers:
                t.join()

            def settled() -> bool:
                with world.db.read() as s:
                    confirms = s.scalar(
                        select(func.count())
                        .select_from(OrderEvent)
                        .where(OrderEvent.action == Action.CONFIRM)
                    )
                    pending = s.scalar(
                        select(func.count())
                        .select_from(OutboxItem)
                        .where(OutboxItem.status == "pending")
                    )
                    posted = s.scalar(
                        select(func.count())
                        .select_from(ReminderRun)
                        .where(ReminderRun.status == "posted")
                    )
                return confirms == ORDERS and pending == 0 and posted == 1

            wait(settled, 90)
            forked += children_of(processes[0].pid)
            assert len(forked) == 2  # --workers 2: gunicorn's two workers
        finally:
            for p in processes:
                p.send_signal(signal.SIGTERM)
            for p in processes:
                p.wait(timeout=60)
            for r in readers:
                r.join(10)
            for p in processes:
                assert p.stderr is not None
                p.stderr.close()
        assert [p.returncode for p in processes] == [0, 0, 0, 0], logs
        assert forked and not any(alive(pid) for pid in forked)  # SIGTERM stopped it too

    with world.db.read() as s:
        per_order = dict(
            s.execute(
                select(OrderEvent.order_id, func.count())
                .where(OrderEvent.action == Action.CONFIRM)
                .group_by(OrderEvent.order_id)
            ).all()
        )
        statuses = set(s.scalars(select(Order.status).where(Order.number.in_(numbers))))
    assert set(per_order.values()) == {1} and len(per_order) == ORDERS  # one transition per order
    assert statuses == {OrderStatus.IN_DEVELOPMENT}
    cards = [
        m
        for m in slack.channel_messages("C0PIXEL")
        if m.get("thread_ts") in (None, m["ts"]) and "waiting on" not in json.dumps(m)
    ]
    assert len(cards) == ORDERS and all("In Development" in json.dumps(c) for c in cards)
    for url in urls.values():  # the winner's and the loser's views both end In Development
        assert "In Development" in json.dumps(slack.response_messages(url)[-1])
    digests = [
        m
        for m in slack.channel_messages("C0PIXEL")
        if "waiting on Blue Pixel Studio" in json.dumps(m)
    ]
    assert len(digests) == 1  # three schedulers, one digest
    lines = [json.loads(line) for log in logs for line in log if line.startswith("{")]
    assert any(
        line.get("order") and line.get("request_id") and line.get("user_id") and line.get("team_id")
        for line in lines
    )
    assert not any(
        TOKEN in json.dumps(line) or SIGNING_SECRET in json.dumps(line) for line in lines
    )


def bot_env(world: World, slack: LocalSlack) -> dict[str, str]:
    """The environment of `orders-bot` processes on the world's database and the local Slack."""
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "DATABASE_URL", "PORT", "SCHEDULER", "HTTP_", "LOG_"))
        },
        "DATABASE_URL": world.db.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.base_url,
        "HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
    }


def test_a_service_stopped_right_after_a_burst_keeps_every_acked_click(world: World) -> None:
    """`--workers 2`, a burst of clicks while Slack is slow, then SIGTERM to the whole process
    group at once (as systemd stops a service): every click acked was applied once before its
    ack, the service exits 0, and what it still owed Slack is delivered, once, by the next
    process to run (here a worker alone)."""
    numbers = [int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:]) for _ in range(ORDERS)]
    world.db.dispose()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        port = free_port()
        env = {**bot_env(world, slack), "SCHEDULER_ENABLED": "false"}
        process = subprocess.Popen(
            [EXE, "run", "--http", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a process group of its own, to signal as a whole
        )
        lines: list[str] = []
        assert process.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
        reader.start()
        try:
            wait(lambda: _healthy(port))
            children = children_of(process.pid)
            assert len(children) == 2
            sender = SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, local_slack=slack)
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

            slack.delay("response_url", 1.5, times=None)  # each redraw is slow: work piles up
            clickers = [threading.Thread(target=click, args=(n,)) for n in numbers]
            for t in clickers:
                t.start()
            for t in clickers:
                t.join()
            # Every click acked: each was applied before its ack (nothing waits in a pool).
            assert confirmed_once(world, numbers)
            assert not all(slack.response_messages(url) for url in urls.values())
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=90)
            reader.join(10)
            process.stderr.close()
        assert process.returncode == 0, lines
        assert not any(alive(pid) for pid in children)
        slack.clear_faults()
        worker = subprocess.Popen(
            [EXE, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait(lambda: all(slack.response_messages(url) for url in urls.values()), 90)
            wait(lambda: nothing_pending(world), 60)
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        assert worker.returncode == 0
    assert confirmed_once(world, numbers)
    for url in urls.values():  # each redraw delivered once, showing the change
        messages = slack.response_messages(url)
        assert len(messages) == 1 and "In Development" in json.dumps(messages[-1])
    cards = [m for m in slack.channel_messages("C0PIXEL") if m.get("thread_ts") in (None, m["ts"])]
    assert len(cards) == ORDERS  # one card per order, none twice


def test_a_killed_worker_is_replaced_and_the_service_goes_on(world: World) -> None:
    """A gunicorn worker gone (the OOM killer, kill -9) while serving: gunicorn starts another,
    and the service answers clicks as before."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    world.db.dispose()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        port = free_port()
        process = subprocess.Popen(
            [EXE, "run", "--http", "--port", str(port), "--workers", "2"],
            env={**bot_env(world, slack), "SCHEDULER_ENABLED": "false"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait(lambda: _healthy(port))
            children = children_of(process.pid)
            assert len(children) == 2
            os.kill(children[0], signal.SIGKILL)
            wait(lambda: len(set(children_of(process.pid)) - {children[0]}) == 2, 60)
            wait(lambda: _healthy(port))
            sender = SlackSender(f"http://127.0.0.1:{port}", SIGNING_SECRET, local_slack=slack)
            for _ in range(4):  # each worker answers some of them
                url = slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
                assert (
                    sender.slash_command(
                        team_id=TEAM, user_id="U0ANA", text=number, response_url=url
                    ).status
                    == 200
                )
                assert number in json.dumps(slack.response_messages(url))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        assert process.returncode == 0


def confirmed_once(world: World, numbers: list[int]) -> bool:
    """Every one of these orders confirmed exactly once, and In Development."""
    with world.db.read() as s:
        per_order = dict(
            s.execute(
                select(Order.number, func.count())
                .join(OrderEvent, OrderEvent.order_id == Order.id)
                .where(OrderEvent.action == Action.CONFIRM)
                .group_by(Order.number)
            ).all()
        )
        statuses = set(s.scalars(select(Order.status).where(Order.number.in_(numbers))))
    return (
        sorted(per_order) == sorted(numbers)
        and set(per_order.values()) == {1}
        and statuses == {OrderStatus.IN_DEVELOPMENT}
    )


def nothing_pending(world: World) -> bool:
    """The outbox is empty."""
    with world.db.read() as s:
        return not s.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "pending")
        )


def children_of(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (zombies are gone once reaped)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rpartition(")")[2].split()[:2]
        except OSError:
            continue
        if int(ppid) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False
