"""The App Home tab: the party's dashboard, or how to get onboarded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.ui.format import clip, escape, status_text
from bot.ui.orders import USAGE, Block, ListSpec, last_change_text, order_row, plain_text
from orders_core.lifecycle import OrderStatus
from orders_core.orders import Caller, OrderView, TimelineEntry

HOME_WAITING = 12
HOME_RECENT = 10
SHOW_WAITING_ACTION = "home:waiting"


def waiting_spec(caller: Caller) -> ListSpec:
    """The list of everything waiting on the caller's party."""
    return ListSpec(tuple(s for s in OrderStatus if s.waiting_on is caller.party))


def render_home(
    caller: Caller | None,
    counts: Mapping[OrderStatus, int] | None,
    waiting: Sequence[OrderView],
    waiting_total: int,
    recent: Sequence[tuple[OrderView, TimelineEntry]],
    last_entries: Mapping[int, TimelineEntry],
    now: datetime,
) -> dict[str, Any]:
    """Counts per status, what waits on you (oldest first, with buttons), what changed last."""
    blocks: list[Block] = [{"type": "header", "text": plain_text("Service orders", 150)}]
    if caller is None or counts is None:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "You are not a member of a merchant or service provider in this workspace yet, "
                    "so there is nothing to show. Ask your admin to add you:\n"
                    '`orders-bot member add --party "YOUR COMPANY" YOUR_MEMBER_ID`\n'
                    "(your member ID is in your Slack profile, under ⋮ → *Copy member ID*).",
                },
            }
        )
        return {"type": "home", "blocks": blocks}
    summary = "   ".join(f"{status_text(s)} *{n}*" for s, n in counts.items())
    blocks += [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*{escape(caller.party_name)}* ({caller.party.label})\n{summary}",
            },
        },
        {"type": "divider"},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Waiting on you* ({waiting_total})"},
        },
    ]
    if not waiting:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "Nothing waits on you. :tada:"}],
            }
        )
    for order in waiting[:HOME_WAITING]:
        # The Home tab stays as drawn until an order changes: it says since when, not how long.
        blocks += order_row(
            order, caller.party, last_entries.get(order.id), now, {"kind": "home"}, fresh=False
        )
    if waiting_total > len(waiting[:HOME_WAITING]):
        more = waiting_total - len(waiting[:HOME_WAITING])
        blocks.append(
            {
                "type": "actions",
                "block_id": "home:more",
                "elements": [
                    {
                        "type": "button",
                        "action_id": SHOW_WAITING_ACTION,
                        "text": plain_text(f"See all {waiting_total} (+{more} more)"),
                        "value": "waiting",
                    }
                ],
            }
        )
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Recently changed*"}},
    ]
    if not recent:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "No orders yet."}]}
        )
    for order, entry in recent[:HOME_RECENT]:
        text = f"*{order.code}* · {escape(clip(order.mini_program, 60))} — {last_change_text(entry, reason_limit=80)} · now {status_text(order.status)}"
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 3000)}]}
        )
    blocks += [
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": USAGE.replace("\n", "   ")[:3000]}],
        },
    ]
    return {"type": "home", "blocks": blocks[:100]}
