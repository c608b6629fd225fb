"""The shapes of Slack ids, checked wherever an operator types one (the CLI, fixtures).

A channel *name* typed for a channel id, or a lowercase team id, would otherwise be stored as
given: notifications would go nowhere, or a second workspace would appear.
"""

from __future__ import annotations

import enum
import re

from orders_core import errors


class SlackId(enum.Enum):
    """A kind of Slack id: its leading letters, what to call it, and where to find one."""

    USER = ("UW", "user id", "U0123ABCD", "in Slack, a person's profile → ⋮ → Copy member ID")
    CHANNEL = (
        "CGD",
        "channel id",
        "C0123ABCD",
        "in Slack, the channel's name → About → Channel ID (at the bottom), not its #name",
    )
    TEAM = (
        "T",
        "team id",
        "T0123ABCD",
        "the workspace's URL in a browser, or About this workspace",
    )
    ENTERPRISE = (
        "E",
        "Enterprise Grid id",
        "E0123ABCD",
        "your Enterprise Grid organisation's settings",
    )

    def __init__(self, prefixes: str, noun: str, example: str, where: str) -> None:
        self.prefixes = prefixes
        self.noun = noun
        self.example = example
        self.where = where
        self.pattern = re.compile(f"^[{prefixes}][A-Z0-9]{{2,30}}$")


def check_slack_id(kind: SlackId, value: str, field: str) -> str:
    """`value` if it has the shape of a Slack `kind` id; InvalidInput naming `field` otherwise."""
    text = value.strip()
    if kind.pattern.match(text):
        return text
    starts = " or ".join(kind.prefixes)
    raise errors.InvalidInput(
        {
            field: f"{value!r} is not a Slack {kind.noun}: Slack expects {starts} followed by "
            f"capital letters and digits, like {kind.example} (find it in {kind.where})."
        }
    )
