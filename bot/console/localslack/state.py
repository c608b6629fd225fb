"""What the local Slack holds: workspaces, people, channels, messages, views, files, the calls.

Every Web API family (methods/) reads and changes one SlackState, under its lock; tests read it
through LocalSlack's queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.console.localslack.payloads import (
    JsonDict,
    json_copy,
    new_id,
    new_view_hash,
    view_object,
    with_generated_ids,
)

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MODAL_STACK = 3


@dataclass(frozen=True)
class Workspace:
    """Who a bot token belongs to: the workspace and the app's bot user there."""

    team_id: str = "T0DEMO"
    team_name: str = "Demo Workspace"
    team_domain: str = "demo"
    bot_user_id: str = "U0BOT"
    bot_id: str = "B0BOT"
    bot_name: str = "orders-bot"
    app_id: str = "A0ORDERS"
    enterprise_id: str | None = None
    scopes: str = "chat:write,commands,im:write,users:read,files:read,channels:read"


@dataclass(frozen=True)
class UserProfile:
    """A person as users.info describes them."""

    id: str
    name: str
    real_name: str
    tz: str = "UTC"
    team_id: str | None = None
    is_bot: bool = False
    email: str | None = None


@dataclass(frozen=True)
class RecordedCall:
    """One request that reached LocalSlack, with the answer it got."""

    method: str
    args: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    time: float
    status: int = 200
    error: str | None = None
    response: dict[str, Any] = field(default_factory=dict)
    response_url_id: str | None = None
    answer_lost: bool = False
    """The call was handled (and took effect), but its answer never reached the client."""
    team_id: str | None = None
    """Whose rate limits the call is counted against: its token's workspace ("app:APP_ID" for
    app-level and tokenless calls; None for a refused token and response_url posts)."""
    rate_time: float | None = None
    """When the call was counted against the rate limits, by their clock (LocalSlack's
    rate_clock; None when it was not counted: a fault's refusal, a refused token)."""
    retry_after: int | None = None
    """The Retry-After seconds of a 429."""
    rate_limit: str | None = None
    """The window that refused the call (a 429 of the rate limits; None for a fault's)."""

    @property
    def ok(self) -> bool:
        """Whether Slack would have reported success."""
        return self.status == 200 and self.error is None


class SlackError(Exception):
    """A Slack error answered as HTTP 200 {"ok": false, "error": ...}."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


@dataclass
class Request:
    """One Web API call as a method sees it: its arguments and the workspace of its token."""

    method: str
    args: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    workspace: Workspace
    root_url: str
    """Where LocalSlack serves, e.g. "http://127.0.0.1:PORT/" (for URLs it hands out)."""


@dataclass
class Trigger:
    """A trigger_id issued with a command or click: views.open takes it once, within its TTL."""

    user_id: str
    team_id: str
    created: float
    exchanged: bool = False


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives: a channel's history, or one person's ephemeral messages."""

    kind: Literal["channel", "ephemeral"]
    channel: str
    ts: str
    user: str = ""


@dataclass
class ResponseUrl:
    """A response_url: the message it controls, those posted through it, and its uses."""

    id: str
    channel: str
    user: str
    team_id: str | None
    original: MessageRef | None = None
    refs: list[MessageRef] = field(default_factory=list)
    uses: int = 0


