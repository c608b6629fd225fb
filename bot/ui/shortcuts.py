"""The shortcuts' modals: *Add to an order…* picks one of the party's open orders for a message
(issue 20: 2); *New service order* opens the Service Market's own order form."""

from __future__ import annotations

from typing import Any

from bot.ui.format import clip, escape
from bot.ui.orders import Block, plain_text
from orders_core.orders import MESSAGE_CHARS, OrderView

NEW_ORDER_SHORTCUT = "order_new"
ATTACH_SHORTCUT = "order_attach"
ATTACH_CALLBACK = "order_attach_form"
PICK_BLOCK = "order"
PICK_ACTION = "order_pick"
NOTE_BLOCK = "note"
PICKED_OPTIONS = 20
"""Options offered while typing in the order picker (Slack shows up to 100)."""


def order_option(order: OrderView) -> dict[str, Any]:
    """One order in the picker: its number and mini program (Slack's 75 characters)."""
    return {"text": plain_text(f"{order.code} · {order.mini_program}"), "value": str(order.number)}


def render_attach_form(message_text: str, files: int, metadata: str) -> dict[str, Any]:
    """Pick one of your party's open orders (type a number or a name) and add a note."""
    shown = escape(clip(message_text, 600)) if message_text.strip() else "_(no text)_"
    if files:
        shown += f"\n:paperclip: {files} file{'s' if files > 1 else ''}"
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(f"*The message*\n{shown}", 3000)},
        },
        {
            "type": "input",
            "block_id": PICK_BLOCK,
            "label": plain_text("Order", 2000),
            "element": {
                "type": "external_select",
                "action_id": PICK_ACTION,
                "min_query_length": 0,
                "placeholder": plain_text("Type a number (123) or a mini program's name"),
            },
        },
        {
            "type": "input",
            "block_id": NOTE_BLOCK,
            "optional": True,
            "label": plain_text("Note", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": NOTE_BLOCK,
                "multiline": True,
                "max_length": 1000,
                "placeholder": plain_text("Why it matters for this order (optional)", 150),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": ATTACH_CALLBACK,
        "title": plain_text("Add to an order", 24),
        "submit": plain_text("Add", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


def timeline_text(note: str | None, message_text: str, permalink: str, cut: bool) -> str:
    """What the timeline keeps: the note, the message's text quoted (its start when `cut`),
    and the link back to it; within MESSAGE_CHARS."""
    link = f"From Slack: {permalink}"
    head = f"{note.strip()}\n\n" if note and note.strip() else ""
    room = MESSAGE_CHARS - len(head) - len(link) - 8
    quoted = (
        message_text if len(message_text) <= room and not cut else message_text[: room - 1] + "…"
    )
    return f"{head}“{quoted}”\n{link}" if message_text.strip() else f"{head}{link}"
