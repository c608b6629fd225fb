"""Which Slack Web API client speaks for a workspace."""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk import WebClient

_REQUEST_LOG = logging.getLogger("slack_sdk.web.base_client")


class SlackClients(Protocol):
    """A Web API client per workspace (one token for all, or each installation's own)."""

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The client that acts in `team_id`."""
        ...


def make_client(base_url: str, token: str | None, *, timeout: int = 10) -> WebClient:
    """A WebClient that never retries on its own.

    A timed-out request may still have been carried out by Slack, so an automatic resend can post
    twice; a 429 retried inside the client would sleep on the calling thread. The outbox retries
    instead, looking for a post that landed before sending it again (bot.delivery.deliveries.post_once).
    """
    if _REQUEST_LOG.level == logging.NOTSET:
        set_request_log_level(_REQUEST_LOG.getEffectiveLevel())
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def set_request_log_level(level: int | str) -> None:
    """Give slack_sdk's request logger a level of its own.

    slack_sdk decides whether to write its debug line for a request, which spells out the whole
    body (every block of a digest), by the logger's own level: NOTSET (0) unless set, so the
    line was formatted for every call and then dropped. That was about a tenth of the CPU of a
    reminder sweep. With the level set, it is formatted only when LOG_LEVEL=DEBUG.
    `configure_logging` sets it; otherwise the first client pins the level then in effect (so
    a later change of the root level alone does not bring these lines back: set this too).
    """
    _REQUEST_LOG.setLevel(level)


class SingleTokenClients:
    """One bot token for every workspace (a single-workspace install)."""

    def __init__(self, base_url: str, token: str, timeout: int = 10) -> None:
        self.client = make_client(base_url, token, timeout=timeout)

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The one client."""
        return self.client
