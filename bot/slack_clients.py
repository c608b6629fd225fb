"""Which Slack Web API client speaks for a workspace."""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler


class SlackClients(Protocol):
    """A Web API client per workspace (one token for all, or each installation's own)."""

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The client that acts in `team_id`."""
        ...


def make_client(base_url: str, token: str | None, *, timeout: int = 10) -> WebClient:
    """A WebClient that retries a dropped connection once and leaves 429s to its caller.

    Retrying a 429 inside the client would sleep on the calling thread; the outbox reschedules
    the item for Retry-After instead, and a listener must answer within 3 seconds anyway.
    """
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )


class SingleTokenClients:
    """One bot token for every workspace (a single-workspace install)."""

    def __init__(self, base_url: str, token: str, timeout: int = 10) -> None:
        self.client = make_client(base_url, token, timeout=timeout)

    def for_team(self, team_id: str, enterprise_id: str | None = None) -> WebClient:
        """The one client."""
        return self.client
