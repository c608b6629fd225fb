"""Messages between the two parties of an order: the Message button, its modal, and how a
message shows in each party's card thread (issue 20: 3)."""

from __future__ import annotations

import json
from typing import Any

from bot.ui.format import clip, escape, mention
from bot.ui.orders import FILES_BLOCK, Block, Message, packed_sections, plain_text
from orders_core.lifecycle import Party
from orders_core.orders import MESSAGE_CHARS, OrderView, TimelineEntry

FORWARD_ACTION = "message:forward"
"""*Send to …* under a reply in a card's thread: the reply goes to the other party."""
KEEP_ACTION = "message:keep"
MESSAGE_CALLBACK = "order_message"
MESSAGE_BLOCK = "message"


def render_message_modal(
    order: OrderView, viewer: Party, metadata: str, text: str | None = None
) -> dict[str, Any]:
    """The form for a message to the other party: up to MESSAGE_CHARS, and files."""
    other = order.party_name(viewer.other)
    message_input: Block = {
        "type": "input",
        "block_id": MESSAGE_BLOCK,
        "label": plain_text(f"Message to {other}", 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": MESSAGE_BLOCK,
            "multiline": True,
            "max_length": MESSAGE_CHARS,
            "placeholder": plain_text("A question, a clarification, what was agreed…", 150),
        },
    }
    if text:
        message_input["element"]["initial_value"] = text[:MESSAGE_CHARS]
    explain = (
        f"*{order.code}* · {escape(order.mini_program)} · {escape(order.service_name)}\n"
        f"It goes to *{escape(other)}* in the thread of this order's card in their channel, and "
        "stays on the order's timeline. What you write in your own channel stays yours."
    )
    return {
        "type": "modal",
        "callback_id": MESSAGE_CALLBACK,
        "title": plain_text(clip(f"Message {order.code}", 24), 24),
        "submit": plain_text("Send", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": metadata,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(explain, 3000)}},
            message_input,
            {
                "type": "input",
                "block_id": FILES_BLOCK,
                "optional": True,
                "label": plain_text("Files", 2000),
                "element": {"type": "file_input", "action_id": FILES_BLOCK, "max_files": 10},
            },
        ],
    }


def render_party_message(order: OrderView, entry: TimelineEntry, reader: Party) -> Message:
    """A message between the parties as `reader`'s card thread shows it: received from the
    other party, or sent by one's own (the text and the files exactly as written, escaped)."""
    sender = entry.actor_party or reader.other
    if sender is reader:
        head = (
            f":outbox_tray: {mention(entry.actor_user_id)} sent *{escape(order.party_name(reader.other))}*"
            f" a message about *{order.code}*:"
        )
        plain = f"Sent to {order.party_name(reader.other)} about {order.code}"
    else:
        head = (
            f":speech_balloon: *{escape(order.party_name(sender))}* ({mention(entry.actor_user_id)})"
            f" wrote about *{order.code}*:"
        )
        plain = f"{order.party_name(sender)} wrote about {order.code}"
    return Message(
        clip(f"{plain}: {entry.reason or ''}", 3000),
        packed_sections(head, entry.reason, entry.files),
    )


def render_send_offer(order: OrderView, reader: Party, reply_ts: str, thread_ts: str) -> Message:
    """To the author of a reply under the order's card, alone: send it across, or keep it."""
    other = order.party_name(reader.other)
    value = json.dumps({"order": order.number, "ts": reply_ts, "thread": thread_ts})
    text = (
        f"Your reply stays in your channel. Send it to *{escape(other)}* too, in the thread of "
        f"*{order.code}* in theirs (it is kept on the order's timeline)?"
    )
    return Message(
        clip(text.replace("*", ""), 3000),
        [
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}},
            {
                "type": "actions",
                "block_id": f"offer:{order.number}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": FORWARD_ACTION,
                        "style": "primary",
                        "text": plain_text(f"Send to {other}"),
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": KEEP_ACTION,
                        "text": plain_text("Keep internal"),
                        "value": value,
                    },
                ],
            },
        ],
    )
