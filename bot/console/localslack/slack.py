"""LocalSlack: the one object tests, the console and benchmarks hold.

It starts the HTTP server (server.py) and, on first use, the Socket Mode server (socketmode.py);
sets up workspaces, people, channels and installations; puts faults in force (faults.py); and
answers queries on what Slack now shows (state.py), waiting for it when asked.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bot.console.localslack.faults import (
    Delay,
    Fault,
    Faults,
    LostAnswer,
    LostHow,
    Predicate,
    Refusal,
    deadline,
)
from bot.console.localslack.methods import views
from bot.console.localslack.payloads import JsonDict, new_id, new_trigger_id, uploaded_file
from bot.console.localslack.ratelimits import SLACK_TIERS, RateWindows, Tiers, peak
from bot.console.localslack.server import HttpServer
from bot.console.localslack.state import (
    MessageRef,
    RecordedCall,
    Request,
    ResponseUrl,
    SlackError,
    SlackState,
    Trigger,
    UserProfile,
    Workspace,
)
from bot.console.localslack.webapi import WebApi

if TYPE_CHECKING:
    from bot.console.localslack.socketmode import SocketModeServer

T = TypeVar("T")


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
        tiers: Tiers | None = SLACK_TIERS,
        rate_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure (start() serves).

        `tiers`: the rate limits enforced (ratelimits.py): a call over its method's rate in its
        token's workspace, or chat.postMessage over a channel's, is answered 429 "ratelimited"
        with Retry-After and not carried out. Slack's own numbers by default, for the tests, the
        console and the benchmarks alike: the point of a local Slack is to answer as Slack
        would, and a bot that bursts past a tier (a loop of chat.update, a sweep posting to one
        channel) must be seen doing so before production sees it. A test makes a handful of
        calls a minute, far below any tier, so this costs it nothing; one that means to burst
        can see the 429s its bursts earn (`rate_limited()`), or give smaller windows
        (`SLACK_TIERS.with_limits(...)`, `Tiers(...)`) to meet a limit in a few calls, or, with
        a comment saying why, None: no limits.

        `rate_clock`: the seconds the rate windows are counted in (they must never go back):
        the wall clock's by default. Where the bot's clock is moved (a test's MovableClock, the
        console's `wait 4d`), Slack's windows must move with it, or a day of reminders replayed
        in a second is a burst: give `lambda: clock.now().timestamp()`.
        """
        self._host = host
        self._port = port
        self._state = SlackState(
            workspaces=workspaces,
            default_workspace=default_workspace,
            strict_tokens=strict_tokens,
            strict_triggers=strict_triggers,
            trigger_ttl=trigger_ttl,
            response_url_uses=response_url_uses,
            first_ts=first_ts,
        )
        self._faults = Faults()
        self._rates = RateWindows(tiers, rate_clock)
        self._stopping = threading.Event()
        self._web_api = WebApi(self._state, self._faults, self._stopping, self._rates)
        self._web_api.methods["apps.connections.open"] = self._apps_connections_open
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._socket_mode: SocketModeServer | None = None

    # ------------------------------------------------------------- configuration
    # (attributes tests may change after construction)

    @property
    def default_workspace(self) -> Workspace:
        """The workspace of a token nobody registered (unless strict_tokens)."""
        return self._state.default_workspace

    @default_workspace.setter
    def default_workspace(self, workspace: Workspace) -> None:
        self._state.default_workspace = workspace

    @property
    def strict_tokens(self) -> bool:
        """Answer invalid_auth to a token not registered with add_workspace."""
        return self._state.strict_tokens

    @strict_tokens.setter
    def strict_tokens(self, value: bool) -> None:
        self._state.strict_tokens = value

    @property
    def strict_triggers(self) -> bool:
        """Answer invalid_trigger_id to a trigger_id LocalSlack did not issue."""
        return self._state.strict_triggers

    @strict_triggers.setter
    def strict_triggers(self, value: bool) -> None:
        self._state.strict_triggers = value

    @property
    def trigger_ttl(self) -> float | None:
        """Seconds a trigger_id may be used for (None: no limit)."""
        return self._state.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, value: float | None) -> None:
        self._state.trigger_ttl = value

    @property
    def response_url_uses(self) -> int:
        """Posts a response_url takes before answering used_url."""
        return self._state.response_url_uses

    @response_url_uses.setter
    def response_url_uses(self, value: int) -> None:
        self._state.response_url_uses = value

    @property
    def tiers(self) -> Tiers | None:
        """The rate limits enforced (None: none). Calls already counted stay counted."""
        return self._rates.tiers

    @tiers.setter
    def tiers(self, value: Tiers | None) -> None:
        self._rates.tiers = value

    @property
    def rate_clock(self) -> Callable[[], float]:
        """The seconds the rate windows are counted in (see __init__)."""
        return self._rates.clock

    @rate_clock.setter
    def rate_clock(self, value: Callable[[], float]) -> None:
        self._rates.clock = value

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> LocalSlack:
        """Serve in a daemon thread (on a free port unless one was given) and return self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = HttpServer((self._host, self._port), self._web_api, self._stopping)
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
        """Stop serving, wake any delayed answers, and close the listening sockets."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        if self._socket_mode is not None:
            self._socket_mode.stop()
            self._socket_mode = None
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

    @property
    def socket_mode(self) -> SocketModeServer:
        """The Socket Mode server (started on first use; needs the `websockets` package)."""
        with self._state.lock:
            if self._socket_mode is None:
                from bot.console.localslack.socketmode import SocketModeServer

                self._socket_mode = SocketModeServer(
                    self._host, self._state.changed, self._state.touch
                ).start()
            return self._socket_mode

    # ------------------------------------------------------------- configuration

    def add_workspace(self, token: str, workspace: Workspace) -> None:
        """Make auth.test and friends answer for token as workspace."""
        with self._state.lock:
            self._state.workspaces[token] = workspace

    def workspace_for_team(self, team_id: str) -> Workspace:
        """Return the workspace registered for team_id (or the default one)."""
        return self._state.workspace_for_team(team_id)

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
        with self._state.lock:
            self._state.users[user_id] = profile
        return profile

    def user(self, user_id: str) -> UserProfile:
        """Return the profile of user_id (a default one with tz "UTC" when not set)."""
        return self._state.user(user_id)

    def add_channel(
        self, channel_id: str, name: str, *, is_private: bool = False, team_id: str | None = None
    ) -> None:
        """Name a channel for conversations.info and for the payloads the sender builds."""
        with self._state.lock:
            self._state.channels[channel_id] = {
                "name": name,
                "is_private": is_private,
                "team_id": team_id,
            }

    def user_message(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        team_id: str | None = None,
        thread_ts: str | None = None,
        files: Sequence[Mapping[str, Any]] = (),
    ) -> JsonDict:
        """A person writes in a channel (or a thread): stored as Slack stores it, and returned
        as the `message` event carries it."""
        with self._state.lock:
            message: JsonDict = {
                "type": "message",
                "user": user,
                "text": text,
                "team": team_id or self._state.default_workspace.team_id,
                "ts": self._state.next_ts(),
            }
            if thread_ts:
                message["thread_ts"] = thread_ts
            if files:
                message["files"] = [dict(f) for f in files]
                message["subtype"] = "file_share"
            self._state.history.setdefault(self._state.resolve_channel(channel), []).append(message)
            return copy.deepcopy(message)

    def channel_name(self, channel_id: str) -> str:
        """Return the channel's name as a slash command or click payload carries it."""
        with self._state.lock:
            known = self._state.channels.get(channel_id)
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
        with self._state.lock:
            self._state.installations[code] = response
            self._state.workspaces[token] = workspace
        return copy.deepcopy(response)

    def add_file(self, file: Mapping[str, Any]) -> JsonDict:
        """Register a file object (as file_input delivers it) so files.info can find it."""
        stored = dict(file)
        with self._state.lock:
            self._state.files[str(stored["id"])] = stored
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
        with self._state.lock:
            self._state.triggers[trigger_id] = Trigger(
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
        channel_id = self._state.resolve_channel(channel) if channel else ""
        state = ResponseUrl(id=url_id, channel=channel_id, user=user or "", team_id=team_id)
        if message_ts is not None:
            kind: Literal["channel", "ephemeral"] = "ephemeral" if ephemeral else "channel"
            state.original = MessageRef(kind, channel_id, message_ts, user or "")
            state.refs.append(state.original)
        with self._state.lock:
            self._state.response_urls[url_id] = state
        return f"{self.url}response/{url_id}"

    def set_response_message(self, url: str, message: Mapping[str, Any]) -> None:
        """Set the message that replace_original / delete_original on url act upon."""
        with self._state.changed:
            state = self._state.response_url_state(url)
            ref = self._state.find_ref(state.channel, str(message.get("ts", "")), state.user)
            if ref is None:
                ref = self._state.store_ephemeral(state, message)
            state.original = ref
            if ref not in state.refs:
                state.refs.insert(0, ref)
            self._state.touch()

    # ------------------------------------------------------------------- faults
    # Each takes the calls it is about: `method` ("*": any Web API method; "response_url"),
    # narrowed by `channel` (the call's channel argument), `token`, and `when` (a predicate
    # over the call's arguments); and lasts `times` calls (None: until cleared) and at most
    # `lasting` seconds. Each returns the fault; its clear() ends it.

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        channel: str | None = None,
        token: str | None = None,
        when: Predicate | None = None,
        lasting: float | None = None,
    ) -> Refusal:
        """Refuse the next `times` calls of method instead of applying them.

        error="ratelimited" answers 429 with Retry-After (1 s unless given); another error alone
        answers 200 {"ok": false, "error": error}; a status alone answers that status."""
        if status is None:
            status = 429 if error == "ratelimited" else (200 if error else 500)
        if error is None:
            error = "ratelimited" if status == 429 else "internal_error"
        if status == 429 and retry_after is None:
            retry_after = 1
        return self._faults.add(
            Refusal(
                method,
                times,
                channel=channel,
                token=token,
                when=when,
                until=deadline(lasting),
                status=status,
                error=error,
                retry_after=retry_after,
            )
        )

    def refuse(
        self,
        method: str,
        *,
        error: str,
        when: Predicate | None = None,
        channel: str | None = None,
        token: str | None = None,
        lasting: float | None = None,
        times: int | None = None,
        status: int | None = None,
    ) -> Refusal:
        """Answer `error` to every call of method that matches, until cleared (or `lasting` s).

        E.g. refuse("chat.postMessage", error="not_in_channel", channel="C0PIXEL"), or
        refuse("*", error="token_revoked", token=TOKEN, lasting=2.0)."""
        return self.fail(
            method,
            status=status,
            error=error,
            times=times,
            channel=channel,
            token=token,
            when=when,
            lasting=lasting,
        )

    def lose_answer(
        self,
        method: str,
        *,
        times: int | None = 1,
        how: LostHow = "close",
        channel: str | None = None,
        token: str | None = None,
        when: Predicate | None = None,
        lasting: float | None = None,
    ) -> LostAnswer:
        """Apply the next `times` calls of method, then lose their answers.

        how="close": the connection is closed without a response (slack_sdk sees the remote end
        disconnect, and retries once by default); how="timeout": nothing is sent until the
        client gives up. Either way the call took effect and is recorded with answer_lost."""
        return self._faults.add(
            LostAnswer(
                method,
                times,
                channel=channel,
                token=token,
                when=when,
                until=deadline(lasting),
                how=how,
            )
        )

    def delay(
        self,
        method: str,
        seconds: float,
        *,
        times: int | None = 1,
        channel: str | None = None,
        token: str | None = None,
        when: Predicate | None = None,
        lasting: float | None = None,
    ) -> Delay:
        """Make the next `times` answers for method take `seconds` longer."""
        return self._faults.add(
            Delay(
                method,
                times,
                channel=channel,
                token=token,
                when=when,
                until=deadline(lasting),
                seconds=seconds,
            )
        )

    def outage(self, status: int = 500) -> None:
        """Make every Web API call and response_url post fail with status until recover()."""
        self._faults.outage(status)

    def recover(self) -> None:
        """End an outage()."""
        self._faults.outage(None)

    def clear_faults(self) -> None:
        """Drop every failure, lost answer, refusal, delay and outage."""
        self._faults.clear()

    # ------------------------------------------------------------------- queries

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Return recorded calls (of method, if given), oldest first."""
        with self._state.lock:
            return [c for c in self._state.calls if method is None or c.method == method]

    def last_call(self, method: str) -> RecordedCall:
        """Return the latest call of method, or raise AssertionError listing what was recorded."""
        calls = self.calls(method)
        if not calls:
            raise AssertionError(f"no {method} call was recorded;\n{self.describe_calls()}")
        return calls[-1]

    def channel_messages(self, channel: str) -> list[JsonDict]:
        """Return the messages now in channel (thread replies included), oldest first."""
        with self._state.lock:
            resolved = self._state.resolve_channel(channel)
            return copy.deepcopy(self._state.history.get(resolved, []))

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
        return self._state.dm_channel(user_id)

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[JsonDict]:
        """Return ephemeral messages (each with "channel" and recipient "user"), oldest first."""
        with self._state.lock:
            resolved = self._state.resolve_channel(channel) if channel else None
            found = [
                m
                for (c, u), messages in self._state.ephemeral.items()
                for m in messages
                if (resolved is None or c == resolved) and (user is None or u == user)
            ]
            return copy.deepcopy(sorted(found, key=lambda m: _ts_key(m["ts"])))

    def response_messages(self, url: str) -> list[JsonDict]:
        """Return the messages url controls now: the original first, then those posted through it."""
        with self._state.lock:
            state = self._state.response_url_state(url)
            found = [self._state.resolve_ref(ref) for ref in state.refs]
            return copy.deepcopy([m for m in found if m is not None])

    def home_view(self, user: str) -> JsonDict | None:
        """Return the Home tab view published for user, or None."""
        with self._state.lock:
            view_id = self._state.homes.get(user)
            return copy.deepcopy(self._state.views[view_id]) if view_id else None

    def open_views(self, user: str | None = None) -> list[JsonDict]:
        """Return the open modal views of user (or of everyone), root first, top of stack last."""
        with self._state.lock:
            modals = self._state.modals
            users = [user] if user is not None else list(modals)
            stacks = [modals.get(u, []) for u in users]
            return copy.deepcopy([self._state.views[v] for stack in stacks for v in stack])

    def view(self, view_id: str) -> JsonDict | None:
        """Return an open modal or Home tab view by id, or None."""
        with self._state.lock:
            found = self._state.views.get(view_id)
            return copy.deepcopy(found) if found else None

    def file(self, file_id: str) -> JsonDict | None:
        """Return a registered or uploaded file object, or None."""
        with self._state.lock:
            found = self._state.files.get(file_id)
            return copy.deepcopy(found) if found else None

    def rate_limited(self, method: str | None = None) -> list[RecordedCall]:
        """Return the calls (of method, if given) answered 429, oldest first: those over a
        rate limit (their `rate_limit` says which) and those of a fault or outage.

        `assert not slack.rate_limited()` says the bot never met a limit."""
        return [c for c in self.calls(method) if c.status == 429]

    def peak_calls(
        self,
        method: str,
        seconds: float | None = None,
        *,
        team: str | None = None,
        channel: str | None = None,
        when: Predicate | None = None,
    ) -> int:
        """Return the most calls of method counted against the rate limits and let through (not
        answered 429) in any `seconds` of the rate clock (by default the window of the method's
        limit per workspace, else per channel, else 60 s), counting only those of workspace
        `team`, about `channel`, or whose arguments `when` accepts, if given.

        E.g. assert slack.peak_calls("chat.update", 60, when=lambda a: a["ts"] == card_ts) <= 1
        """
        if seconds is None:
            tiers = self._rates.tiers or Tiers()
            limit = tiers.workspace.get(method) or tiers.channel.get(method)
            seconds = limit.seconds if limit is not None else 60.0
        resolved = self._state.channel_id(channel) if channel else None
        times = [
            c.rate_time
            for c in self.calls(method)
            if c.rate_time is not None
            and c.status != 429
            and (team is None or c.team_id == team)
            and (
                resolved is None
                or self._state.channel_id(str(c.args.get("channel") or "")) == resolved
            )
            and (when is None or when(c.args))
        ]
        return peak(times, seconds)

    def rate_room(
        self, method: str, *, team: str | None = None, channel: str | None = None
    ) -> int | None:
        """Return how many calls of method would be let through now in workspace `team` (the
        default workspace's if not given), and in `channel` for a per-channel limit; None when
        the method is not limited. Wait for a window to free up with
        wait_for(lambda: slack.rate_room(method)), never a sleep."""
        workspace = team or self.default_workspace.team_id
        return self._rates.room(
            method, workspace, self._state.channel_id(channel) if channel else None
        )

    def reset(self) -> None:
        """Forget every call, message, view, response_url, fault, call counted against a rate
        limit and Socket Mode envelope (configuration and connections stay)."""
        with self._state.changed:
            self._state.clear()
            self._faults.clear()
            self._rates.clear()
            if self._socket_mode is not None:
                self._socket_mode.forget()
            self._state.touch()

    def describe_calls(self, limit: int = 40) -> str:
        """Return a readable list of the recorded calls, for assertion messages."""
        calls = self.calls()
        if not calls:
            return "recorded calls: none"
        lines = [f"recorded calls ({len(calls)}):"]
        for index, call in enumerate(calls[-limit:], start=max(1, len(calls) - limit + 1)):
            outcome = f"{call.status}" + (f" {call.error}" if call.error else "")
            if call.retry_after is not None:
                outcome += f" Retry-After {call.retry_after}"
            if call.rate_limit:
                outcome += f" [{call.rate_limit}]"
            if call.answer_lost:
                outcome += " (answer lost)"
            args = json.dumps(call.args, default=str, ensure_ascii=False)
            lines.append(f"  {index}. {call.method} -> {outcome} {_shorten(args, 160)}")
        return "\n".join(lines)

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, *, description: str | None = None
    ) -> T:
        """Poll predicate until it returns something truthy and return it; else raise AssertionError."""
        deadline = time.monotonic() + timeout
        state = self._state
        while True:
            with state.lock:
                seen = state.version
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = description or getattr(predicate, "__name__", repr(predicate))
                raise AssertionError(
                    f"timed out after {timeout:g}s waiting for {what};\n{self.describe_calls()}"
                )
            with state.changed:
                if state.version == seen:
                    state.changed.wait(timeout=min(remaining, 0.1))

    def wait_for_calls(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[RecordedCall]:
        """Wait until method was called at least count times and return those calls."""
        return self.wait_for(
            lambda: calls if len(calls := self.calls(method)) >= count else [],
            timeout,
            description=f"{count} {method} call(s)",
        )

    @property
    def in_flight(self) -> int:
        """Web API calls being answered right now (slow ones included)."""
        with self._state.lock:
            return self._state.in_flight

    # ---------------------------------------------- applying the client's side of modals

    def apply_view_response(
        self, user_id: str, view_id: str, response: Mapping[str, Any] | None
    ) -> None:
        """Apply the app's answer to a view_submission as Slack's client would."""
        views.apply_view_response(self._state, user_id, view_id, response)

    def close_view(self, user_id: str, view_id: str, *, clear: bool = False) -> None:
        """Close view_id (and the views pushed above it; all of the modal when clear)."""
        views.close_view(self._state, user_id, view_id, clear=clear)

    # ----------------------------------------------------------------- internals

    def _apps_connections_open(self, state: SlackState, request: Request) -> JsonDict:
        """apps.connections.open: a WebSocket URL for the app (the token was checked: xapp-)."""
        return {"ok": True, "url": self.socket_mode.new_url(request.workspace.app_id)}


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["Fault", "LocalSlack", "RecordedCall", "SlackError", "UserProfile", "Workspace"]
