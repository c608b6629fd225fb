"""A local HTTP server that plays Slack's Web API and response_url endpoints and records every call."""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.console.localslack.payloads import (
    JsonDict,
    json_copy,
    new_id,
    new_trigger_id,
    new_view_hash,
    uploaded_file,
    view_object,
    with_generated_ids,
)

T = TypeVar("T")

# Arguments Slack takes as JSON-encoded strings when a client sends a form body.
_JSON_ARGS = frozenset(
    {"blocks", "attachments", "view", "metadata", "unfurls", "user_auth_blocks", "files"}
)
# Methods that work without a bearer token (OAuth uses client credentials instead).
_TOKENLESS_METHODS = frozenset({"api.test", "oauth.v2.access", "oauth.access", "oauth.v2.exchange"})
_MAX_MESSAGE_BLOCKS = 50
_MAX_VIEW_BLOCKS = 100
_MAX_MODAL_STACK = 3


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

    @property
    def ok(self) -> bool:
        """Whether Slack would have reported success."""
        return self.status == 200 and self.error is None


@dataclass
class _Fault:
    status: int
    error: str
    retry_after: int | None
    remaining: int | None
    channel: str | None = None
    """Only calls about this channel fail (None: any call)."""


@dataclass
class _Delay:
    seconds: float
    remaining: int | None


@dataclass
class _Trigger:
    user_id: str
    team_id: str
    created: float
    exchanged: bool = False


@dataclass(frozen=True)
class _MessageRef:
    kind: Literal["channel", "ephemeral"]
    channel: str
    ts: str
    user: str = ""


@dataclass
class _ResponseUrl:
    id: str
    channel: str
    user: str
    team_id: str | None
    original: _MessageRef | None = None
    refs: list[_MessageRef] = field(default_factory=list)
    uses: int = 0


class SlackError(Exception):
    """A Slack error answered as HTTP 200 {"ok": false, "error": ...}."""

    def __init__(self, error: str, *messages: str) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)


@dataclass
class _Request:
    method: str
    args: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    workspace: Workspace


