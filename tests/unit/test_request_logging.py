"""slack_sdk spells out each Web API request (its whole body) only when LOG_LEVEL=DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.console.localslack import LocalSlack
from bot.delivery.clients import make_client
from bot.logs import configure_logging

REQUEST_LOG = logging.getLogger("slack_sdk.web.base_client")


class Records(logging.Handler):
    """Keeps what reaches it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def records() -> Iterator[Records]:
    """slack_sdk's request log, captured; the logging setup put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, REQUEST_LOG.level)
    handler = Records()
    REQUEST_LOG.addHandler(handler)
    try:
        yield handler
    finally:
        REQUEST_LOG.removeHandler(handler)
        root.handlers[:], root.level = saved[0], saved[1]
        REQUEST_LOG.setLevel(saved[2])


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_request_bodies_are_written_out_only_at_debug(records: Records, level: str) -> None:
    """slack_sdk checks its logger's own level (NOTSET, so "debug", unless set) before it
    formats a request's debug line: the bot sets it, so at INFO no body is formatted at all."""
    configure_logging(level)
    assert REQUEST_LOG.level == logging.getLevelName(level)
    with LocalSlack() as slack:
        client = make_client(slack.base_url, "xoxb-test")
        client.chat_postMessage(channel="C0DIGEST", text="a digest", blocks=[])
    sent = [m for m in records.messages if m.startswith("Sending a request")]
    if level == "DEBUG":
        assert sent and "a digest" in sent[0]
    else:
        assert sent == []
        # What saves the work: slack_sdk formats the line only if `logger.level <= DEBUG`.
        assert REQUEST_LOG.level > logging.DEBUG
