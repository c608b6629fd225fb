"""A modal's private_metadata, sealed: a listener reads back only what the bot put there.

A modal carries context the submission needs and Slack does not send back on its own: the
channel a reminder list is about, the message a Reject was opened from, where to confirm an
order. Slack's own docs say never to trust it (it comes back with the client's payload), and
none of it can be checked against the caller's party the way an order number or a policy id
can. So it is sealed: an HMAC of its JSON, keyed by the workspace's bot token (a secret the
bot and Slack alone hold, and different in each workspace), travels with it, and metadata that
does not match is treated as missing. A token that changes (the app reinstalled) makes the
forms open at that moment "out of date": they are opened again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient

SEAL_KEY = "~"
"""The key of the seal inside the metadata's JSON object."""


def _canonical(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def _mac(client: WebClient, data: Mapping[str, Any]) -> str:
    key = hashlib.sha256(b"orders-bot private_metadata\0" + (client.token or "").encode()).digest()
    return hmac.new(key, _canonical(data), hashlib.sha256).hexdigest()[:32]


def seal(client: WebClient, data: Mapping[str, Any]) -> str:
    """`data` as private_metadata, sealed for the workspace of `client`."""
    plain = {k: v for k, v in data.items() if k != SEAL_KEY}
    return json.dumps({**plain, SEAL_KEY: _mac(client, plain)}, separators=(",", ":"))


def seal_view(client: WebClient, view: dict[str, Any]) -> dict[str, Any]:
    """A view built with plain JSON private_metadata, its metadata sealed."""
    data = json.loads(view.get("private_metadata") or "{}")
    return {**view, "private_metadata": seal(client, data)}


def unseal(client: WebClient, text: str | None) -> dict[str, Any] | None:
    """The metadata the bot sealed, or None when it is missing, not ours, or was changed."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    given = data.pop(SEAL_KEY, None)
    if not isinstance(given, str) or not hmac.compare_digest(given, _mac(client, data)):
        return None
    return data
