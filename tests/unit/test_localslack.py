"""LocalSlack and SlackSender, exercised over real HTTP: slack_sdk clients, a tiny Bolt app."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, BoltContext, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from bot.console.localslack import (
    LocalSlack,
    SlackSender,
    Workspace,
    find_element,
    state_values,
    visible_text,
)

SECRET = "test-signing-secret"

ORDER_CARD = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*SO-1042* waiting for you"}},
    {
        "type": "actions",
        "block_id": "order_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "confirm",
                "text": {"type": "plain_text", "text": "Confirm"},
                "value": "SO-1042",
                "style": "primary",
            },
            {
                "type": "button",
                "action_id": "reject",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": "SO-1042",
            },
        ],
    },
]

ORDER_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "new_order",
    "private_metadata": "C0SALES",
    "title": {"type": "plain_text", "text": "New order"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "note",
            "label": {"type": "plain_text", "text": "Note"},
            "element": {"type": "plain_text_input", "action_id": "note_input"},
        },
        {
            "type": "input",
            "block_id": "service",
            "label": {"type": "plain_text", "text": "Service"},
            "element": {
                "type": "static_select",
                "action_id": "service_select",
                "options": [
                    {"text": {"type": "plain_text", "text": "Design"}, "value": "design"},
                    {"text": {"type": "plain_text", "text": "Build"}, "value": "build"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "tags",
            "optional": True,
            "label": {"type": "plain_text", "text": "Tags"},
            "element": {
                "type": "checkboxes",
                "action_id": "tags_check",
                "options": [
                    {"text": {"type": "plain_text", "text": "Urgent"}, "value": "urgent"},
                    {"text": {"type": "plain_text", "text": "VIP"}, "value": "vip"},
                ],
            },
        },
        {
            "type": "input",
            "block_id": "brief",
            "optional": True,
            "label": {"type": "plain_text", "text": "Brief"},
            "element": {"type": "file_input", "action_id": "brief_files", "max_files": 2},
        },
        {
            "type": "input",
            "block_id": "due",
            "optional": True,
            "label": {"type": "plain_text", "text": "Due at"},
            "element": {"type": "timepicker", "action_id": "due_time", "initial_time": "09:00"},
        },
    ],
}


@pytest.fixture
def local() -> Iterator[LocalSlack]:
    """A LocalSlack serving on a free port for one test."""
    with LocalSlack() as server:
        yield server


@pytest.fixture
def client(local: LocalSlack) -> WebClient:
    """A slack_sdk WebClient pointed at the LocalSlack, without automatic retries."""
    return WebClient(base_url=local.base_url, token="xoxb-test", retry_handlers=[])


# --------------------------------------------------------------------------- Web API


def test_post_update_and_delete_leave_what_a_person_would_see(
    local: LocalSlack, client: WebClient
) -> None:
    posted = client.chat_postMessage(channel="C0SALES", text="SO-1042 waiting", blocks=ORDER_CARD)
    second = client.chat_postMessage(channel="C0SALES", text="SO-1043 waiting")
    assert abs(float(posted["ts"]) - time.time()) < 60  # like Slack's: the time it was posted
    assert float(second["ts"]) > float(posted["ts"])

    client.chat_update(channel="C0SALES", ts=posted["ts"], text="SO-1042 confirmed by @ana")

    first, other = local.channel_messages("C0SALES")
    assert first["text"] == "SO-1042 confirmed by @ana"
    # chat.update keeps blocks it was not given, as Slack does.
    assert [b["type"] for b in first["blocks"]] == ["section", "actions"]
    assert "SO-1042* waiting" in visible_text(first)
    assert other["text"] == "SO-1043 waiting"

    client.chat_update(channel="C0SALES", ts=posted["ts"], text="SO-1042 done", blocks=[])
    assert "blocks" not in (local.message("C0SALES", posted["ts"]) or {})

    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C0SALES", ts="1.000000", text="nope")
    assert missing.value.response["error"] == "message_not_found"

    client.chat_delete(channel="C0SALES", ts=second["ts"])
    assert [m["ts"] for m in local.channel_messages("C0SALES")] == [posted["ts"]]
    assert local.last_call("chat.update").args["text"] == "nope"
    assert [c.ok for c in local.calls("chat.update")] == [True, True, False]


def test_form_bodies_are_decoded_and_dms_land_in_a_d_channel(
    local: LocalSlack, client: WebClient
) -> None:
    answer = client.api_call(
        "chat.postMessage",
        params={"channel": "U0ANA", "text": "hi", "blocks": json.dumps(ORDER_CARD)},
    )
    assert answer["channel"] == "D0ANA" == local.dm_channel("U0ANA")
    call = local.last_call("chat.postMessage")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.args["blocks"][1]["block_id"] == "order_actions"
    assert call.token == "xoxb-test"
    assert local.channel_messages("U0ANA")[0]["text"] == "hi"
    assert client.conversations_open(users="U0ANA")["channel"]["id"] == "D0ANA"

    client.chat_postEphemeral(channel="C0SALES", user="U0ANA", text="only you")
    assert [m["text"] for m in local.ephemerals(user="U0ANA")] == ["only you"]
    assert local.ephemerals(channel="C0SALES", user="U0BEN") == []


def test_auth_test_tells_workspaces_apart_and_strict_tokens_reject_others() -> None:
    acme = Workspace(
        team_id="T0ACME", team_name="Acme", team_domain="acme", bot_user_id="U0ACMEBOT"
    )
    with LocalSlack(workspaces={"xoxb-acme": acme}, strict_tokens=True) as local:
        acme_auth = WebClient(base_url=local.base_url, token="xoxb-acme").auth_test()
        assert (acme_auth["team_id"], acme_auth["user_id"]) == ("T0ACME", "U0ACMEBOT")
        assert "chat:write" in acme_auth.headers["x-oauth-scopes"]
        with pytest.raises(SlackApiError) as rejected:
            WebClient(base_url=local.base_url, token="xoxb-other").auth_test()
        assert rejected.value.response["error"] == "invalid_auth"

    with LocalSlack() as local:
        default = WebClient(base_url=local.base_url, token="xoxb-any").auth_test()
        assert (default["team_id"], default["user_id"]) == ("T0DEMO", "U0BOT")


def test_users_info_carries_the_configured_time_zone(local: LocalSlack, client: WebClient) -> None:
    local.set_user("U0ANA", name="ana", tz="Asia/Ho_Chi_Minh")
    assert client.users_info(user="U0ANA")["user"]["tz"] == "Asia/Ho_Chi_Minh"
    assert client.users_info(user="U0BEN")["user"]["tz"] == "UTC"


def test_oauth_install_answers_with_the_registered_installation(local: LocalSlack) -> None:
    local.add_installation("code-1", team_id="T0NEW", team_name="New Co", bot_token="xoxb-new")
    client = WebClient(base_url=local.base_url)
    installed = client.oauth_v2_access(client_id="id", client_secret="secret", code="code-1")
    assert installed["access_token"] == "xoxb-new"
    assert installed["team"] == {"id": "T0NEW", "name": "New Co"}
    assert installed["enterprise"] is None
    assert WebClient(base_url=local.base_url, token="xoxb-new").auth_test()["team_id"] == "T0NEW"
    with pytest.raises(SlackApiError) as bad:
        client.oauth_v2_access(client_id="id", client_secret="secret", code="unknown")
    assert bad.value.response["error"] == "invalid_code"


# ------------------------------------------------------------------- fault injection


def test_rate_limit_is_a_429_with_retry_after_seen_by_slack_sdk(
    local: LocalSlack, client: WebClient
) -> None:
    local.fail("chat.postMessage", error="ratelimited", retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0SALES", text="one")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"

    client.chat_postMessage(channel="C0SALES", text="two")
    assert [(c.status, c.error) for c in local.calls("chat.postMessage")] == [
        (429, "ratelimited"),
        (200, None),
    ]
    assert [m["text"] for m in local.channel_messages("C0SALES")] == ["two"]


def test_server_errors_slack_errors_and_outages(local: LocalSlack, client: WebClient) -> None:
    local.fail("*", status=503, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as unavailable:
            client.chat_postMessage(channel="C0SALES", text="x")
        assert unavailable.value.response.status_code == 503

    local.fail("chat.postMessage", error="not_in_channel")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C0SALES", text="x")
    assert (refused.value.response.status_code, refused.value.response["error"]) == (
        200,
        "not_in_channel",
    )

    local.outage()
    with pytest.raises(SlackApiError):
        client.auth_test()
    with pytest.raises(SlackApiError):
        client.views_publish(user_id="U0ANA", view={"type": "home", "blocks": []})
    local.recover()
    client.chat_postMessage(channel="C0SALES", text="back")
    assert [c.status for c in local.calls()] == [503, 503, 200, 500, 500, 200]
    assert [m["text"] for m in local.channel_messages("C0SALES")] == ["back"]


def test_delay_makes_a_client_time_out_and_the_attempt_is_recorded(local: LocalSlack) -> None:
    local.delay("chat.postMessage", 0.3)
    slow_client = WebClient(
        base_url=local.base_url, token="xoxb-test", timeout=0.1, retry_handlers=[]
    )
    with pytest.raises(Exception, match="timed out"):
        slow_client.chat_postMessage(channel="C0SALES", text="late")
    calls = local.wait_for_calls("chat.postMessage", 1, timeout=2)
    assert calls[0].args["text"] == "late"


def test_wait_for_explains_what_was_recorded_when_it_times_out(
    local: LocalSlack, client: WebClient
) -> None:
    client.chat_postMessage(channel="C0SALES", text="hello")
    with pytest.raises(AssertionError) as waited:
        local.wait_for_calls("chat.update", 1, timeout=0.2)
    message = str(waited.value)
    assert "1 chat.update call(s)" in message
    assert "chat.postMessage -> 200" in message
    assert '"text": "hello"' in message


def test_wait_for_returns_once_a_background_thread_calls(
    local: LocalSlack, client: WebClient
) -> None:
    timer = threading.Timer(0.05, lambda: client.chat_postMessage(channel="C1", text="later"))
    timer.start()
    try:
        messages = local.wait_for(lambda: local.channel_messages("C1"), timeout=2)
    finally:
        timer.join()
    assert messages[0]["text"] == "later"


# ----------------------------------------------------------------------- response_url


def test_response_url_replace_and_delete_original_act_on_the_clicked_message(
    local: LocalSlack, client: WebClient
) -> None:
    card = client.chat_postMessage(channel="C0SALES", text="SO-1042", blocks=ORDER_CARD)
    url = local.new_response_url(channel="C0SALES", user="U0ANA", message_ts=card["ts"])
    webhook = WebhookClient(url)

    assert webhook.send(text="SO-1042 confirmed", replace_original=True).status_code == 200
    replaced = local.message("C0SALES", card["ts"])
    assert replaced is not None
    # replace_original replaces the whole message: the buttons are gone.
    assert (replaced["text"], "blocks" in replaced) == ("SO-1042 confirmed", False)

    webhook.send(text="Only you can see this")
    assert [m["text"] for m in local.ephemerals("C0SALES", "U0ANA")] == ["Only you can see this"]
    assert [m["text"] for m in local.response_messages(url)] == [
        "SO-1042 confirmed",
        "Only you can see this",
    ]

    webhook.send(delete_original=True)
    assert local.message("C0SALES", card["ts"]) is None
    assert [c.args.get("replace_original") for c in local.calls("response_url")] == [
        True,
        None,
        None,
    ]


def test_response_url_first_post_becomes_the_original_and_uses_run_out(local: LocalSlack) -> None:
    url = local.new_response_url(channel="C0SALES", user="U0ANA")
    webhook = WebhookClient(url)
    webhook.send(text="Working on it…")
    webhook.send(text="SO-1042 created", replace_original=True)
    assert [m["text"] for m in local.response_messages(url)] == ["SO-1042 created"]

    webhook.send(text="Posted for everyone", response_type="in_channel")
    assert [m["text"] for m in local.channel_messages("C0SALES")] == ["Posted for everyone"]

    webhook.send(text="fourth")
    webhook.send(text="fifth")
    used_up = webhook.send(text="sixth")
    assert used_up.status_code == 404
    assert json.loads(used_up.body)["error"] == "used_url"
    assert [c.status for c in local.calls("response_url")] == [200] * 5 + [404]


def test_set_response_message_gives_replace_original_a_target(local: LocalSlack) -> None:
    url = local.new_response_url(channel="C0SALES", user="U0ANA")
    local.set_response_message(url, {"text": "Pick a service", "blocks": ORDER_CARD})
    WebhookClient(url).send(text="Picked", replace_original=True)
    assert [m["text"] for m in local.response_messages(url)] == ["Picked"]


# ----------------------------------------------------------------------------- views


def test_modal_stack_home_tab_and_trigger_rules(local: LocalSlack, client: WebClient) -> None:
    opened = client.views_open(trigger_id=local.new_trigger_id("U0ANA"), view=ORDER_MODAL)["view"]
    assert opened["id"].startswith("V")
    assert opened["callback_id"] == "new_order"
    assert opened["state"] == {"values": {}}
    assert opened["root_view_id"] == opened["id"]

    pushed = client.views_push(
        trigger_id=local.new_trigger_id("U0ANA"), view={**ORDER_MODAL, "callback_id": "step2"}
    )["view"]
    assert pushed["previous_view_id"] == opened["id"]
    assert [v["callback_id"] for v in local.open_views("U0ANA")] == ["new_order", "step2"]

    with pytest.raises(SlackApiError) as conflict:
        client.views_update(view_id=opened["id"], hash="stale", view=ORDER_MODAL)
    assert conflict.value.response["error"] == "hash_conflict"
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view={**ORDER_MODAL, "private_metadata": "x"}
    )["view"]
    assert (updated["id"], updated["private_metadata"]) == (opened["id"], "x")

    reused = local.new_trigger_id("U0ANA")
    client.views_open(trigger_id=reused, view=ORDER_MODAL)
    with pytest.raises(SlackApiError) as exchanged:
        client.views_open(trigger_id=reused, view=ORDER_MODAL)
    assert exchanged.value.response["error"] == "exchanged_trigger_id"
    local.trigger_ttl = -1.0
    with pytest.raises(SlackApiError) as expired:
        client.views_open(trigger_id=local.new_trigger_id("U0ANA"), view=ORDER_MODAL)
    assert expired.value.response["error"] == "expired_trigger_id"

    home = {"type": "home", "blocks": ORDER_CARD}
    first = client.views_publish(user_id="U0ANA", view=home)["view"]
    again = client.views_publish(user_id="U0ANA", view=home)["view"]
    assert first["id"] == again["id"] and first["hash"] != again["hash"]
    assert "SO-1042" in visible_text(local.home_view("U0ANA") or {})
    assert local.home_view("U0BEN") is None


def test_state_values_reads_each_input_type_from_the_view() -> None:
    files: list[str] = []

    def make_file(name: Any) -> dict[str, Any]:
        files.append(str(name))
        return {"id": "F1", "name": name}

    values = state_values(
        ORDER_MODAL["blocks"],
        {"note": "rush please", "service": "build", "tags": ["vip"], "brief": ["spec.pdf"]},
        make_file=make_file,
    )
    assert values == {
        "note": {"note_input": {"type": "plain_text_input", "value": "rush please"}},
        "service": {
            "service_select": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Build", "emoji": True},
                    "value": "build",
                },
            }
        },
        "tags": {
            "tags_check": {
                "type": "checkboxes",
                "selected_options": [
                    {"text": {"type": "plain_text", "text": "VIP", "emoji": True}, "value": "vip"}
                ],
            }
        },
        "brief": {
            "brief_files": {"type": "file_input", "files": [{"id": "F1", "name": "spec.pdf"}]}
        },
        "due": {"due_time": {"type": "timepicker", "selected_time": "09:00"}},
    }
    with pytest.raises(LookupError, match="no option 'sell'"):
        state_values(ORDER_MODAL["blocks"], {"service": "sell"})
    with pytest.raises(LookupError, match="no input for \\['nope'\\]"):
        state_values(ORDER_MODAL["blocks"], {"nope": "x"})
    with pytest.raises(LookupError, match="elements present"):
        find_element(ORDER_CARD, "archive")


# ---------------------------------------------------------------- what the sender sends


@dataclass
class _Captured:
    requests: list[tuple[dict[str, str], str]] = field(default_factory=list)


@pytest.fixture
def capture() -> Iterator[tuple[str, _Captured]]:
    """A bare HTTP endpoint that records what it is sent and answers 200 with an empty body."""
    captured = _Captured()

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
            captured.requests.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_requests_are_signed_and_shaped_as_slack_sends_them(
    local: LocalSlack, capture: tuple[str, _Captured]
) -> None:
    url, captured = capture
    sender = SlackSender(url, SECRET, local_slack=local)
    local.add_channel("C0SALES", "sales")

    sender.slash_command(team_id="T0DEMO", user_id="U0ANA", channel_id="C0SALES", text="list mine")
    sender.event(
        team_id="T0DEMO",
        event={"type": "app_mention", "user": "U0ANA", "text": "hi"},
        event_id="Ev1",
        retry_num=1,
        retry_reason="http_timeout",
    )
    sender.block_action(
        team_id="T0DEMO", user_id="U0ANA", action_id="confirm", value="SO-1", channel_id="C0SALES"
    )

    verifier = SignatureVerifier(SECRET)
    for headers, body in captured.requests:
        assert verifier.is_valid(
            body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
        )

    (cmd_headers, cmd_body), (event_headers, event_body), (_, action_body) = captured.requests
    command = {k: v[0] for k, v in parse_qs(cmd_body, keep_blank_values=True).items()}
    assert cmd_headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert list(command) == [
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "is_enterprise_install",
        "response_url",
        "trigger_id",
    ]
    assert (command["command"], command["text"], command["channel_name"]) == (
        "/orders",
        "list mine",
        "sales",
    )
    assert command["response_url"].startswith(local.url + "response/")

    envelope = json.loads(event_body)
    assert event_headers["X-Slack-Retry-Num"] == "1"
    assert event_headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == (
        "event_callback",
        "Ev1",
        "T0DEMO",
    )
    assert envelope["authorizations"][0]["user_id"] == "U0BOT"

    payload = json.loads(parse_qs(action_body)["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["container"]["type"] == "message"
    assert payload["channel"] == {"id": "C0SALES", "name": "sales"}
    assert payload["actions"][0]["value"] == "SO-1"
    assert payload["response_url"].startswith(local.url + "response/")


# ------------------------------------------------------------------ a real Bolt app


class _QuietWSGIRequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class _BoltHarness:
    local: LocalSlack
    sender: SlackSender


@pytest.fixture
def bolt(local: LocalSlack) -> Iterator[_BoltHarness]:
    """A small Bolt app served over HTTP, whose WebClient talks to the LocalSlack."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(base_url=local.base_url, token="xoxb-test"),
    )

    @app.command("/orders")
    def orders(ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        if command["text"] == "new":
            ack()
            client.views_open(trigger_id=command["trigger_id"], view=ORDER_MODAL)
            return
        ack("Looking up your orders…")
        client.chat_postMessage(channel=command["channel_id"], text="SO-1042", blocks=ORDER_CARD)

    @app.action("confirm")
    def confirm(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        ack()
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text=f"{body['actions'][0]['value']} confirmed by <@{context.user_id}>",
            blocks=[],
        )

    @app.action("reject")
    def reject(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="SO-1042 rejected", replace_original=True)

    @app.view("new_order")
    def new_order(ack: Ack, view: dict[str, Any], client: WebClient) -> None:
        note = view["state"]["values"]["note"]["note_input"]["value"]
        if not note:
            ack(response_action="errors", errors={"note": "Say what you need"})
            return
        ack()
        service = view["state"]["values"]["service"]["service_select"]["selected_option"]
        client.chat_postMessage(
            channel=view["private_metadata"], text=f"New {service['value']} order: {note}"
        )

    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), handler_class=_QuietWSGIRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        app_url = f"http://127.0.0.1:{server.server_port}"
        yield _BoltHarness(local, SlackSender(app_url, SECRET, local_slack=local))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_bolt_app_command_then_click_updates_the_card(bolt: _BoltHarness) -> None:
    local, sender = bolt.local, bolt.sender
    answer = sender.slash_command(team_id="T0DEMO", user_id="U0ANA", channel_id="C0SALES")
    assert answer.status == 200
    # Bolt answers ack("text") with the bare text; Slack shows it to the user only.
    assert answer.body == "Looking up your orders…"

    posted = local.wait_for_calls("chat.postMessage")[0]
    assert posted.args["channel"] == "C0SALES"
    card = local.channel_messages("C0SALES")[0]
    assert [b["type"] for b in card["blocks"]] == ["section", "actions"]

    clicked = sender.click(
        team_id="T0DEMO", user_id="U0ANA", channel_id="C0SALES", ts=card["ts"], action_id="confirm"
    )
    assert clicked.status == 200
    update = local.wait_for_calls("chat.update")[0]
    assert update.args == {
        "channel": "C0SALES",
        "ts": card["ts"],
        "text": "SO-1042 confirmed by <@U0ANA>",
        "blocks": [],
        "team_id": "T0DEMO",  # Bolt's per-request client adds it
    }
    assert local.channel_messages("C0SALES")[0]["text"] == "SO-1042 confirmed by <@U0ANA>"


