"""chat.*: posting, updating and deleting messages, ephemeral messages, permalinks."""

from __future__ import annotations

import copy
from typing import Any

from bot.console.localslack.payloads import JsonDict, json_copy, with_generated_ids
from bot.console.localslack.state import MAX_MESSAGE_BLOCKS, Request, SlackError, SlackState


def post_message(state: SlackState, request: Request) -> JsonDict:
    """chat.postMessage: a bot message at the end of the channel (a user id: the DM)."""
    args = request.args
    channel = str(args.get("channel") or "")
    if not channel:
        raise SlackError("channel_not_found")
    if not (args.get("text") or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")
    _check_blocks(args.get("blocks"))
    channel = state.resolve_channel(channel)
    message = state.bot_message(request.workspace, args)
    state.history.setdefault(channel, []).append(message)
    return {"ok": True, "channel": channel, "ts": message["ts"], "message": snapshot(message)}


def update(state: SlackState, request: Request) -> JsonDict:
    """chat.update: replace what is given of a channel message (not an ephemeral one)."""
    args = request.args
    channel = state.resolve_channel(str(args.get("channel") or ""))
    ts = str(args.get("ts") or "")
    message = next((m for m in state.history.get(channel, []) if m["ts"] == ts), None)
    if message is None:
        raise SlackError("message_not_found")
    _check_blocks(args.get("blocks"))
    if "text" in args:
        message["text"] = args["text"] or ""
    # Slack keeps blocks/attachments not passed; an empty list removes them.
    for key in ("blocks", "attachments"):
        if key in args:
            if args[key]:
                message[key] = (
                    with_generated_ids(args[key]) if key == "blocks" else copy.deepcopy(args[key])
                )
            else:
                message.pop(key, None)
    if args.get("metadata"):
        message["metadata"] = json_copy(args["metadata"])
    return {
        "ok": True,
        "channel": channel,
        "ts": ts,
        "text": message["text"],
        "message": snapshot(message),
    }


def delete(state: SlackState, request: Request) -> JsonDict:
    """chat.delete: remove a channel message."""
    channel = state.resolve_channel(str(request.args.get("channel") or ""))
    ts = str(request.args.get("ts") or "")
    messages = state.history.get(channel, [])
    if not any(m["ts"] == ts for m in messages):
        raise SlackError("message_not_found")
    messages[:] = [m for m in messages if m["ts"] != ts]
    return {"ok": True, "channel": channel, "ts": ts}


def post_ephemeral(state: SlackState, request: Request) -> JsonDict:
    """chat.postEphemeral: a message only `user` sees in the channel."""
    args = request.args
    channel = state.resolve_channel(str(args.get("channel") or ""))
    user = str(args.get("user") or "")
    if not channel:
        raise SlackError("channel_not_found")
    if not user:
        raise SlackError("user_not_found")
    if not (args.get("text") or args.get("blocks") or args.get("attachments")):
        raise SlackError("no_text")
    message = state.bot_message(request.workspace, args)
    message["channel"] = channel
    message["user"] = user
    state.ephemeral.setdefault((channel, user), []).append(message)
    return {"ok": True, "message_ts": message["ts"]}


def get_permalink(state: SlackState, request: Request) -> JsonDict:
    """chat.getPermalink: the link to a channel message."""
    channel = state.resolve_channel(str(request.args.get("channel") or ""))
    ts = str(request.args.get("message_ts") or "")
    if not any(m["ts"] == ts for m in state.history.get(channel, [])):
        raise SlackError("message_not_found")
    domain = request.workspace.team_domain
    return {
        "ok": True,
        "channel": channel,
        "permalink": f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }


def snapshot(message: JsonDict) -> JsonDict:
    """The message as it is now, for an answer (and its record).

    A shallow copy is enough: a stored message's values are never changed in place — an update
    replaces a whole key (`text`, `blocks`, `metadata`) with a new value — so what the copy shares
    with the stored message stays as it was. (A deep copy of a digest's blocks was a fifth of
    this server's time per post.)
    """
    return dict(message)


def _check_blocks(blocks: Any) -> None:
    if len(blocks or []) > MAX_MESSAGE_BLOCKS:
        raise SlackError("invalid_blocks", f"no more than {MAX_MESSAGE_BLOCKS} items allowed")


METHODS = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
