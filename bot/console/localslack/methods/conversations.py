"""conversations.*: reading a channel's history and threads, opening DMs, describing channels."""

from __future__ import annotations

import copy
import time

from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.state import Request, SlackError, SlackState


def history(state: SlackState, request: Request) -> JsonDict:
    """conversations.history: top-level messages, newest first, paged with a cursor."""
    channel = state.resolve_channel(str(request.args.get("channel") or ""))
    top_level = [m for m in state.history.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]
    oldest = float(request.args.get("oldest") or 0)
    limit = int(request.args.get("limit") or 100)
    start = int(str(request.args.get("cursor") or "0") or 0)
    newest_first = [m for m in top_level[::-1] if float(m["ts"]) > oldest]
    page = newest_first[start : start + limit]
    more = len(newest_first) > start + limit
    answer: JsonDict = {"ok": True, "messages": copy.deepcopy(page), "has_more": more}
    if more:
        answer["response_metadata"] = {"next_cursor": str(start + limit)}
    return answer


def replies(state: SlackState, request: Request) -> JsonDict:
    """conversations.replies: a thread's parent and replies, oldest first."""
    channel = state.resolve_channel(str(request.args.get("channel") or ""))
    ts = str(request.args.get("ts") or "")
    thread = [
        m for m in state.history.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts
    ]
    if not thread:
        raise SlackError("thread_not_found")
    return {"ok": True, "messages": copy.deepcopy(thread), "has_more": False}


def open_(state: SlackState, request: Request) -> JsonDict:
    """conversations.open: the bot's DM with one user (or a group DM with several)."""
    users = request.args.get("users") or ""
    user_ids = users if isinstance(users, list) else [u for u in str(users).split(",") if u]
    if not user_ids:
        if request.args.get("channel"):
            return {"ok": True, "channel": {"id": request.args["channel"]}}
        raise SlackError("users_list_not_supplied")
    if len(user_ids) == 1:
        already = user_ids[0] in state.dm_channels
        answer: JsonDict = {"ok": True, "channel": {"id": state.dm_channel(user_ids[0])}}
        if already:
            answer.update({"no_op": True, "already_open": True})
        return answer
    return {"ok": True, "channel": {"id": "G" + "".join(u[1:4] for u in sorted(user_ids))}}


def info(state: SlackState, request: Request) -> JsonDict:
    """conversations.info: a channel named with add_channel, or a DM."""
    channel = str(request.args.get("channel") or "")
    if not channel:
        raise SlackError("channel_not_found")
    created = state.first_ts or int(time.time())
    if channel.startswith("D"):
        user = next((u for u, d in state.dm_channels.items() if d == channel), "")
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "created": created,
                "is_im": True,
                "is_org_shared": False,
                "user": user,
                "is_user_deleted": False,
                "priority": 0,
            },
        }
    known = state.channels.get(channel, {})
    name = str(known.get("name") or channel.lower())
    private = bool(known.get("is_private", False))
    return {
        "ok": True,
        "channel": {
            "id": channel,
            "name": name,
            "name_normalized": name,
            "is_channel": not private,
            "is_group": private,
            "is_im": False,
            "is_mpim": False,
            "is_private": private,
            "is_archived": False,
            "is_member": True,
            "created": created,
            "context_team_id": known.get("team_id") or request.workspace.team_id,
        },
    }


METHODS = {
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.open": open_,
    "conversations.info": info,
}
