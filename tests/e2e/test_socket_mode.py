"""`orders-bot run` in Socket Mode, as an operator starts it: a real process on an app-level
token, connected to the local Slack's Socket Mode, answering a command, a click and an event."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.console.localslack import (
    AppResponse,
    LocalSlack,
    SocketModeSender,
    Workspace,
    visible_text,
)
from orders_core.db import Database
from orders_core.lifecycle import OrderStatus
from orders_core.models import Order
from orders_core.orders import parse_order_number
from tests.e2e.test_run_process import EXE, clean_env
from tests.support.slackbot import TOKEN
from tests.support.world import MERCHANT, PROVIDER, TEAM, build_world

APP_TOKEN = "xapp-1-A0ORDERS-1-test"
ANA = MERCHANT[2][0]
ACME_CHANNEL = MERCHANT[1]
# Generous: CI is a loaded 2-core box, and a process start imports the whole app.
START_SECONDS = 90
ANSWER_SECONDS = 30


class Bot:
    """The `orders-bot run` process, its log file, and what it is connected to."""

    def __init__(self, process: subprocess.Popen[str], log: Path, slack: LocalSlack) -> None:
        self.process = process
        self.log = log
        self.slack = slack

    def output(self) -> str:
        """What the process wrote on stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    def wait_connected(self) -> None:
        """Wait until the app has opened its Socket Mode connection (or stopped trying)."""
        connected = self.slack.wait_for(
            lambda: self.slack.socket_mode.connections() or self.process.poll() is not None,
            timeout=START_SECONDS,
            description="orders-bot to connect in Socket Mode",
        )
        assert connected is not True, f"orders-bot stopped:\n{self.output()}"

    def stop(self, signum: int) -> int:
        """Send a signal and wait for the process to exit; its exit status."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            raise AssertionError(
                f"orders-bot was still running 60 s after signal {signum}:\n{self.output()}"
            ) from None


@contextmanager
def socket_mode_bot(tmp_path: Path, db: Database, slack: LocalSlack) -> Iterator[Bot]:
    """`orders-bot run` (Socket Mode) on `db`, talking to `slack`; killed if still running."""
    env = clean_env(
        DATABASE_URL=db.url,
        SLACK_BOT_TOKEN=TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.base_url,
        SCHEDULER_ENABLED="false",
    )
    log = tmp_path / "orders-bot.log"
    with log.open("w") as out:
        # A file, not a pipe: nobody reads while the test runs, and a full pipe blocks the bot.
        process = subprocess.Popen(
            [EXE, "run"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    bot = Bot(process, log, slack)
    try:
        yield bot
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def status_of(db: Database, number: str) -> Any:
    """An order's status, read from the database."""
    with db.read() as s:
        return s.scalar(select(Order.status).where(Order.number == parse_order_number(number)))


def seen(slack: LocalSlack, answer: AppResponse, url: str) -> dict[str, Any]:
    """What a person sees after a command: the ack's message, else the response_url's latest."""
    if answer.json():
        return answer.json()
    messages = slack.wait_for(
        lambda: slack.response_messages(url),
        timeout=ANSWER_SECONDS,
        description="the app's answer through the response_url",
    )
    return messages[-1]


def order_button(message: dict[str, Any], number: str, label: str) -> tuple[str, str]:
    """The action_id and value of the button labelled `label` under order `number`."""
    blocks = message.get("blocks") or []
    for index, block in enumerate(blocks):
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") != "button" or element["text"]["text"] != label:
                continue
            # An order's buttons follow its section (and the context line under it).
            near = visible_text({"blocks": blocks[max(0, index - 2) : index + 1]})
            if number in near:
                return str(element["action_id"]), str(element.get("value"))
    raise AssertionError(f"no {label} button for {number} in:\n{visible_text(message)}")


