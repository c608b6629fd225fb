"""LocalSlack enforces Slack's rate limits: a call over its method's rate in its workspace, or
chat.postMessage over a channel's, is answered 429 "ratelimited" with Retry-After and not
carried out; other methods, workspaces and channels are unaffected; the window frees up.

The windows' arithmetic is tested on a clock the test moves; the rest over real HTTP with
slack_sdk, on windows of a second or two (LocalSlack runs on wall-clock time), waiting for a
window to free up rather than sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.clock import MovableClock
from bot.console.localslack import (
    SLACK_TABLE,
    SLACK_TIERS,
    Limit,
    LocalSlack,
    Tiers,
    Workspace,
)
from bot.console.localslack.ratelimits import RateWindows, peak

TOKEN = "xoxb-acme"
OTHER_TOKEN = "xoxb-pixel"
WORKSPACES = {TOKEN: Workspace(team_id="T0ACME"), OTHER_TOKEN: Workspace(team_id="T0PIXEL")}


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def local_slack(tiers: Tiers | None = SLACK_TIERS) -> LocalSlack:
    """A LocalSlack with two workspaces, each with its own bot token."""
    return LocalSlack(workspaces=WORKSPACES, default_workspace=WORKSPACES[TOKEN], tiers=tiers)


@pytest.fixture
def small() -> Iterator[LocalSlack]:
    """chat.update limited to 5 calls per 2 s, chat.postMessage to 2 per 2 s per channel."""
    tiers = SLACK_TIERS.with_limits(
        {"chat.update": Limit(5, 2.0)}, channel={"chat.postMessage": Limit(2, 2.0)}
    )
    with local_slack(tiers) as slack:
        yield slack


def client(slack: LocalSlack, token: str = TOKEN, **options: Any) -> WebClient:
    """A slack_sdk WebClient pointed at the LocalSlack (no retries unless given)."""
    options.setdefault("retry_handlers", [])
    return WebClient(base_url=slack.base_url, token=token, **options)


def refused(call: Any) -> SlackApiError:
    """The SlackApiError a call raises (failing the test if it does not)."""
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


# ------------------------------------------------------------------------ the windows


def test_a_full_window_refuses_with_the_seconds_until_its_oldest_call_leaves() -> None:
    clock = Clock()
    windows = RateWindows(Tiers({"chat.update": Limit(5, 2.0)}), clock)
    for _ in range(5):
        assert windows.admit("chat.update", "T0ACME") is None
        clock.now += 0.1  # calls at 1000.0 … 1000.4

    assert windows.room("chat.update", "T0ACME") == 0
    first = windows.admit("chat.update", "T0ACME")  # at 1000.5: the first leaves at 1002.0
    assert first is not None and first.retry_after == 2
    assert first.window == "chat.update per workspace T0ACME (5 per 2 s)"
    clock.now = 1001.2
    later = windows.admit("chat.update", "T0ACME")
    assert later is not None and later.retry_after == 1  # 0.8 s, in whole seconds
    clock.now = 1001.999
    assert windows.admit("chat.update", "T0ACME") is not None  # never 0: at least 1
    assert windows.admit("chat.update", "T0ACME").retry_after == 1  # type: ignore[union-attr]

    clock.now = 1002.0  # the first call leaves the window; refused calls never counted
    assert windows.room("chat.update", "T0ACME") == 1
    assert windows.admit("chat.update", "T0ACME") is None
    assert windows.admit("chat.update", "T0ACME") is not None
    clock.now = 1002.1
    assert windows.admit("chat.update", "T0ACME") is None


def test_windows_are_per_method_and_workspace_and_the_channel_window_per_channel() -> None:
    clock = Clock()
    tiers = Tiers(
        workspace={"chat.postMessage": Limit(3, 60.0), "chat.update": Limit(1, 60.0)},
        channel={"chat.postMessage": Limit(2, 1.0)},
    )
    windows = RateWindows(tiers, clock)
    assert windows.admit("chat.postMessage", "T0ACME", "C1") is None
    assert windows.admit("chat.postMessage", "T0ACME", "C1") is None
    in_c1 = windows.admit("chat.postMessage", "T0ACME", "C1")
    assert in_c1 is not None and in_c1.window.startswith("chat.postMessage per channel C1")
    assert windows.admit("chat.postMessage", "T0ACME", "C2") is None  # another channel
    assert windows.admit("chat.postMessage", "T0PIXEL", "C1") is None  # another workspace
    assert windows.admit("chat.update", "T0ACME") is None  # another method
    assert windows.admit("chat.views", "T0ACME") is None  # not limited at all
    assert windows.room("chat.views", "T0ACME") is None

    clock.now += 1.0  # C1's window frees, the workspace's (3 a minute) is full
    over = windows.admit("chat.postMessage", "T0ACME", "C3")
    assert over is not None and over.retry_after == 59
    assert over.window == "chat.postMessage per workspace T0ACME (3 per 60 s)"

    windows.tiers = None
    assert windows.admit("chat.postMessage", "T0ACME", "C3") is None


def test_peak_counts_the_most_moments_in_any_window() -> None:
    assert peak([], 60) == 0
    assert peak([0.0, 0.5, 1.0, 1.9, 5.0], 2.0) == 4
    assert peak([0.0, 2.0, 4.0], 2.0) == 1  # a window holds what came less than 2 s ago
    assert peak([3.0, 1.0, 2.0], 10) == 3


def test_a_limit_needs_calls_and_time() -> None:
    with pytest.raises(ValueError):
        Limit(0, 60.0)
    with pytest.raises(ValueError):
        Limit(5, 0)


# ------------------------------------------------------------- over HTTP, with slack_sdk


def test_a_call_over_its_tier_is_answered_429_with_retry_after_and_not_applied(
    small: LocalSlack,
) -> None:
    web = client(small)
    ts = web.chat_postMessage(channel="C0ORDERS", text="v0")["ts"]
    for version in range(1, 6):
        web.chat_update(channel="C0ORDERS", ts=ts, text=f"v{version}")

    error = refused(lambda: web.chat_update(channel="C0ORDERS", ts=ts, text="v6"))
    answered = time.monotonic()

    assert error.response.status_code == 429
    assert error.response["error"] == "ratelimited"
    assert error.response.data == {"ok": False, "error": "ratelimited"}
    retry_after = int(error.response.headers["Retry-After"])
    assert 1 <= retry_after <= 2  # whole seconds until the first update leaves the 2 s window
    assert small.message("C0ORDERS", ts)["text"] == "v5"  # type: ignore[index]

    [limited] = small.rate_limited()
    assert limited.method == "chat.update" and limited.args["text"] == "v6"
    assert (limited.status, limited.error, limited.retry_after) == (429, "ratelimited", retry_after)
    assert limited.rate_limit == "chat.update per workspace T0ACME (5 per 2 s)"
    assert limited.team_id == "T0ACME"
    assert "429 ratelimited Retry-After" in small.describe_calls()
    assert small.rate_limited("chat.postMessage") == []
    assert small.peak_calls("chat.update") == 5  # the refused call is not counted

    # The window frees up within Retry-After, and the call then goes through.
    small.wait_for(lambda: small.rate_room("chat.update", team="T0ACME"), timeout=5)
    assert time.monotonic() - answered <= retry_after + 0.5
    web.chat_update(channel="C0ORDERS", ts=ts, text="v7")
    assert small.message("C0ORDERS", ts)["text"] == "v7"  # type: ignore[index]


def test_other_methods_and_other_workspaces_are_unaffected(small: LocalSlack) -> None:
    web = client(small)
    ts = web.chat_postMessage(channel="C0ORDERS", text="card")["ts"]
    for _ in range(5):
        web.chat_update(channel="C0ORDERS", ts=ts, text="card")
    assert refused(lambda: web.chat_update(channel="C0ORDERS", ts=ts, text="x")).response[
        "error"
    ] == ("ratelimited")

    web.chat_postEphemeral(channel="C0ORDERS", user="U0ANA", text="only you")
    web.views_publish(user_id="U0ANA", view={"type": "home", "blocks": []})
    web.auth_test()
    other = client(small, OTHER_TOKEN)  # the other workspace has a window of its own
    other_ts = other.chat_postMessage(channel="C0PIXEL", text="card")["ts"]
    for _ in range(5):
        other.chat_update(channel="C0PIXEL", ts=other_ts, text="updated")

    assert [c.method for c in small.rate_limited()] == ["chat.update"]
    assert small.peak_calls("chat.update", team="T0PIXEL") == 5
    assert small.peak_calls("chat.update", team="T0ACME") == 5


def test_posts_are_limited_per_channel(small: LocalSlack) -> None:
    web = client(small)
    web.chat_postMessage(channel="C0ORDERS", text="1")
    web.chat_postMessage(channel="C0ORDERS", text="2")
    error = refused(lambda: web.chat_postMessage(channel="C0ORDERS", text="3"))
    assert error.response.status_code == 429
    assert int(error.response.headers["Retry-After"]) in (1, 2)

    web.chat_postMessage(channel="C0OTHER", text="elsewhere")  # another channel
    client(small, OTHER_TOKEN).chat_postMessage(channel="C0ORDERS", text="other workspace")
    web.chat_postMessage(channel="U0ANA", text="dm 1")  # a user id is the DM's channel
    web.chat_postMessage(channel=small.dm_channel("U0ANA"), text="dm 2")
    refused(lambda: web.chat_postMessage(channel="U0ANA", text="dm 3"))

    assert [m["text"] for m in small.channel_messages("C0ORDERS")] == ["1", "2", "other workspace"]
    assert [m["text"] for m in small.channel_messages("U0ANA")] == ["dm 1", "dm 2"]
    assert [c.args["text"] for c in small.rate_limited("chat.postMessage")] == ["3", "dm 3"]
    assert small.rate_limited()[0].rate_limit == "chat.postMessage per channel C0ORDERS (2 per 2 s)"
    assert small.peak_calls("chat.postMessage", channel="C0ORDERS", team="T0ACME") == 2
    assert small.peak_calls("chat.postMessage", channel="U0ANA") == 2

    small.wait_for(lambda: small.rate_room("chat.postMessage", channel="C0ORDERS"), timeout=5)
    web.chat_postMessage(channel="C0ORDERS", text="4")


def test_slack_sdk_waits_retry_after_and_gets_in(small: LocalSlack) -> None:
    """What a client with slack_sdk's RateLimitErrorRetryHandler meets: it sleeps the
    Retry-After it was given, and its retry is let through."""
    small.tiers = Tiers({"chat.update": Limit(1, 1.0)})
    patient = client(small, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)])
    ts = patient.chat_postMessage(channel="C0ORDERS", text="v0")["ts"]
    patient.chat_update(channel="C0ORDERS", ts=ts, text="v1")

    patient.chat_update(channel="C0ORDERS", ts=ts, text="v2")

    assert small.message("C0ORDERS", ts)["text"] == "v2"  # type: ignore[index]
    statuses = [(c.status, c.retry_after) for c in small.calls("chat.update")]
    assert statuses == [(200, None), (429, 1), (200, None)]


def test_slacks_own_numbers_are_the_default() -> None:
    with LocalSlack(workspaces=WORKSPACES) as slack:
        assert slack.tiers is SLACK_TIERS
        web = client(slack)
        ts = web.chat_postMessage(channel="C0ORDERS", text="card")["ts"]
        for _ in range(50):  # Tier 3: 50 a minute
            web.chat_update(channel="C0ORDERS", ts=ts, text="card")
        error = refused(lambda: web.chat_update(channel="C0ORDERS", ts=ts, text="51st"))
        assert 1 <= int(error.response.headers["Retry-After"]) <= 60
        assert slack.rate_limited()[0].rate_limit == (
            "chat.update per workspace T0ACME (Tier 3: 50 per 60 s)"
        )

        for n in range(5):  # about one a second per channel, a burst of 5
            web.chat_postMessage(channel="C0BURST", text=str(n))
        refused(lambda: web.chat_postMessage(channel="C0BURST", text="6th"))
        assert slack.rate_room("chat.postMessage", team="T0ACME", channel="C0BURST") == 0

        slack.reset()  # a new test starts with empty windows
        assert slack.rate_room("chat.update", team="T0ACME") == 50


def test_the_table_gives_slacks_tiers_and_a_source_for_every_number() -> None:
    tiers = {
        "chat.update": 50,
        "chat.delete": 50,
        "chat.postEphemeral": 100,
        "conversations.history": 50,
        "conversations.open": 50,
        "views.open": 100,
        "views.push": 100,
        "views.update": 100,
        "views.publish": 100,
        "users.info": 100,
    }
    for method, per_minute in tiers.items():
        limit = SLACK_TIERS.workspace[method]
        assert (limit.calls, limit.seconds) == (per_minute, 60.0), method
    assert "auth.test" not in SLACK_TIERS.workspace  # special, effectively unlimited for us
    per_channel = SLACK_TIERS.channel["chat.postMessage"]
    assert per_channel.calls / per_channel.seconds == 1.0  # one a second on average
    assert all(row.source for row in SLACK_TABLE)


def test_no_tiers_means_no_limits_and_a_refused_token_is_not_counted() -> None:
    with local_slack(Tiers({"chat.postMessage": Limit(1, 60.0)})) as slack:
        web = client(slack)
        slack.strict_tokens = True
        with pytest.raises(SlackApiError, match="invalid_auth"):
            client(slack, "xoxb-unknown").chat_postMessage(channel="C1", text="x")
        web.chat_postMessage(channel="C1", text="first")  # the refused token took no slot
        refused(lambda: web.chat_postMessage(channel="C1", text="second"))

        slack.tiers = None
        web.chat_postMessage(channel="C1", text="second")
        assert [m["text"] for m in slack.channel_messages("C1")] == ["first", "second"]
        assert len(slack.rate_limited()) == 1


def test_the_windows_can_follow_a_clock_the_test_moves() -> None:
    """A bot whose clock is moved (a test's MovableClock, the console's `wait 4d`) posts a day's
    reminders within a second of wall time: Slack's windows follow that clock when given it."""
    clock = MovableClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))  # stopped there
    tiers = Tiers(channel={"chat.postMessage": Limit(2, 1.0)})
    with local_slack(tiers) as slack:
        slack.rate_clock = lambda: clock.now().timestamp()
        web = client(slack)
        for n in range(4):  # one a second, on the bot's clock
            web.chat_postMessage(channel="C0ORDERS", text=f"reminder {n}")
            clock.advance(timedelta(seconds=1))
        web.chat_postMessage(channel="C0ORDERS", text="at once")
        web.chat_postMessage(channel="C0ORDERS", text="at once, too")
        error = refused(lambda: web.chat_postMessage(channel="C0ORDERS", text="too many"))
        assert error.response.headers["Retry-After"] == "1"
        assert slack.rate_room("chat.postMessage", channel="C0ORDERS") == 0  # stopped: stays

        clock.advance(timedelta(seconds=1))
        web.chat_postMessage(channel="C0ORDERS", text="a second later")
        assert slack.peak_calls("chat.postMessage", channel="C0ORDERS") == 2
        assert slack.peak_calls("chat.postMessage", 0.5, channel="C0ORDERS") == 2
        assert slack.peak_calls("chat.postMessage", 10, channel="C0ORDERS") == 7
