"""LocalSlack's faults as slack_sdk clients meet them over real HTTP: answers lost after a call
took effect, refusals by rule (a predicate, a channel, a token, for a while), narrowed delays."""

from __future__ import annotations

import time
from collections.abc import Iterator
from http.client import RemoteDisconnected
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.console.localslack import LocalSlack, Workspace

TOKEN = "xoxb-test"


@pytest.fixture
def local() -> Iterator[LocalSlack]:
    """A LocalSlack serving on a free port for one test."""
    with LocalSlack() as server:
        yield server


def web_client(local: LocalSlack, **options: Any) -> WebClient:
    """A slack_sdk WebClient pointed at the LocalSlack (no retries unless given)."""
    options.setdefault("retry_handlers", [])
    return WebClient(base_url=local.base_url, token=options.pop("token", TOKEN), **options)


def texts(local: LocalSlack, channel: str) -> list[str]:
    """The texts of a channel's messages, oldest first."""
    return [m["text"] for m in local.channel_messages(channel)]


# ------------------------------------------------------------------ lost answers


def test_a_lost_answer_closes_the_connection_after_the_post_took_effect(
    local: LocalSlack,
) -> None:
    local.lose_answer("chat.postMessage", times=1)
    client = web_client(local)

    with pytest.raises(RemoteDisconnected):
        client.chat_postMessage(channel="C0ACME", text="SO-000001 placed")

    assert texts(local, "C0ACME") == ["SO-000001 placed"]  # the client cannot know that
    [call] = local.calls("chat.postMessage")
    assert call.ok and call.answer_lost
    assert "(answer lost)" in local.describe_calls()

    client.chat_postMessage(channel="C0ACME", text="next")  # times=1: answered again
    assert texts(local, "C0ACME") == ["SO-000001 placed", "next"]


def test_slack_sdk_retries_a_lost_answer_and_posts_twice(local: LocalSlack) -> None:
    """What the delivery pipeline must guard against: slack_sdk's default retry on a
    connection error sends the same post again."""
    local.lose_answer("chat.postMessage")
    client = WebClient(base_url=local.base_url, token=TOKEN)  # slack_sdk's default retries

    answer = client.chat_postMessage(channel="C0ACME", text="card")

    assert texts(local, "C0ACME") == ["card", "card"]
    assert [c.answer_lost for c in local.calls("chat.postMessage")] == [True, False]
    assert answer["ts"] == local.channel_messages("C0ACME")[1]["ts"]


def test_a_lost_answer_can_be_a_timeout_the_client_sees(local: LocalSlack) -> None:
    local.lose_answer("chat.update", how="timeout", when=lambda args: args.get("ts") == card)
    client = web_client(local, timeout=0.5)
    card = client.chat_postMessage(channel="C0ACME", text="pending")["ts"]
    other = client.chat_postMessage(channel="C0ACME", text="other")["ts"]

    client.chat_update(channel="C0ACME", ts=other, text="other, updated")  # not this one
    with pytest.raises(Exception, match="timed out"):
        client.chat_update(channel="C0ACME", ts=card, text="confirmed")

    assert texts(local, "C0ACME") == ["confirmed", "other, updated"]
    assert [c.answer_lost for c in local.calls("chat.update")] == [False, True]


def test_a_response_url_post_can_lose_its_answer(local: LocalSlack) -> None:
    url = local.new_response_url(channel="C0ACME", user="U0ANA", team_id="T0DEMO")
    local.lose_answer("response_url")

    with pytest.raises(RemoteDisconnected):
        WebhookClient(url, retry_handlers=[]).send(text="Here are your orders")

    assert [m["text"] for m in local.response_messages(url)] == ["Here are your orders"]
    assert local.last_call("response_url").answer_lost


# ----------------------------------------------------------------- refusal by rule