def test_a_command_clicks_a_modal_and_home_over_socket_mode(
    tmp_path: Path, sqlite_db: Database
) -> None:
    """Each envelope acked with its envelope_id; what a person sees, the orders' statuses in
    the database and Home as Slack shows them; SIGTERM ends the process."""
    world = build_world(sqlite_db)
    to_confirm = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    to_reject = world.order_in(OrderStatus.UNDER_APPROVAL)  # a reason is required
    sqlite_db.dispose()
    workspace = Workspace(team_id=TEAM, team_name="Test", team_domain="test")
    with (
        LocalSlack(workspaces={TOKEN: workspace}, default_workspace=workspace) as slack,
        socket_mode_bot(tmp_path, sqlite_db, slack) as bot,
    ):
        slack.add_channel(ACME_CHANNEL, "acme-orders")
        bot.wait_connected()
        sender = SocketModeSender(slack, timeout=ANSWER_SECONDS)
        socket_mode = slack.socket_mode

        # /orders list: both orders listed, each with the buttons a merchant member acts with.
        reply = slack.new_response_url(channel=ACME_CHANNEL, user=ANA, team_id=TEAM)
        listed = sender.slash_command(
            team_id=TEAM, user_id=ANA, text="list", channel_id=ACME_CHANNEL, response_url=reply
        )
        assert listed.envelope_id == socket_mode.envelopes()[-1].envelope_id
        listing = {"ts": "1.1", **seen(slack, listed, reply)}
        assert to_confirm in visible_text(listing) and to_reject in visible_text(listing)

        def click(number: str, label: str) -> AppResponse:
            action_id, value = order_button(listing, number, label)
            return sender.click(
                team_id=TEAM,
                user_id=ANA,
                channel_id=ACME_CHANNEL,
                message=listing,
                action_id=action_id,
                value=value,
                ephemeral=True,
                response_url=slack.new_response_url(
                    channel=ACME_CHANNEL,
                    user=ANA,
                    team_id=TEAM,
                    message_ts=listing["ts"],
                    ephemeral=True,
                ),
            )

        # Confirm, clicked on the order as it is shown: the order moves on in the database.
        clicked = click(to_confirm, "Confirm")
        assert clicked.envelope_id == socket_mode.envelopes()[-1].envelope_id
        slack.wait_for(
            lambda: status_of(sqlite_db, to_confirm) is OrderStatus.IN_DEVELOPMENT,
            timeout=ANSWER_SECONDS,
            description=f"{to_confirm} to be In Development",
        )

        # Reject asks why in a modal; a blank reason is refused in the ack, under the field.
        click(to_reject, "Reject")
        modal = slack.wait_for(
            lambda: slack.open_views(ANA), timeout=ANSWER_SECONDS, description="the modal"
        )[-1]
        reason = next(b["block_id"] for b in modal["blocks"] if b["type"] == "input")
        refused = sender.view_submission(
            team_id=TEAM, user_id=ANA, view=modal, inputs={reason: " "}
        )
        assert refused.json()["response_action"] == "errors", refused.body
        assert reason in refused.json()["errors"]
        assert status_of(sqlite_db, to_reject) is OrderStatus.UNDER_APPROVAL
        sender.view_submission(
            team_id=TEAM, user_id=ANA, view=modal, inputs={reason: "The stamp card is missing"}
        )
        assert slack.open_views(ANA) == []
        slack.wait_for(
            lambda: status_of(sqlite_db, to_reject) is OrderStatus.IN_DEVELOPMENT,
            timeout=ANSWER_SECONDS,
            description=f"{to_reject} to be back In Development",
        )

        # Home: published for the member who opened it.
        opened = sender.app_home_opened(team_id=TEAM, user_id=ANA)
        assert opened.envelope_id == socket_mode.envelopes()[-1].envelope_id
        home = slack.wait_for(
            lambda: slack.home_view(ANA), timeout=ANSWER_SECONDS, description="Home published"
        )
        assert home is not None
        assert slack.last_call("views.publish").args["user_id"] == ANA
        assert to_confirm in visible_text(home), visible_text(home)

        assert [a.envelope_id for a in socket_mode.acks()] == [
            e.envelope_id for e in socket_mode.envelopes()
        ]
        assert [e.type for e in socket_mode.envelopes()] == [
            "slash_commands",
            "interactive",  # Confirm
            "interactive",  # Reject
            "interactive",  # the blank reason
            "interactive",  # the reason
            "events_api",
        ]

        bot.stop(signal.SIGTERM)  # exits (how cleanly: the test below)
        assert "Traceback" not in bot.output(), bot.output()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_socket_mode_after_the_delivery_in_hand(
    tmp_path: Path, sqlite_db: Database, stop_signal: int
) -> None:
    """SIGTERM or Ctrl-C while a card is being delivered (Slack slow to answer): the card is
    delivered, the app closes its connection, and the process exits 0."""
    world = build_world(sqlite_db)
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION)
    sqlite_db.dispose()
    workspace = Workspace(team_id=TEAM, team_name="Test", team_domain="test")
    with (
        LocalSlack(workspaces={TOKEN: workspace}, default_workspace=workspace) as slack,
        socket_mode_bot(tmp_path, sqlite_db, slack) as bot,
    ):
        bot.wait_connected()
        sender = SocketModeSender(slack, timeout=ANSWER_SECONDS)
        reply = slack.new_response_url(channel=ACME_CHANNEL, user=ANA, team_id=TEAM)
        listed = sender.slash_command(
            team_id=TEAM, user_id=ANA, text="list", channel_id=ACME_CHANNEL, response_url=reply
        )
        listing = {"ts": "1.1", **seen(slack, listed, reply)}
        action_id, value = order_button(listing, number, "Confirm")
        # The provider's card: Slack holds its answer, so it is in hand when the signal comes.
        slack.delay("chat.postMessage", 3.0, channel=PROVIDER[1])
        sender.click(
            team_id=TEAM,
            user_id=ANA,
            channel_id=ACME_CHANNEL,
            message=listing,
            action_id=action_id,
            value=value,
            ephemeral=True,
            response_url=slack.new_response_url(
                channel=ACME_CHANNEL, user=ANA, team_id=TEAM, message_ts="1.1", ephemeral=True
            ),
        )
        slack.wait_for(
            lambda: slack.in_flight > 0, timeout=ANSWER_SECONDS, description="the card in hand"
        )

        code = bot.stop(stop_signal)

        assert code == 0, f"exit status {code}:\n{bot.output()}"
        assert "Traceback" not in bot.output(), bot.output()
        assert [c for c in slack.calls("chat.postMessage") if c.args["channel"] == PROVIDER[1]], (
            f"the card in hand was not delivered;\n{slack.describe_calls()}"
        )
        slack.wait_for(
            lambda: not slack.socket_mode.connections(),
            timeout=ANSWER_SECONDS,
            description="the app to close its connection",
        )
