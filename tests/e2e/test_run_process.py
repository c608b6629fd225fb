"""`orders-bot run` as an operator starts it: settings checked first, then HTTP mode as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.console.localslack import LocalSlack, SlackSender, Workspace
from orders_core.db import Database
from tests.support.slackbot import SIGNING_SECRET, TOKEN
from tests.support.world import TEAM

EXE = str(Path(sys.executable).with_name("orders-bot"))


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Slack or database settings, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "DATABASE_URL", "PORT", "LOG_"))
    }
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("args", "env", "lines"),
    [
        (
            ["run"],
            {},
            [
                "SLACK_BOT_TOKEN is not set: it should be a bot token starting with xoxb-.",
                "SLACK_APP_TOKEN is not set: it should be an app-level token starting with xapp-.",
            ],
        ),
        (
            ["run", "--http"],
            {"SLACK_BOT_TOKEN": "xoxp-user-token"},
            [
                "SLACK_BOT_TOKEN is malformed: it should be a bot token starting with xoxb-.",
                "SLACK_SIGNING_SECRET is not set",
            ],
        ),
        (
            ["run", "--http"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "not-hex"},
            ["SLACK_SIGNING_SECRET is malformed: it should be the 32 hexadecimal characters"],
        ),
        (
            ["run", "--http"],
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "PORT": "eighty"},
            ["PORT is invalid"],
        ),
        (
            ["run", "--http"],
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": "slack.com",
            },
            ["SLACK_API_URL is invalid: should be an http(s) URL"],
        ),
        (
            ["run", "--http"],
            {
                "SLACK_BOT_TOKEN": "xoxb-1",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "OUTBOX_THREADS": "0",
            },
            ["OUTBOX_THREADS is invalid: Input should be greater than or equal to 1."],
        ),
    ],
)
def test_a_missing_or_malformed_setting_stops_the_start(
    tmp_path: Path, args: list[str], env: dict[str, str], lines: list[str]
) -> None:
    """One line naming each variable and what it should look like; no traceback; exit 2."""
    done = subprocess.run(
        [EXE, *args],
        env=clean_env(**env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    for line in lines:
        assert line in done.stderr
    assert "Traceback" not in done.stderr and "xoxb-1" not in done.stderr


def start_http(
    tmp_path: Path, db: Database, slack: LocalSlack, port: int, **env: str
) -> subprocess.Popen[str]:
    """`orders-bot run --http` on `db`, talking to `slack`, listening on `port`."""
    settings = clean_env(
        DATABASE_URL=db.url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.base_url,
        PORT=str(port),
        HOST="127.0.0.1",
        **env,
    )
    return subprocess.Popen(
        [EXE, "run", "--http"],
        env=settings,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_http_mode_as_a_real_process(tmp_path: Path, sqlite_db: Database) -> None:
    """Served by the production server: health, readiness, a signed command, graceful SIGTERM."""
    from tests.support.world import build_world

    build_world(sqlite_db)
    sqlite_db.dispose()
    port = free_port()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        process = start_http(tmp_path, sqlite_db, slack, port)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                        assert r.read() == b"ok"
                        break
                except OSError:
                    time.sleep(0.1)
            with urllib.request.urlopen(url + "/readyz", timeout=5) as r:
                assert r.status == 200
            sender = SlackSender(url, SIGNING_SECRET, local_slack=slack)
            reply = slack.new_response_url(channel="C0ORDERS", user="U0ANA", team_id=TEAM)
            assert (
                sender.slash_command(
                    team_id=TEAM, user_id="U0ANA", text="help", response_url=reply
                ).status
                == 200
            )
            answer = slack.wait_for(lambda: slack.response_messages(reply))
            assert "Acme Coffee" in str(answer)
            assert (
                sender.slash_command(
                    team_id=TEAM, user_id="U0ANA", text="help", bad_signature=True
                ).status
                == 401
            )
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert "listening on http://127.0.0.1:" in err and "Handling signal: term" in err


def test_sigterm_finishes_the_work_in_hand(tmp_path: Path, sqlite_db: Database) -> None:
    """SIGTERM while the outbox is mid-delivery (Slack slow to answer a card): the click was
    applied before its ack, and the card in hand is delivered before the process exits 0."""
    from sqlalchemy import select

    from bot.ui.orders import ButtonValue
    from orders_core.lifecycle import OrderStatus
    from orders_core.models import Order
    from tests.support.world import build_world

    world = build_world(sqlite_db)
    number = int(world.order_in(OrderStatus.PENDING_CONFIRMATION)[3:])
    sqlite_db.dispose()
    port = free_port()
    with LocalSlack(workspaces={TOKEN: Workspace(team_id=TEAM)}) as slack:
        process = start_http(tmp_path, sqlite_db, slack, port, SCHEDULER_ENABLED="false")
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            sender = SlackSender(url, SIGNING_SECRET, local_slack=slack)
            slack.delay("chat.postMessage", 2.0)  # the provider's card: the outbox item in hand
            reply = slack.new_response_url(channel="C0ACME", user="U0ANA", team_id=TEAM)
            value = ButtonValue(number, 2, {"k": "detail"}).encode()
            response = sender.block_action(
                team_id=TEAM, user_id="U0ANA", action_id="order:confirm", value=value,
                text="Confirm", channel_id="C0ACME", response_url=reply, is_ephemeral=True,
                message_ts="1.1",
            )  # fmt: skip
            assert response.status == 200
            probe = Database(sqlite_db.url)
            with probe.read() as s:  # applied before the ack
                assert s.scalar(select(Order.status).where(Order.number == number)) is (
                    OrderStatus.IN_DEVELOPMENT
                )

            # In hand: the card's post has reached Slack, which takes 2 s to carry it out (a
            # claimed item not yet started is released at SIGTERM, for the next worker).
            slack.wait_for(lambda: slack.in_flight > 0, timeout=60)
            probe.dispose()
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert [
            c
            for c in slack.calls("chat.postMessage")
            if c.ok and c.args.get("channel") == "C0PIXEL"
        ], "the card in hand was not delivered"