def test_refuse_answers_an_error_to_matching_calls_until_cleared(local: LocalSlack) -> None:
    refusal = local.refuse(
        "chat.postMessage",
        error="not_in_channel",
        when=lambda args: args.get("channel") == "C0PIXEL",
    )
    client = web_client(local)

    for _ in range(3):  # every time, not once
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C0PIXEL", text="new order")
        assert refused.value.response.status_code == 200
        assert refused.value.response["error"] == "not_in_channel"
    client.chat_postMessage(channel="C0ACME", text="placed")
    assert texts(local, "C0PIXEL") == [] and texts(local, "C0ACME") == ["placed"]

    refusal.clear()
    client.chat_postMessage(channel="C0PIXEL", text="new order")
    assert texts(local, "C0PIXEL") == ["new order"]


def test_a_refused_token_is_refused_everywhere_for_a_while(local: LocalSlack) -> None:
    local.add_workspace("xoxb-acme", Workspace(team_id="T0ACME"))
    local.add_workspace("xoxb-zed", Workspace(team_id="T0ZED"))
    local.refuse("*", error="token_revoked", token="xoxb-acme", lasting=1.0)
    acme, zed = web_client(local, token="xoxb-acme"), web_client(local, token="xoxb-zed")

    with pytest.raises(SlackApiError, match="token_revoked"):
        acme.auth_test()
    with pytest.raises(SlackApiError, match="token_revoked"):
        acme.chat_postMessage(channel="C0ACME", text="x")
    assert zed.auth_test()["team_id"] == "T0ZED"

    def acme_works_again() -> bool:
        try:
            return bool(acme.auth_test()["ok"])
        except SlackApiError:
            return False

    local.wait_for(acme_works_again, timeout=30, description="the token's refusal to end")
    assert acme.auth_test()["team_id"] == "T0ACME"


def test_fail_takes_the_same_rules_and_counts_only_the_calls_it_met(local: LocalSlack) -> None:
    client = web_client(local)
    local.fail(
        "chat.postMessage",
        error="channel_not_found",
        times=2,
        when=lambda args: "orders" in str(args.get("text")),
    )

    client.chat_postMessage(channel="C0ACME", text="hello")  # not met: does not count
    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            client.chat_postMessage(channel="C0ACME", text="3 orders waiting")
    client.chat_postMessage(channel="C0ACME", text="3 orders waiting")

    assert texts(local, "C0ACME") == ["hello", "3 orders waiting"]
    with pytest.raises(ValueError, match="at least 1"):
        local.refuse("chat.postMessage", error="x", times=0)


def test_a_predicate_that_raises_is_answered_as_a_local_slack_error(local: LocalSlack) -> None:
    local.refuse("chat.postMessage", error="x", when=lambda args: args["missing"])
    with pytest.raises(SlackApiError) as broken:
        web_client(local).chat_postMessage(channel="C0ACME", text="x")
    assert broken.value.response.status_code == 500
    assert broken.value.response["error"] == "localslack_error"
    assert "missing" in broken.value.response["detail"]


def test_clear_faults_ends_refusals_and_lost_answers(local: LocalSlack) -> None:
    local.refuse("chat.postMessage", error="not_in_channel")
    local.lose_answer("chat.postMessage", times=None)
    local.clear_faults()
    assert web_client(local).chat_postMessage(channel="C0ACME", text="x")["ok"]
    assert not local.last_call("chat.postMessage").answer_lost


# --------------------------------------------------------------------------- delays


def test_a_delay_narrowed_to_a_channel_holds_up_no_other(local: LocalSlack) -> None:
    local.delay("chat.postMessage", 60, channel="C0SLOW", times=None)  # stop() wakes it
    client = web_client(local, timeout=30)
    started = time.monotonic()
    client.chat_postMessage(channel="C0FAST", text="at once")
    assert time.monotonic() - started < 30

    with pytest.raises(Exception, match="timed out"):
        web_client(local, timeout=0.3).chat_postMessage(channel="C0SLOW", text="late")