class SlackState:
    """Everything the local Slack knows, behind one lock; `changed` wakes whoever waits on it."""

    def __init__(
        self,
        *,
        workspaces: Mapping[str, Workspace] | None,
        default_workspace: Workspace | None,
        strict_tokens: bool,
        strict_triggers: bool,
        trigger_ttl: float | None,
        response_url_uses: int,
        first_ts: int | None,
    ) -> None:
        # Configuration: kept by reset().
        self.workspaces: dict[str, Workspace] = dict(workspaces or {})
        self.default_workspace = default_workspace or Workspace()
        self.strict_tokens = strict_tokens
        self.strict_triggers = strict_triggers
        self.trigger_ttl = trigger_ttl
        self.response_url_uses = response_url_uses
        self.first_ts = first_ts
        self.users: dict[str, UserProfile] = {}
        self.channels: dict[str, JsonDict] = {}
        self.installations: dict[str, JsonDict] = {}
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        # Only ever grows, so a waiter never mistakes a reset for "nothing happened".
        self.version = 0
        self.in_flight = 0
        self.clear()

    def clear(self) -> None:
        """Forget every call, message, view, trigger, response_url and file."""
        self.ts_seq = 0
        self.calls: list[RecordedCall] = []
        self.history: dict[str, list[JsonDict]] = {}
        self.ephemeral: dict[tuple[str, str], list[JsonDict]] = {}
        self.dm_channels: dict[str, str] = {}
        self.views: dict[str, JsonDict] = {}
        self.view_owner: dict[str, str] = {}
        self.modals: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.files: dict[str, JsonDict] = {}
        self.uploads: dict[str, bytes] = {}

    # ------------------------------------------------------------------ changes

    def touch(self) -> None:
        """Say that something changed (the caller holds the lock)."""
        self.version += 1
        self.changed.notify_all()

    def record(self, call: RecordedCall) -> None:
        """Keep a call for the tests and wake whoever waits for it."""
        with self.changed:
            self.calls.append(call)
            self.touch()

    def next_ts(self) -> str:
        """A new message ts."""
        # Like Slack's: the posting time in microseconds, strictly increasing (a fixed start
        # counts up from `first_ts` instead, for tests that want exact values).
        if self.first_ts is None:
            self.ts_seq = max(self.ts_seq + 1, int(time.time() * 1_000_000))
            return f"{self.ts_seq // 1_000_000}.{self.ts_seq % 1_000_000:06d}"
        self.ts_seq += 1
        micros = self.ts_seq * 100
        return f"{self.first_ts + micros // 1_000_000}.{micros % 1_000_000:06d}"

    # --------------------------------------------------------------- who is who

    def workspace_for_token(self, token: str | None) -> Workspace | None:
        """The workspace of a bot token (the default one unless strict_tokens), or None."""
        with self.lock:
            known = self.workspaces.get(token or "")
        if known is not None:
            return known
        return None if self.strict_tokens else self.default_workspace

    def workspace_for_team(self, team_id: str) -> Workspace:
        """The workspace registered for team_id (or one made up from the default one)."""
        with self.lock:
            for workspace in self.workspaces.values():
                if workspace.team_id == team_id:
                    return workspace
        if self.default_workspace.team_id == team_id:
            return self.default_workspace
        return Workspace(
            team_id=team_id,
            team_name=team_id,
            team_domain=team_id.lower(),
            bot_user_id=self.default_workspace.bot_user_id,
            bot_id=self.default_workspace.bot_id,
            bot_name=self.default_workspace.bot_name,
            app_id=self.default_workspace.app_id,
        )

    def user(self, user_id: str) -> UserProfile:
        """The profile of user_id (a default one with tz "UTC" when not set)."""
        with self.lock:
            known = self.users.get(user_id)
        return known or UserProfile(id=user_id, name=user_id.lower(), real_name=user_id)

    # ------------------------------------------------------------------ channels

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel with user_id (stable per user)."""
        with self.lock:
            if user_id not in self.dm_channels:
                self.dm_channels[user_id] = _dm_id(user_id)
            return self.dm_channels[user_id]

    def resolve_channel(self, channel: str) -> str:
        """A channel id as Slack stores it: a user id stands for the DM with that user."""
        if channel[:1] in {"U", "W"}:
            return self.dm_channel(channel)
        return channel

    def channel_id(self, channel: str) -> str:
        """The channel a call's `channel` stands for, as resolve_channel, without opening a DM
        (for a call that may be refused)."""
        if channel[:1] in {"U", "W"}:
            with self.lock:
                return self.dm_channels.get(channel) or _dm_id(channel)
        return channel

    # ------------------------------------------------------------------ messages

    def bot_message(self, workspace: Workspace, args: Mapping[str, Any]) -> JsonDict:
        """A message from the app's bot user, as Slack stores one posted with `args`."""
        message: JsonDict = {
            "type": "message",
            "text": args.get("text") or "",
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": workspace.app_id,
            "team": workspace.team_id,
            "ts": self.next_ts(),
        }
        if args.get("blocks"):
            message["blocks"] = with_generated_ids(args["blocks"])
        for key in ("attachments", "thread_ts", "metadata", "files"):
            if args.get(key):
                message[key] = json_copy(args[key])
        return message

    def store_ephemeral(self, state: ResponseUrl, args: Mapping[str, Any]) -> MessageRef:
        """Show a bot message to the response_url's user only."""
        workspace = self.workspace_for_team(state.team_id or self.default_workspace.team_id)
        message = self.bot_message(workspace, args)
        message["channel"] = state.channel
        message["user"] = state.user
        self.ephemeral.setdefault((state.channel, state.user), []).append(message)
        return MessageRef("ephemeral", state.channel, message["ts"], state.user)

    def _messages_of(self, ref: MessageRef) -> list[JsonDict]:
        if ref.kind == "channel":
            return self.history.get(ref.channel, [])
        return self.ephemeral.get((ref.channel, ref.user), [])

    def find_ref(self, channel: str, ts: str, user: str) -> MessageRef | None:
        """Where the message (channel, ts) is, in the channel or among user's ephemerals."""
        for ref in (MessageRef("channel", channel, ts), MessageRef("ephemeral", channel, ts, user)):
            if any(m["ts"] == ts for m in self._messages_of(ref)):
                return ref
        return None

    def resolve_ref(self, ref: MessageRef) -> JsonDict | None:
        """The message ref points at, or None when it is gone."""
        return next((m for m in self._messages_of(ref) if m["ts"] == ref.ts), None)

    def remove_ref(self, ref: MessageRef) -> None:
        """Delete the message ref points at."""
        messages = self._messages_of(ref)
        messages[:] = [m for m in messages if m["ts"] != ref.ts]

    def response_url_state(self, url: str) -> ResponseUrl:
        """The response_url issued as url (KeyError when it was not)."""
        url_id = url.rstrip("/").rsplit("/", 1)[-1]
        state = self.response_urls.get(url_id)
        if state is None:
            raise KeyError(f"unknown response_url {url!r}")
        return state

    # --------------------------------------------------------------------- views

    def build_view(
        self,
        view: JsonDict,
        workspace: Workspace,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> JsonDict:
        """The view object Slack makes of a view the app sent (ids, hash, state)."""
        if len(view.get("blocks") or []) > MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", f"no more than {MAX_VIEW_BLOCKS} items allowed")
        return view_object(
            view,
            view_id=view_id or new_id("V"),
            team_id=workspace.team_id,
            app_id=workspace.app_id,
            bot_id=workspace.bot_id,
            view_hash=new_view_hash(),
            root_view_id=root_view_id,
            previous_view_id=previous_view_id,
        )

    def close_views(self, user_id: str, from_view_id: str) -> None:
        """Close from_view_id and every view pushed above it in user_id's modal."""
        stack = self.modals.get(user_id, [])
        index = stack.index(from_view_id)
        for closed in stack[index:]:
            self.views.pop(closed, None)
            self.view_owner.pop(closed, None)
        del stack[index:]
        if not stack:
            self.modals.pop(user_id, None)


def _dm_id(user_id: str) -> str:
    return "D" + user_id[1:]