def test_bolt_app_respond_replaces_the_clicked_message(bolt: _BoltHarness) -> None:
    local, sender = bolt.local, bolt.sender
    sender.slash_command(team_id="T0DEMO", user_id="U0ANA", channel_id="C0SALES")
    card = local.wait_for(lambda: local.channel_messages("C0SALES"))[0]
    sender.click(
        team_id="T0DEMO", user_id="U0BEN", channel_id="C0SALES", ts=card["ts"], action_id="reject"
    )
    local.wait_for(
        lambda: (local.message("C0SALES", card["ts"]) or {}).get("text") == "SO-1042 rejected"
    )
    assert local.last_call("response_url").args["replace_original"] is True


def test_bolt_app_modal_submission_errors_then_closes(bolt: _BoltHarness) -> None:
    local, sender = bolt.local, bolt.sender
    assert sender.slash_command(team_id="T0DEMO", user_id="U0ANA", text="new").status == 200
    modal = local.wait_for(lambda: local.open_views("U0ANA"))[0]
    assert modal["callback_id"] == "new_order"

    refused = sender.view_submission(team_id="T0DEMO", user_id="U0ANA", inputs={"service": "build"})
    assert refused.json() == {"response_action": "errors", "errors": {"note": "Say what you need"}}
    assert len(local.open_views("U0ANA")) == 1

    accepted = sender.view_submission(
        team_id="T0DEMO", user_id="U0ANA", inputs={"note": "rush", "service": "build"}
    )
    assert (accepted.status, accepted.body) == (200, "")
    assert local.open_views("U0ANA") == []
    posted = local.wait_for(lambda: local.channel_messages("C0SALES"))
    assert posted[0]["text"] == "New build order: rush"


def test_bolt_app_rejects_bad_signatures_and_old_timestamps(bolt: _BoltHarness) -> None:
    sender = bolt.sender
    assert sender.slash_command(team_id="T0DEMO", user_id="U0ANA", bad_signature=True).status == 401
    assert sender.slash_command(team_id="T0DEMO", user_id="U0ANA", sign=False).status == 401
    stale = int(time.time()) - 6 * 60
    assert sender.slash_command(team_id="T0DEMO", user_id="U0ANA", timestamp=stale).status == 401
    assert bolt.local.calls("chat.postMessage") == []