class LocalSlack:
    """Slack's Web API and response_url endpoints on a local port, with state tests can assert on."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        workspaces: Mapping[str, Workspace] | None = None,
        default_workspace: Workspace | None = None,
        strict_tokens: bool = False,
        strict_triggers: bool = False,
        trigger_ttl: float | None = 3.0,
        response_url_uses: int = 5,
        first_ts: int | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._workspaces: dict[str, Workspace] = dict(workspaces or {})
        self.default_workspace = default_workspace or Workspace()
        self.strict_tokens = strict_tokens
        self.strict_triggers = strict_triggers
        self.trigger_ttl = trigger_ttl
        self.response_url_uses = response_url_uses
        self._first_ts = first_ts
        self._users: dict[str, UserProfile] = {}
        self._channels: dict[str, JsonDict] = {}
        self._installations: dict[str, JsonDict] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Only ever grows, so a waiter never mistakes a reset for "nothing happened".
        self._version = 0
        self._in_flight = 0
        self._clear_state()

    def _clear_state(self) -> None:
        self._ts_seq = 0
        self._calls: list[RecordedCall] = []
        self._history: dict[str, list[JsonDict]] = {}
        self._ephemeral: dict[tuple[str, str], list[JsonDict]] = {}
        self._dm_channels: dict[str, str] = {}
        self._views: dict[str, JsonDict] = {}
        self._view_owner: dict[str, str] = {}
        self._modals: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._files: dict[str, JsonDict] = {}
        self._uploads: dict[str, bytes] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[_Delay]] = {}
        self._outage: int | None = None

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> LocalSlack:
        """Serve in a daemon thread (on a free port unless one was given) and return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.local = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"LocalSlack:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any delayed answers, and close the listening socket."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port being served."""
        if self._server is None:
            raise RuntimeError("LocalSlack is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Root URL, e.g. "http://127.0.0.1:PORT/"."""
        return f"http://{self._host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """Web API base URL to give WebClient(base_url=...)."""
        return f"{self.url}api/"

    # ------------------------------------------------------------- configuration

    def add_workspace(self, token: str, workspace: Workspace) -> None:
        """Make auth.test and friends answer for token as workspace."""
        with self._lock:
            self._workspaces[token] = workspace

    def workspace_for_team(self, team_id: str) -> Workspace:
        """Return the workspace registered for team_id (or the default one)."""
        with self._lock:
            for workspace in self._workspaces.values():
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

    def set_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "UTC",
        team_id: str | None = None,
        is_bot: bool = False,
        email: str | None = None,
    ) -> UserProfile:
        """Describe a person for users.info (time zone included)."""
        profile = UserProfile(
            id=user_id,
            name=name or user_id.lower(),
            real_name=real_name or name or user_id,
            tz=tz,
            team_id=team_id,
            is_bot=is_bot,
            email=email,
        )
        with self._lock:
            self._users[user_id] = profile
        return profile

    def user(self, user_id: str) -> UserProfile:
        """Return the profile of user_id (a default one with tz "UTC" when not set)."""
        with self._lock:
            known = self._users.get(user_id)
        return known or UserProfile(id=user_id, name=user_id.lower(), real_name=user_id)

    def add_channel(
        self, channel_id: str, name: str, *, is_private: bool = False, team_id: str | None = None
    ) -> None:
        """Name a channel for conversations.info and for the payloads the sender builds."""
        with self._lock:
            self._channels[channel_id] = {
                "name": name,
                "is_private": is_private,
                "team_id": team_id,
            }

    def channel_name(self, channel_id: str) -> str:
        """Return the channel's name as a slash command or click payload carries it."""
        with self._lock:
            known = self._channels.get(channel_id)
        if known is not None:
            return str(known["name"])
        if channel_id.startswith("D"):
            return "directmessage"
        return channel_id.lower()

    def add_installation(
        self,
        code: str,
        *,
        team_id: str,
        team_name: str = "",
        bot_token: str | None = None,
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0ORDERS",
        scope: str = "chat:write,commands",
        authed_user_id: str = "U0INSTALLER",
        enterprise_id: str | None = None,
    ) -> JsonDict:
        """Make oauth.v2.access answer code with an installation, and register its bot token."""
        token = bot_token or f"xoxb-{team_id}-{new_id('', 12)}"
        response: JsonDict = {
            "ok": True,
            "app_id": app_id,
            "authed_user": {"id": authed_user_id},
            "scope": scope,
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": bot_user_id,
            "team": {"id": team_id, "name": team_name or team_id},
            "enterprise": None if enterprise_id is None else {"id": enterprise_id, "name": ""},
            "is_enterprise_install": False,
        }
        workspace = Workspace(
            team_id=team_id,
            team_name=team_name or team_id,
            team_domain=(team_name or team_id).lower().replace(" ", "-"),
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            enterprise_id=enterprise_id,
            scopes=scope,
        )
        with self._lock:
            self._installations[code] = response
            self._workspaces[token] = workspace
        return copy.deepcopy(response)

    def add_file(self, file: Mapping[str, Any]) -> JsonDict:
        """Register a file object (as file_input delivers it) so files.info can find it."""
        stored = dict(file)
        with self._lock:
            self._files[str(stored["id"])] = stored
        return copy.deepcopy(stored)

    def new_file(
        self, name: str, *, user_id: str = "U0USER", team_id: str | None = None
    ) -> JsonDict:
        """Create and register a file as if a person had uploaded it."""
        workspace = self.workspace_for_team(team_id or self.default_workspace.team_id)
        return self.add_file(
            uploaded_file(
                name,
                user_id=user_id,
                team_id=workspace.team_id,
                domain=workspace.team_domain,
            )
        )

    def new_trigger_id(self, user_id: str, team_id: str | None = None) -> str:
        """Issue a trigger_id for user_id, as a click or command would; it expires after trigger_ttl."""
        trigger_id = new_trigger_id()
        with self._lock:
            self._triggers[trigger_id] = _Trigger(
                user_id=user_id,
                team_id=team_id or self.default_workspace.team_id,
                created=time.monotonic(),
            )
        return trigger_id

    def new_response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = None,
        team_id: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Issue a response_url; with message_ts, replace/delete_original act on that message."""
        url_id = new_id("", 16).lower()
        channel_id = self._resolve_channel(channel) if channel else ""
        state = _ResponseUrl(id=url_id, channel=channel_id, user=user or "", team_id=team_id)
        if message_ts is not None:
            kind: Literal["channel", "ephemeral"] = "ephemeral" if ephemeral else "channel"
            state.original = _MessageRef(kind, channel_id, message_ts, user or "")
            state.refs.append(state.original)
        with self._lock:
            self._response_urls[url_id] = state
        return f"{self.url}response/{url_id}"

    def set_response_message(self, url: str, message: Mapping[str, Any]) -> None:
        """Set the message that replace_original / delete_original on url act upon."""
        with self._changed:
            state = self._response_url_state(url)
            ref = self._find_ref(state.channel, str(message.get("ts", "")), state.user)
            if ref is None:
                ref = self._store_ephemeral(state, message)
            state.original = ref
            if ref not in state.refs:
                state.refs.insert(0, ref)
            self._touch()

    # ------------------------------------------------------------ fault injection

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        channel: str | None = None,
    ) -> None:
        """Fail the next `times` calls of method ("*": any Web API method; "response_url"); None: until cleared.

        `channel`: only calls about that channel (the others go through and do not count)."""
        _check_times(times)
        if status is None:
            status = 429 if error == "ratelimited" else (200 if error else 500)
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(
                    status=status,
                    error=error,
                    retry_after=retry_after,
                    remaining=times,
                    channel=channel,
                )
            )

    def delay(self, method: str, seconds: float, *, times: int | None = 1) -> None:
        """Make the next `times` answers for method ("*" or "response_url" too) take `seconds` longer."""
        _check_times(times)
        with self._lock:
            self._delays.setdefault(method, deque()).append(_Delay(seconds, times))

    def outage(self, status: int = 500) -> None:
        """Make every Web API call and response_url post fail with status until recover()."""
        with self._lock:
            self._outage = status

    def recover(self) -> None:
        """End an outage()."""
        with self._lock:
            self._outage = None

    def clear_faults(self) -> None:
        """Drop every queued failure, delay and outage."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._outage = None

    # ------------------------------------------------------------------- queries

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Return recorded calls (of method, if given), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last_call(self, method: str) -> RecordedCall:
        """Return the latest call of method, or raise AssertionError listing what was recorded."""
        calls = self.calls(method)
        if not calls:
            raise AssertionError(f"no {method} call was recorded;\n{self.describe_calls()}")
        return calls[-1]

    def channel_messages(self, channel: str) -> list[JsonDict]:
        """Return the messages now in channel (thread replies included), oldest first."""
        with self._lock:
            return copy.deepcopy(self._history.get(self._resolve_channel(channel), []))

    def thread_messages(self, channel: str, thread_ts: str) -> list[JsonDict]:
        """Return the parent and replies of a thread, oldest first."""
        return [
            m
            for m in self.channel_messages(channel)
            if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
        ]

    def message(self, channel: str, ts: str) -> JsonDict | None:
        """Return the message at (channel, ts) as it is now, or None if absent or deleted."""
        for message in self.channel_messages(channel):
            if message["ts"] == ts:
                return message
        return None

    def dm_channel(self, user_id: str) -> str:
        """Return the bot's DM channel id with user_id (stable per user)."""
        with self._lock:
            return self._dm_channel(user_id)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[JsonDict]:
        """Return ephemeral messages (each with "channel" and recipient "user"), oldest first."""
        resolved = self._resolve_channel(channel) if channel else None
        with self._lock:
            found = [
                m
                for (c, u), messages in self._ephemeral.items()
                for m in messages
                if (resolved is None or c == resolved) and (user is None or u == user)
            ]
            return copy.deepcopy(sorted(found, key=lambda m: _ts_key(m["ts"])))

    def response_messages(self, url: str) -> list[JsonDict]:
        """Return the messages url controls now: the original first, then those posted through it."""
        with self._lock:
            state = self._response_url_state(url)
            found = [self._resolve_ref(ref) for ref in state.refs]
            return copy.deepcopy([m for m in found if m is not None])

    def home_view(self, user: str) -> JsonDict | None:
        """Return the Home tab view published for user, or None."""
        with self._lock:
            view_id = self._homes.get(user)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def open_views(self, user: str | None = None) -> list[JsonDict]:
        """Return the open modal views of user (or of everyone), root first, top of stack last."""
        with self._lock:
            users = [user] if user is not None else list(self._modals)
            stacks = [self._modals.get(u, []) for u in users]
            return copy.deepcopy([self._views[v] for stack in stacks for v in stack])

    def view(self, view_id: str) -> JsonDict | None:
        """Return an open modal or Home tab view by id, or None."""
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found else None

    def file(self, file_id: str) -> JsonDict | None:
        """Return a registered or uploaded file object, or None."""
        with self._lock:
            found = self._files.get(file_id)
            return copy.deepcopy(found) if found else None

    def reset(self) -> None:
        """Forget every call, message, view, response_url and fault (configuration stays)."""
        with self._changed:
            self._clear_state()
            self._touch()

    def describe_calls(self, limit: int = 40) -> str:
        """Return a readable list of the recorded calls, for assertion messages."""
        calls = self.calls()
        if not calls:
            return "recorded calls: none"
        lines = [f"recorded calls ({len(calls)}):"]
        for index, call in enumerate(calls[-limit:], start=max(1, len(calls) - limit + 1)):
            outcome = f"{call.status}" + (f" {call.error}" if call.error else "")
            args = json.dumps(call.args, default=str, ensure_ascii=False)
            lines.append(f"  {index}. {call.method} -> {outcome} {_shorten(args, 160)}")
        return "\n".join(lines)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str | None = None
    ) -> T:
        """Poll predicate until it returns something truthy and return it; else raise AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                seen = self._version
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = description or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for {what};\n{self.describe_calls()}"
                )
            with self._changed:
                if self._version == seen:
                    self._changed.wait(timeout=min(remaining, 0.1))

    def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Wait until method was called at least count times and return those calls."""
        return self.wait_for(
            lambda: calls if len(calls := self.calls(method)) >= count else [],
            timeout,
            description=f"{count} {method} call(s)",
        )

    # ---------------------------------------------- applying the client's side of modals

    def apply_view_response(
        self, user_id: str, view_id: str, response: Mapping[str, Any] | None
    ) -> None:
        """Apply the app's answer to a view_submission as Slack's client would."""
        action = (response or {}).get("response_action")
        with self._changed:
            stack = self._modals.get(user_id, [])
            if view_id not in stack:
                return
            if action == "errors":
                return
            if action == "update" and isinstance((response or {}).get("view"), dict):
                current = self._views[view_id]
                self._views[view_id] = self._build_view(
                    dict((response or {})["view"]),
                    self.workspace_for_team(str(current["team_id"])),
                    view_id=view_id,
                    root_view_id=current["root_view_id"],
                    previous_view_id=current["previous_view_id"],
                )
            elif action == "push" and isinstance((response or {}).get("view"), dict):
                current = self._views[view_id]
                pushed = self._build_view(
                    dict((response or {})["view"]),
                    self.workspace_for_team(str(current["team_id"])),
                    root_view_id=stack[0],
                    previous_view_id=stack[-1],
                )
                self._views[pushed["id"]] = pushed
                self._view_owner[pushed["id"]] = user_id
                stack.append(pushed["id"])
            elif action == "clear":
                self._close_views(user_id, stack[0])
            else:
                self._close_views(user_id, view_id)
            self._touch()

    def close_view(self, user_id: str, view_id: str, *, clear: bool = False) -> None:
        """Close view_id (and the views pushed above it; all of the modal when clear)."""
        with self._changed:
            stack = self._modals.get(user_id, [])
            if view_id in stack:
                self._close_views(user_id, stack[0] if clear else view_id)
                self._touch()

    # ----------------------------------------------------------------- internals

    def _touch(self) -> None:
        self._version += 1
        self._changed.notify_all()

    def _record(self, call: RecordedCall) -> None:
        with self._changed:
            self._calls.append(call)
            self._touch()

    def _next_ts(self) -> str:
        # Like Slack's: the posting time in microseconds, strictly increasing (a fixed start
        # counts up from `first_ts` instead, for tests that want exact values).
        if self._first_ts is None:
            self._ts_seq = max(self._ts_seq + 1, int(time.time() * 1_000_000))
            return f"{self._ts_seq // 1_000_000}.{self._ts_seq % 1_000_000:06d}"
        self._ts_seq += 1
        micros = self._ts_seq * 100
        return f"{self._first_ts + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dm_channel(self, user_id: str) -> str:
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = "D" + user_id[1:]
        return self._dm_channels[user_id]

    def _resolve_channel(self, channel: str) -> str:
        if channel[:1] in {"U", "W"}:
            with self._lock:
                return self._dm_channel(channel)
        return channel

    def _workspace_for_token(self, token: str | None) -> Workspace | None:
        with self._lock:
            known = self._workspaces.get(token or "")
        if known is not None:
            return known
        return None if self.strict_tokens else self.default_workspace

    def _take(
        self,
        queues: Mapping[str, deque[Any]],
        method: str,
        web_api: bool,
        channel: str | None = None,
    ) -> Any:
        for key in (method, "*") if web_api else (method,):
            queue = queues.get(key)
            if not queue:
                continue
            entry = queue[0]
            wanted = getattr(entry, "channel", None)
            if wanted is not None and wanted != channel:
                continue
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    queue.popleft()
            return entry
        return None

    def _take_fault(self, method: str, web_api: bool, channel: str | None = None) -> _Fault | None:
        with self._lock:
            fault: _Fault | None = self._take(self._faults, method, web_api, channel)
            if fault is None and self._outage is not None:
                status = self._outage
                error = "ratelimited" if status == 429 else "internal_error"
                fault = _Fault(status, error, 1 if status == 429 else None, None)
            return fault

    def _take_delay(self, method: str, web_api: bool) -> float:
        with self._lock:
            entry: _Delay | None = self._take(self._delays, method, web_api)
        return entry.seconds if entry else 0.0

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _response_url_state(self, url: str) -> _ResponseUrl:
        url_id = url.rstrip("/").rsplit("/", 1)[-1]
        state = self._response_urls.get(url_id)
        if state is None:
            raise KeyError(f"unknown response_url {url!r}")
        return state

    def _find_ref(self, channel: str, ts: str, user: str) -> _MessageRef | None:
        if any(m["ts"] == ts for m in self._history.get(channel, [])):
            return _MessageRef("channel", channel, ts)
        if any(m["ts"] == ts for m in self._ephemeral.get((channel, user), [])):
            return _MessageRef("ephemeral", channel, ts, user)
        return None

    def _resolve_ref(self, ref: _MessageRef) -> JsonDict | None:
        if ref.kind == "channel":
            messages = self._history.get(ref.channel, [])
        else:
            messages = self._ephemeral.get((ref.channel, ref.user), [])
        return next((m for m in messages if m["ts"] == ref.ts), None)

    def _remove_ref(self, ref: _MessageRef) -> None:
        if ref.kind == "channel":
            messages = self._history.get(ref.channel, [])
        else:
            messages = self._ephemeral.get((ref.channel, ref.user), [])
        messages[:] = [m for m in messages if m["ts"] != ref.ts]

    def _bot_message(self, workspace: Workspace, args: Mapping[str, Any]) -> JsonDict:
        message: JsonDict = {
            "type": "message",
            "text": args.get("text") or "",
            "user": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "app_id": workspace.app_id,
            "team": workspace.team_id,
            "ts": self._next_ts(),
        }
        if args.get("blocks"):
            message["blocks"] = with_generated_ids(args["blocks"])
        for key in ("attachments", "thread_ts", "metadata", "files"):
            if args.get(key):
                message[key] = json_copy(args[key])
        return message

    def _store_ephemeral(self, state: _ResponseUrl, args: Mapping[str, Any]) -> _MessageRef:
        workspace = self.workspace_for_team(state.team_id or self.default_workspace.team_id)
        message = self._bot_message(workspace, args)
        message["channel"] = state.channel
        message["user"] = state.user
        self._ephemeral.setdefault((state.channel, state.user), []).append(message)
        return _MessageRef("ephemeral", state.channel, message["ts"], state.user)

    def _build_view(
        self,
        view: JsonDict,
        workspace: Workspace,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> JsonDict:
        if len(view.get("blocks") or []) > _MAX_VIEW_BLOCKS:
            raise SlackError("invalid_arguments", f"no more than {_MAX_VIEW_BLOCKS} items allowed")
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

    def _close_views(self, user_id: str, from_view_id: str) -> None:
        stack = self._modals.get(user_id, [])
        index = stack.index(from_view_id)
        for closed in stack[index:]:
            self._views.pop(closed, None)
            self._view_owner.pop(closed, None)
        del stack[index:]
        if not stack:
            self._modals.pop(user_id, None)

    # --------------------------------------------------------- request handling

    @property
    def in_flight(self) -> int:
        """Web API calls being answered right now (slow ones included)."""
        with self._lock:
            return self._in_flight

    def _handle_web_api(
        self, method: str, args: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, JsonDict, dict[str, str]]:
        with self._lock:
            self._in_flight += 1
        try:
            return self._answer_web_api(method, args, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer_web_api(
        self, method: str, args: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, JsonDict, dict[str, str]]:
        arrived = time.time()
        token = _bearer(headers) or args.pop("token", None)
        args.pop("token", None)
        self._pause(self._take_delay(method, web_api=True))
        fault = self._take_fault(method, web_api=True, channel=args.get("channel"))
        status: int = 200
        body: JsonDict = {"ok": True}
        extra: dict[str, str] = {}
        if fault is not None:
            status, body, extra = _fault_answer(fault)
        else:
            workspace = self._workspace_for_token(token)
            if method not in _TOKENLESS_METHODS and not token:
                body = {"ok": False, "error": "not_authed"}
            elif method not in _TOKENLESS_METHODS and workspace is None:
                body = {"ok": False, "error": "invalid_auth"}
            else:
                request = _Request(
                    method, args, token, headers, workspace or self.default_workspace
                )
                try:
                    with self._changed:
                        body = self._dispatch(request)
                        self._touch()
                except SlackError as err:
                    body = {"ok": False, "error": err.error}
                    if err.messages:
                        body["response_metadata"] = {"messages": err.messages}
                if method == "auth.test" and workspace is not None:
                    extra = {"x-oauth-scopes": workspace.scopes}
        self._record(
            RecordedCall(
                method=method,
                args=args,
                token=token,
                headers=headers,
                time=arrived,
                status=status,
                error=None if body.get("ok") else str(body.get("error")),
                response=body,
            )
        )
        return status, body, extra

    def _handle_response_url(
        self, url_id: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, JsonDict, dict[str, str]]:
        arrived = time.time()
        self._pause(self._take_delay("response_url", web_api=False))
        fault = self._take_fault("response_url", web_api=False)
        status: int = 200
        answer: JsonDict = {"ok": True}
        extra: dict[str, str] = {}
        if fault is not None:
            status, answer, extra = _fault_answer(fault)
        else:
            with self._changed:
                state = self._response_urls.get(url_id)
                if state is None:
                    status, answer = 404, {"ok": False, "error": "no_service"}
                elif state.uses >= self.response_url_uses:
                    status, answer = 404, {"ok": False, "error": "used_url"}
                else:
                    state.uses += 1
                    self._apply_response(state, body)
                    self._touch()
        self._record(
            RecordedCall(
                method="response_url",
                args=body,
                token=None,
                headers=headers,
                time=arrived,
                status=status,
                error=None if answer.get("ok") else str(answer.get("error")),
                response=answer,
                response_url_id=url_id,
            )
        )
        return status, answer, extra

    def _handle_upload(self, file_id: str, data: bytes, headers: dict[str, str]) -> int:
        with self._changed:
            known = file_id in self._files
            if known:
                self._uploads[file_id] = data
                self._files[file_id]["size"] = len(data)
        self._record(
            RecordedCall(
                method="file_upload",
                args={"file_id": file_id, "size": len(data)},
                token=None,
                headers=headers,
                time=time.time(),
                status=200 if known else 404,
                error=None if known else "file_not_found",
            )
        )
        return 200 if known else 404

    def _apply_response(self, state: _ResponseUrl, body: Mapping[str, Any]) -> None:
        content = {
            "text": body.get("text") or "",
            "blocks": with_generated_ids(body.get("blocks") or []),
            "attachments": copy.deepcopy(body.get("attachments") or []),
        }
        original = self._resolve_ref(state.original) if state.original else None
        if _truthy(body.get("delete_original")):
            if state.original is not None:
                self._remove_ref(state.original)
            return
        if _truthy(body.get("replace_original")) and original is not None:
            original.update(content)
            for key in ("blocks", "attachments"):
                if not original[key]:
                    original.pop(key)
            return
        if body.get("response_type") == "in_channel" and state.channel:
            workspace = self.workspace_for_team(state.team_id or self.default_workspace.team_id)
            message = self._bot_message(workspace, {**body, **content})
            self._history.setdefault(state.channel, []).append(message)
            ref = _MessageRef("channel", state.channel, message["ts"])
        else:
            ref = self._store_ephemeral(state, {**body, **content})
        state.refs.append(ref)
        if state.original is None or original is None:
            state.original = ref

    def _dispatch(self, request: _Request) -> JsonDict:
        handler = _METHODS.get(request.method)
        if handler is None:
            return {"ok": True}
        return handler(self, request)

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, request: _Request) -> JsonDict:
        workspace = request.workspace
        answer: JsonDict = {
            "ok": True,
            "url": f"https://{workspace.team_domain}.slack.com/",
            "team": workspace.team_name,
            "user": workspace.bot_name,
            "team_id": workspace.team_id,
            "user_id": workspace.bot_user_id,
            "bot_id": workspace.bot_id,
            "is_enterprise_install": False,
        }
        if workspace.enterprise_id:
            answer["enterprise_id"] = workspace.enterprise_id
        return answer

    def _chat_post_message(self, request: _Request) -> JsonDict:
        args = request.args
        channel = str(args.get("channel") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        if len(args.get("blocks") or []) > _MAX_MESSAGE_BLOCKS:
            raise SlackError("invalid_blocks", f"no more than {_MAX_MESSAGE_BLOCKS} items allowed")
        channel = self._resolve_channel(channel)
        message = self._bot_message(request.workspace, args)
        self._history.setdefault(channel, []).append(message)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "message": _snapshot(message),
        }

    def _chat_update(self, request: _Request) -> JsonDict:
        args = request.args
        channel = self._resolve_channel(str(args.get("channel") or ""))
        ts = str(args.get("ts") or "")
        message = next((m for m in self._history.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            raise SlackError("message_not_found")
        if len(args.get("blocks") or []) > _MAX_MESSAGE_BLOCKS:
            raise SlackError("invalid_blocks", f"no more than {_MAX_MESSAGE_BLOCKS} items allowed")
        if "text" in args:
            message["text"] = args["text"] or ""
        # Slack keeps blocks/attachments not passed; an empty list removes them.
        for key in ("blocks", "attachments"):
            if key in args:
                if args[key]:
                    message[key] = (
                        with_generated_ids(args[key])
                        if key == "blocks"
                        else copy.deepcopy(args[key])
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
            "message": _snapshot(message),
        }

    def _chat_delete(self, request: _Request) -> JsonDict:
        channel = self._resolve_channel(str(request.args.get("channel") or ""))
        ts = str(request.args.get("ts") or "")
        messages = self._history.get(channel, [])
        if not any(m["ts"] == ts for m in messages):
            raise SlackError("message_not_found")
        messages[:] = [m for m in messages if m["ts"] != ts]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, request: _Request) -> JsonDict:
        args = request.args
        channel = self._resolve_channel(str(args.get("channel") or ""))
        user = str(args.get("user") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if not user:
            raise SlackError("user_not_found")
        if not (args.get("text") or args.get("blocks") or args.get("attachments")):
            raise SlackError("no_text")
        message = self._bot_message(request.workspace, args)
        message["channel"] = channel
        message["user"] = user
        self._ephemeral.setdefault((channel, user), []).append(message)
        return {"ok": True, "message_ts": message["ts"]}

    def _chat_get_permalink(self, request: _Request) -> JsonDict:
        channel = self._resolve_channel(str(request.args.get("channel") or ""))
        ts = str(request.args.get("message_ts") or "")
        if not any(m["ts"] == ts for m in self._history.get(channel, [])):
            raise SlackError("message_not_found")
        domain = request.workspace.team_domain
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _conversations_history(self, request: _Request) -> JsonDict:
        channel = self._resolve_channel(str(request.args.get("channel") or ""))
        top_level = [
            m for m in self._history.get(channel, []) if m.get("thread_ts") in (None, m["ts"])
        ]
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

    def _conversations_replies(self, request: _Request) -> JsonDict:
        channel = self._resolve_channel(str(request.args.get("channel") or ""))
        ts = str(request.args.get("ts") or "")
        thread = [
            m for m in self._history.get(channel, []) if m["ts"] == ts or m.get("thread_ts") == ts
        ]
        if not thread:
            raise SlackError("thread_not_found")
        return {"ok": True, "messages": copy.deepcopy(thread), "has_more": False}

    def _conversations_open(self, request: _Request) -> JsonDict:
        users = request.args.get("users") or ""
        user_ids = users if isinstance(users, list) else [u for u in str(users).split(",") if u]
        if not user_ids:
            if request.args.get("channel"):
                return {"ok": True, "channel": {"id": request.args["channel"]}}
            raise SlackError("users_list_not_supplied")
        if len(user_ids) == 1:
            already = user_ids[0] in self._dm_channels
            answer: JsonDict = {"ok": True, "channel": {"id": self._dm_channel(user_ids[0])}}
            if already:
                answer.update({"no_op": True, "already_open": True})
            return answer
        return {"ok": True, "channel": {"id": "G" + "".join(u[1:4] for u in sorted(user_ids))}}

    def _conversations_info(self, request: _Request) -> JsonDict:
        channel = str(request.args.get("channel") or "")
        if not channel:
            raise SlackError("channel_not_found")
        if channel.startswith("D"):
            user = next((u for u, d in self._dm_channels.items() if d == channel), "")
            return {
                "ok": True,
                "channel": {
                    "id": channel,
                    "created": self._first_ts or int(time.time()),
                    "is_im": True,
                    "is_org_shared": False,
                    "user": user,
                    "is_user_deleted": False,
                    "priority": 0,
                },
            }
        known = self._channels.get(channel, {})
        name = str(known.get("name") or channel.lower())
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": name,
                "name_normalized": name,
                "is_channel": not known.get("is_private", False),
                "is_group": bool(known.get("is_private", False)),
                "is_im": False,
                "is_mpim": False,
                "is_private": bool(known.get("is_private", False)),
                "is_archived": False,
                "is_member": True,
                "created": self._first_ts or int(time.time()),
                "context_team_id": known.get("team_id") or request.workspace.team_id,
            },
        }

    def _users_info(self, request: _Request) -> JsonDict:
        user_id = str(request.args.get("user") or "")
        if not user_id:
            raise SlackError("user_not_found")
        profile = self.user(user_id)
        offset, label = _tz_offset(profile.tz)
        return {
            "ok": True,
            "user": {
                "id": profile.id,
                "team_id": profile.team_id or request.workspace.team_id,
                "name": profile.name,
                "deleted": False,
                "real_name": profile.real_name,
                "tz": profile.tz,
                "tz_label": label,
                "tz_offset": offset,
                "is_bot": profile.is_bot,
                "is_admin": False,
                "is_owner": False,
                "is_app_user": False,
                "profile": {
                    "real_name": profile.real_name,
                    "display_name": profile.name,
                    "email": profile.email,
                    "team": profile.team_id or request.workspace.team_id,
                },
            },
        }

    def _team_info(self, request: _Request) -> JsonDict:
        team_id = request.args.get("team")
        workspace = self.workspace_for_team(str(team_id)) if team_id else request.workspace
        team: JsonDict = {
            "id": workspace.team_id,
            "name": workspace.team_name,
            "domain": workspace.team_domain,
            "email_domain": "",
            "icon": {"image_default": True},
        }
        if workspace.enterprise_id:
            team["enterprise_id"] = workspace.enterprise_id
        return {"ok": True, "team": team}

    def _files_info(self, request: _Request) -> JsonDict:
        file = self._files.get(str(request.args.get("file") or ""))
        if file is None:
            raise SlackError("file_not_found")
        return {"ok": True, "file": copy.deepcopy(file), "comments": [], "response_metadata": {}}

    def _files_get_upload_url(self, request: _Request) -> JsonDict:
        name = str(request.args.get("filename") or "file")
        workspace = request.workspace
        file = uploaded_file(
            name,
            user_id=workspace.bot_user_id,
            team_id=workspace.team_id,
            size=int(request.args.get("length") or 0),
            domain=workspace.team_domain,
        )
        self._files[file["id"]] = file
        return {"ok": True, "upload_url": f"{self.url}upload/{file['id']}", "file_id": file["id"]}

    def _files_complete_upload(self, request: _Request) -> JsonDict:
        entries = request.args.get("files") or []
        completed = []
        for entry in entries:
            file = self._files.get(str(entry.get("id")))
            if file is None:
                raise SlackError("file_not_found")
            if entry.get("title"):
                file["title"] = entry["title"]
            completed.append(file)
        channel = request.args.get("channel_id") or request.args.get("channel")
        if channel:
            args = {
                "text": request.args.get("initial_comment") or "",
                "thread_ts": request.args.get("thread_ts"),
                "files": completed,
            }
            message = self._bot_message(request.workspace, args)
            self._history.setdefault(self._resolve_channel(str(channel)), []).append(message)
        return {"ok": True, "files": [{"id": f["id"], "title": f["title"]} for f in completed]}

    def _oauth_v2_access(self, request: _Request) -> JsonDict:
        installation = self._installations.get(str(request.args.get("code") or ""))
        if installation is None:
            raise SlackError("invalid_code")
        return copy.deepcopy(installation)

    def _exchange_trigger(self, request: _Request) -> str:
        trigger_id = str(
            request.args.get("trigger_id") or request.args.get("interactivity_pointer") or ""
        )
        if not trigger_id:
            raise SlackError("invalid_arguments", "missing required field: trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            if self.strict_triggers:
                raise SlackError("invalid_trigger_id")
            return ""
        if trigger.exchanged:
            raise SlackError("exchanged_trigger_id")
        age = time.monotonic() - trigger.created
        if self.trigger_ttl is not None and age > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.exchanged = True
        return trigger.user_id

    def _view_arg(self, request: _Request) -> JsonDict:
        view = request.args.get("view")
        if not isinstance(view, dict):
            raise SlackError("invalid_arguments", "missing required field: view")
        return view

    def _check_external_id(self, view: Mapping[str, Any], except_view_id: str | None) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        for view_id, existing in self._views.items():
            if view_id != except_view_id and existing.get("external_id") == external_id:
                raise SlackError("duplicate_external_id")

    def _views_open(self, request: _Request) -> JsonDict:
        view_in = self._view_arg(request)
        user = self._exchange_trigger(request)
        self._check_external_id(view_in, None)
        view = self._build_view(view_in, request.workspace)
        for closed in self._modals.get(user, []):
            self._views.pop(closed, None)
        self._views[view["id"]] = view
        self._view_owner[view["id"]] = user
        self._modals[user] = [view["id"]]
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_push(self, request: _Request) -> JsonDict:
        view_in = self._view_arg(request)
        user = self._exchange_trigger(request)
        stack = self._modals.get(user)
        if not stack:
            raise SlackError("invalid_arguments", "no modal is open for this trigger's user")
        if len(stack) >= _MAX_MODAL_STACK:
            raise SlackError("push_limit_reached")
        self._check_external_id(view_in, None)
        view = self._build_view(
            view_in, request.workspace, root_view_id=stack[0], previous_view_id=stack[-1]
        )
        self._views[view["id"]] = view
        self._view_owner[view["id"]] = user
        stack.append(view["id"])
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_update(self, request: _Request) -> JsonDict:
        view_in = self._view_arg(request)
        view_id = request.args.get("view_id")
        external_id = request.args.get("external_id")
        if not view_id and external_id:
            view_id = next(
                (v for v, s in self._views.items() if s.get("external_id") == external_id), None
            )
        current = self._views.get(str(view_id or ""))
        if current is None:
            raise SlackError("not_found")
        if request.args.get("hash") and request.args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        self._check_external_id(view_in, current["id"])
        if not view_in.get("external_id") and current.get("external_id"):
            view_in = {**view_in, "external_id": current["external_id"]}
        view = self._build_view(
            view_in,
            request.workspace,
            view_id=current["id"],
            root_view_id=current["root_view_id"],
            previous_view_id=current["previous_view_id"],
        )
        self._views[view["id"]] = view
        return {"ok": True, "view": copy.deepcopy(view)}

    def _views_publish(self, request: _Request) -> JsonDict:
        view_in = self._view_arg(request)
        user = str(request.args.get("user_id") or "")
        if not user:
            raise SlackError("invalid_arguments", "missing required field: user_id")
        if view_in.get("type") != "home":
            raise SlackError("invalid_arguments", "must be a valid enum value [json-pointer:/type]")
        current_id = self._homes.get(user)
        current = self._views.get(current_id) if current_id else None
        if request.args.get("hash") and current and request.args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._build_view(view_in, request.workspace, view_id=current_id)
        self._views[view["id"]] = view
        self._view_owner[view["id"]] = user
        self._homes[user] = view["id"]
        return {"ok": True, "view": copy.deepcopy(view)}


_Method = Callable[[LocalSlack, _Request], JsonDict]

_METHODS: dict[str, _Method] = {
    "auth.test": LocalSlack._auth_test,
    "chat.postMessage": LocalSlack._chat_post_message,
    "chat.update": LocalSlack._chat_update,
    "chat.delete": LocalSlack._chat_delete,
    "chat.postEphemeral": LocalSlack._chat_post_ephemeral,
    "chat.getPermalink": LocalSlack._chat_get_permalink,
    "conversations.history": LocalSlack._conversations_history,
    "conversations.replies": LocalSlack._conversations_replies,
    "conversations.open": LocalSlack._conversations_open,
    "conversations.info": LocalSlack._conversations_info,
    "users.info": LocalSlack._users_info,
    "team.info": LocalSlack._team_info,
    "files.info": LocalSlack._files_info,
    "files.getUploadURLExternal": LocalSlack._files_get_upload_url,
    "files.completeUploadExternal": LocalSlack._files_complete_upload,
    "oauth.v2.access": LocalSlack._oauth_v2_access,
    "views.open": LocalSlack._views_open,
    "views.push": LocalSlack._views_push,
    "views.update": LocalSlack._views_update,
    "views.publish": LocalSlack._views_publish,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of new connections must not overflow the listen backlog
    local: LocalSlack


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "LocalSlack/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet; every request is recorded instead."""

    def do_GET(self) -> None:
        """Answer Web API calls sent as GET with a query string."""
        self._route(b"")

    def do_POST(self) -> None:
        """Answer Web API calls, response_url posts and file uploads."""
        length = int(self.headers.get("Content-Length") or 0)
        self._route(self.rfile.read(length) if length else b"")

    def _route(self, raw: bytes) -> None:
        local = self.server.local
        parts = urlsplit(self.path)
        headers = {k: v for k, v in self.headers.items()}
        try:
            if parts.path.startswith("/api/"):
                args = _parse_args(raw, self.headers.get("Content-Type") or "", parts.query)
                status, body, extra = local._handle_web_api(parts.path[5:], args, headers)
                self._answer(status, body, extra)
            elif parts.path.startswith("/response/"):
                payload = _parse_args(raw, self.headers.get("Content-Type") or "", "")
                if isinstance(payload.get("payload"), str):
                    payload = json.loads(payload["payload"])
                status, body, extra = local._handle_response_url(parts.path[10:], payload, headers)
                self._answer(status, body, extra)
            elif parts.path.startswith("/upload/"):
                status = local._handle_upload(parts.path[8:], raw, headers)
                self._answer_text(status, f"OK - {len(raw)}" if status == 200 else "not found")
            else:
                self._answer_text(404, "not found")
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test); nothing is left to answer.
            pass
        except ValueError as err:
            self._answer(200, {"ok": False, "error": "invalid_form_data", "detail": str(err)}, {})

    def _answer(self, status: int, body: Mapping[str, Any], extra: Mapping[str, str]) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer_text(self, status: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _check_times(times: int | None) -> None:
    if times is not None and times < 1:
        raise ValueError(f"times must be at least 1 (or None for until cleared), not {times}")


def _snapshot(message: JsonDict) -> JsonDict:
    """The message as it is now, for an answer (and its record).

    A shallow copy is enough: a stored message's values are never changed in place — an update
    replaces a whole key (`text`, `blocks`, `metadata`) with a new value — so what the copy shares
    with the stored message stays as it was. (A deep copy of a digest's blocks was a fifth of
    this server's time per post.)
    """
    return dict(message)


def _fault_answer(fault: _Fault) -> tuple[int, JsonDict, dict[str, str]]:
    extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return fault.status, {"ok": False, "error": fault.error}, extra


def _parse_args(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if media_type == "application/json" or raw.lstrip().startswith(b"{"):
            decoded = json.loads(raw.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("a JSON body must be an object")
            args.update(decoded)
        elif media_type == "multipart/form-data":
            args.update(_parse_multipart(raw, content_type))
        else:
            args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_ARGS & args.keys():
        if isinstance(args[key], str) and args[key][:1] in {"[", "{"}:
            args[key] = json.loads(args[key])
    return args


def _parse_multipart(raw: bytes, content_type: str) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = data if part.get_filename() else data.decode("utf-8")
    return fields


def _bearer(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "authorization" and value.startswith("Bearer "):
            return value[len("Bearer ") :]
    return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _tz_offset(tz: str) -> tuple[int, str]:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return 0, tz
    moment = datetime.fromtimestamp(time.time(), zone)
    offset = moment.utcoffset()
    return (int(offset.total_seconds()) if offset else 0), moment.tzname() or tz


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
