"""The App Home tab."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.blocks.format import escape, status_text
from bot.blocks.orders import USAGE
from orders_core.lifecycle import OrderStatus
from orders_core.orders import Caller


def render_home(
    caller: Caller | None, counts: Mapping[OrderStatus, int] | None, now: datetime
) -> dict[str, Any]:
    """The Home tab: the party's counts, or how to get onboarded."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Service orders"}}
    ]
    if caller is None or counts is None:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "You are not a member of a merchant or service provider here yet. "
                    "Ask your admin to add you: `orders-bot member add --party NAME YOUR_USER_ID`.",
                },
            }
        )
    else:
        summary = "\n".join(f"{status_text(s)}: *{n}*" for s, n in counts.items())
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{escape(caller.party_name)}* ({caller.party.label})\n{summary}",
                },
            }
        )
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": USAGE}})
    return {"type": "home", "blocks": blocks}
