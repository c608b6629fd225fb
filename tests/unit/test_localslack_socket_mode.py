"""LocalSlack's Socket Mode, met by slack_sdk's own Socket Mode client under a small Bolt app:
apps.connections.open, hello, envelopes shaped as Slack sends them, acks, reconnection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_bolt import Ack, App, Say
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.console.localslack import LocalSlack, SocketModeSender

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-1-A0ORDERS-1-secret"

CARD = [
    {
        "type": "actions",
        "block_id": "order",
        "elements": [
            {
                "type": "button",
                "action_id": "confirm",
                "text": {"type": "plain_text", "text": "Confirm"},
                "value": "SO-1042",
            }
        ],
    }
]

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reason",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


@pytest.fixture
def local() -> Iterator[LocalSlack]:
    """A LocalSlack serving on a free port for one test."""
    with LocalSlack() as server:
        yield server


@dataclass
class SocketApp:
    """A Bolt app connected to the LocalSlack in Socket Mode, and a sender of envelopes."""

    app: App
    handler: SocketModeHandler
    sender: SocketModeSender


@pytest.fixture
def socket_app(local: LocalSlack) -> Iterator[SocketApp]:
    """A small Bolt app run by slack_bolt's SocketModeHandler (slack_sdk's builtin client)."""
    app = App(
        client=WebClient(base_url=local.base_url, token=BOT_TOKEN),
        signing_secret="unused-in-socket-mode",
    )

    @app.command("/orders")
    def orders(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=f"You asked for {command['text']} in #{command['channel_name']}")

    @app.action("confirm")
    def confirm(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text="Confirmed", blocks=[]
        )

    @app.view("reason")
    def reason(ack: Ack, view: dict[str, Any]) -> None:
        if not view["state"]["values"]["why"]["text"]["value"].strip():
            ack(response_action="errors", errors={"why": "Say why"})
        else:
            ack()

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient, say: Say) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": CARD})

    handler = SocketModeHandler(app, APP_TOKEN)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        local.socket_mode.wait_connected(timeout=30)
        yield SocketApp(app, handler, SocketModeSender(local, timeout=30))
    finally:
        handler.close()  # type: ignore[no-untyped-call]


def test_connections_open_takes_only_the_app_token(local: LocalSlack) -> None:
    opened = WebClient(base_url=local.base_url).apps_connections_open(app_token=APP_TOKEN)
    assert opened["url"].startswith(f"ws://127.0.0.1:{local.socket_mode.port}/link/?ticket=")

    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(base_url=local.base_url).apps_connections_open(app_token=BOT_TOKEN)
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        WebClient(base_url=local.base_url, token=APP_TOKEN).chat_postMessage(
            channel="C0ACME", text="x"
        )


def test_a_connection_is_greeted_with_hello_and_a_ticket_serves_once(local: LocalSlack) -> None:
    url = WebClient(base_url=local.base_url).apps_connections_open(app_token=APP_TOKEN)["url"]
    with connect(url) as websocket:
        hello = json.loads(websocket.recv(timeout=30))
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0ORDERS"}
        assert "host" in hello["debug_info"]
    with pytest.raises(InvalidStatus) as refused:
        connect(url)
    assert refused.value.response.status_code == 403


def test_a_slash_command_is_acked_with_the_answer_a_person_sees(
    local: LocalSlack, socket_app: SocketApp
) -> None:
    local.add_channel("C0ACME", "acme-orders")
    answer = socket_app.sender.slash_command(
        team_id="T0DEMO", user_id="U0ANA", text="list", channel_id="C0ACME"
    )

    assert answer.json() == {"text": "You asked for list in #acme-orders"}
    [envelope] = local.socket_mode.envelopes()
    assert answer.envelope_id == envelope.envelope_id
    assert envelope.message["type"] == "slash_commands"
    assert envelope.message["accepts_response_payload"] is True
    assert envelope.payload["command"] == "/orders"
    assert envelope.payload["response_url"].startswith(local.url)


def test_a_click_and_a_submission_arrive_as_interactive_envelopes(
    local: LocalSlack, socket_app: SocketApp
) -> None:
    card = WebClient(base_url=local.base_url, token=BOT_TOKEN).chat_postMessage(
        channel="C0ACME", text="SO-1042", blocks=CARD
    )
    clicked = socket_app.sender.click(
        team_id="T0DEMO", user_id="U0ANA", channel_id="C0ACME", ts=card["ts"], action_id="confirm"
    )
    assert clicked.body == ""  # a plain ack()
    local.wait_for(lambda: (local.message("C0ACME", card["ts"]) or {})["text"] == "Confirmed")

    view = WebClient(base_url=local.base_url, token=BOT_TOKEN).views_open(
        trigger_id=local.new_trigger_id("U0ANA"), view=MODAL
    )["view"]
    refused = socket_app.sender.view_submission(
        team_id="T0DEMO", user_id="U0ANA", view=view, inputs={"why": " "}
    )
    assert refused.json() == {"response_action": "errors", "errors": {"why": "Say why"}}
    assert local.open_views("U0ANA")  # still open, with the error under the field
    socket_app.sender.view_submission(
        team_id="T0DEMO", user_id="U0ANA", view=view, inputs={"why": "Too late"}
    )
    assert local.open_views("U0ANA") == []

    kinds = [(e.type, e.payload["type"], e.accepts_response_payload) for e in _sent(local)]
    assert kinds == [
        ("interactive", "block_actions", False),
        ("interactive", "view_submission", True),
        ("interactive", "view_submission", True),
    ]
    assert [a.envelope_id for a in local.socket_mode.acks()] == [
        e.envelope_id for e in _sent(local)
    ]


def test_an_event_arrives_as_events_api_and_a_retry_says_so(
    local: LocalSlack, socket_app: SocketApp
) -> None:
    socket_app.sender.app_home_opened(team_id="T0DEMO", user_id="U0ANA")
    home = local.wait_for(lambda: local.home_view("U0ANA"), timeout=30)
    assert home is not None
    assert home["blocks"][0]["elements"][0]["action_id"] == "confirm"

    socket_app.sender.app_home_opened(
        team_id="T0DEMO", user_id="U0ANA", retry_num=1, retry_reason="timeout"
    )
    first, retry = local.socket_mode.envelopes()
    assert first.message["type"] == "events_api"
    assert (first.message["retry_attempt"], retry.message["retry_attempt"]) == (0, 1)
    assert retry.message["retry_reason"] == "timeout"
    assert first.payload["type"] == "event_callback"
    assert first.payload["event"]["type"] == "app_home_opened"


def test_a_disconnect_makes_the_app_connect_again(local: LocalSlack, socket_app: SocketApp) -> None:
    first = local.socket_mode.connections()[0]
    local.socket_mode.disconnect()
    local.wait_for(
        lambda: local.socket_mode.connections() not in ([], [first]),
        timeout=30,
        description="a new connection",
    )
    assert len(local.calls("apps.connections.open")) == 2
    answer = socket_app.sender.slash_command(team_id="T0DEMO", user_id="U0ANA", text="again")
    assert "again" in answer.json()["text"]

    local.reset()  # a new test on the same connection starts from nothing
    assert local.socket_mode.envelopes() == [] and local.socket_mode.acks() == []
    assert len(local.socket_mode.connections()) == 1


def _sent(local: LocalSlack) -> list[Any]:
    return local.socket_mode.envelopes()
