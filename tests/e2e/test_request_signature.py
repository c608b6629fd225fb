"""Unauthenticated requests with malformed signing headers: 401 and one log line, never a 500."""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.console.localslack import SlackSender
from bot.logs import JsonFormatter, RedactingFormatter
from orders_core.db import Database
from tests.support.slackbot import SIGNING_SECRET, Bot, running_bot
from tests.support.world import TEAM


@pytest.fixture
def bot(sqlite_db: Database) -> Iterator[Bot]:
    """The bot on SQLite (the database plays no part here)."""
    with running_bot(sqlite_db) as running:
        yield running


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="not-a-number"),
        pytest.param(f"{time.time():.3f}", id="a-float"),  # Slack sends whole seconds
        pytest.param("9" * 5000, id="too-long"),  # int() refuses over 4300 digits
    ],
)
@pytest.mark.parametrize("signed", [True, False])
def test_a_malformed_timestamp_is_refused_with_401_and_one_log_line(
    bot: Bot, caplog: pytest.LogCaptureFixture, timestamp: str, signed: bool
) -> None:
    """Signed over that very timestamp with the right secret, or not: a malformed
    X-Slack-Request-Timestamp answers 401 before anything is run, and the log says so in one
    line, with no traceback (it answered 500, and the server logged a traceback)."""
    caplog.set_level(logging.INFO)
    sender = SlackSender(bot.server.url, SIGNING_SECRET if signed else "0" * 32)
    before = len(bot.slack.calls())
    response = sender.slash_command(team_id=TEAM, user_id="U0ANA", text="help", timestamp=timestamp)
    assert response.status == 401, response.body
    assert len(bot.slack.calls()) == before, "a refused request was run"
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    refusals = [r for r in caplog.records if "X-Slack-Request-Timestamp" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in caplog.records]
    assert "\n" not in refusals[0].getMessage() and len(refusals[0].getMessage()) < 200


def test_a_signature_that_is_not_ascii_is_refused_with_401(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A signature header with a byte outside ASCII (hmac.compare_digest refuses to compare
    such strings, and raised): 401 and one line, no traceback."""
    caplog.set_level(logging.INFO)
    request = urllib.request.Request(
        bot.sender.url,
        data=f"command=%2Forders&text=help&team_id={TEAM}&user_id=U0ANA".encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=\u00e9",  # sent as the byte 0xE9
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10).close()
    refused.value.close()
    assert refused.value.code == 401
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    refusals = [r for r in caplog.records if "X-Slack-Signature" in r.getMessage()]
    assert len(refusals) == 1, [r.getMessage() for r in caplog.records]


def test_a_well_formed_request_still_goes_through(bot: Bot) -> None:
    """The check refuses only what is malformed: a correctly signed command is answered."""
    assert bot.sender.slash_command(team_id=TEAM, user_id="U0ANA", text="help").status == 200


def test_a_refused_request_logs_no_verification_token(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    """A request Slack really sent that fails only its time check (a clock skewed by minutes):
    Bolt logs its whole body, where Slack's legacy verification token is; our log lines never
    show it, in text or JSON (a form body, and an interactive payload's form-encoded JSON)."""
    caplog.set_level(logging.INFO)
    # Bolt gives its loggers the root's level when the app is made (here, before this test's).
    caplog.set_level(logging.INFO, logger="slack_bolt.RequestVerification")
    stale = str(int(time.time()) - 600)
    secret = bot.sender.verification_token
    for send in (
        lambda: bot.sender.slash_command(
            team_id=TEAM, user_id="U0ANA", text="help", timestamp=stale
        ),
        lambda: bot.sender.block_action(
            team_id=TEAM, user_id="U0ANA", action_id="order:open", value="{}", timestamp=stale
        ),
    ):
        assert send().status == 401
    bodies = [r for r in caplog.records if secret in r.getMessage()]
    assert len(bodies) == 2, "Bolt no longer logs the refused bodies: this test checks nothing"
    for formatter in (JsonFormatter(), RedactingFormatter()):
        for record in bodies:
            assert secret not in formatter.format(record)
