"""What a POST to a response_url does: replace or delete the original, or answer again."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.console.localslack.payloads import with_generated_ids
from bot.console.localslack.state import MessageRef, ResponseUrl, SlackState


def apply_response(state: SlackState, url: ResponseUrl, body: Mapping[str, Any]) -> None:
    """Apply one response_url post (the caller holds the lock and counted the use)."""
    content = {
        "text": body.get("text") or "",
        "blocks": with_generated_ids(body.get("blocks") or []),
        "attachments": copy.deepcopy(body.get("attachments") or []),
    }
    original = state.resolve_ref(url.original) if url.original else None
    if _truthy(body.get("delete_original")):
        if url.original is not None:
            state.remove_ref(url.original)
        return
    if _truthy(body.get("replace_original")) and original is not None:
        original.update(content)
        for key in ("blocks", "attachments"):
            if not original[key]:
                original.pop(key)
        return
    if body.get("response_type") == "in_channel" and url.channel:
        workspace = state.workspace_for_team(url.team_id or state.default_workspace.team_id)
        message = state.bot_message(workspace, {**body, **content})
        state.history.setdefault(url.channel, []).append(message)
        ref = MessageRef("channel", url.channel, message["ts"])
    else:
        ref = state.store_ephemeral(url, {**body, **content})
    url.refs.append(ref)
    if url.original is None or original is None:
        url.original = ref


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}
