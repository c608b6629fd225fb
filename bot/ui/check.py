"""Checking what we draw against slack_sdk's Block Kit models and Slack's documented limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.ui.orders import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, Message

MESSAGE_TEXT_LIMIT = 11_000
"""Slack refuses a message with `msg_blocks_too_long` when the text in its blocks passes about
12,000 characters ("with a buffer for block containers": slackapi/bolt-js#2509, #2867)."""


class BlockKitError(ValueError):
    """A message or view Slack would refuse."""


def text_length(value: Any) -> int:
    """Characters of text in blocks: every `text` string, however deep."""
    if isinstance(value, dict):
        own = len(value["text"]) if isinstance(value.get("text"), str) else 0
        return own + sum(
            text_length(v) for k, v in value.items() if k != "text" or not isinstance(v, str)
        )
    if isinstance(value, list):
        return sum(text_length(v) for v in value)
    return 0


def check_blocks(blocks: list[dict[str, Any]]) -> None:
    """Every block parses into slack_sdk's models and passes their validation."""
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    if len(block_ids) != len(set(block_ids)):
        raise BlockKitError(f"duplicate block_id in {block_ids}")
    for raw in blocks:
        parsed = Block.parse(raw)
        if parsed is None:
            raise BlockKitError(f"slack_sdk does not know this block: {raw.get('type')}")
        try:
            parsed.to_dict()  # validates lengths and counts
        except Exception as exc:  # slack_sdk raises its own formation errors
            raise BlockKitError(
                f"{raw.get('type')} block {raw.get('block_id', '')}: {exc}"
            ) from exc
        ids = [
            e.get("action_id")
            for e in raw.get("elements") or []
            if isinstance(e, dict) and e.get("action_id")
        ]
        if len(ids) != len(set(ids)):
            raise BlockKitError(f"duplicate action_id in one block: {ids}")


def check_message(message: Message | Mapping[str, Any]) -> None:
    """A message Slack would accept: at most 50 blocks, not too long, each block valid."""
    blocks = message.blocks if isinstance(message, Message) else list(message.get("blocks") or [])
    if not 0 < len(blocks) <= MAX_MESSAGE_BLOCKS:
        raise BlockKitError(f"a message has {len(blocks)} blocks (1 to {MAX_MESSAGE_BLOCKS})")
    size = text_length(blocks)
    if size > MESSAGE_TEXT_LIMIT:
        raise BlockKitError(f"a message's blocks hold {size} characters of text")
    check_blocks(blocks)


def check_view(view: Mapping[str, Any]) -> None:
    """A modal or Home tab Slack would accept: at most 100 blocks, titles and metadata in limits."""
    blocks = list(view.get("blocks") or [])
    if not 0 < len(blocks) <= MAX_VIEW_BLOCKS:
        raise BlockKitError(f"a view has {len(blocks)} blocks (1 to {MAX_VIEW_BLOCKS})")
    try:
        View(**dict(view)).to_dict()
    except Exception as exc:
        raise BlockKitError(f"view: {exc}") from exc
    if len(view.get("private_metadata") or "") > 3000:
        raise BlockKitError("private_metadata is over 3,000 characters")
    check_blocks(blocks)
