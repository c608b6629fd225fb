"""One call from arrival to answer: its delay and faults, the token, the method, the record.

Web API calls, response_url posts and file uploads all pass here; the HTTP server (server.py)
only parses requests and writes (or withholds) the answers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.console.localslack.faults import Delay, Faults, LostAnswer, LostHow
from bot.console.localslack.methods import METHODS, Method
from bot.console.localslack.methods.responses import apply_response
from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.ratelimits import RateWindows, Refused
from bot.console.localslack.state import RecordedCall, Request, SlackError, SlackState

# Methods that work without a bearer token (OAuth uses client credentials instead), and those
# that take the app-level token (xapp-…), which no other method takes.
TOKENLESS_METHODS = frozenset({"api.test", "oauth.v2.access", "oauth.access", "oauth.v2.exchange"})
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})


@dataclass(frozen=True)
class Answer:
    """What to send back: HTTP status, JSON body and headers; or, when `lost`, nothing."""

    status: int
    body: JsonDict
    headers: Mapping[str, str]
    lost: LostHow | None = None


class WebApi:
    """Answers calls against one SlackState, meeting the faults and rate limits in force."""

    def __init__(
        self,
        state: SlackState,
        faults: Faults,
        stopping: threading.Event,
        rates: RateWindows | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.stopping = stopping
        self.rates = rates or RateWindows(None)
        self.methods: dict[str, Method] = dict(METHODS)

    def call(
        self, method: str, args: dict[str, Any], headers: dict[str, str], root_url: str
    ) -> Answer:
        """Answer one Web API call."""
        with self.state.lock:
            self.state.in_flight += 1
        try:
            return self._call(method, args, headers, root_url)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _call(
        self, method: str, args: dict[str, Any], headers: dict[str, str], root_url: str
    ) -> Answer:
        arrived = time.time()
        token = _bearer(headers) or args.pop("token", None)
        args.pop("token", None)
        self._pause(method, args, token, web_api=True)
        refusal = self.faults.refusal(method, args, token, web_api=True)
        team_id: str | None = None
        rate_time: float | None = None
        limited: Refused | None = None
        status: int = 200
        body: JsonDict = {"ok": True}
        extra: dict[str, str] = {}
        if refusal is not None:
            status, body, extra = refusal.answer()
        elif error := self._auth_error(method, token):
            body = {"ok": False, "error": error}
        else:
            team_id = self._rate_key(method, args, token)
            rate_time = self.rates.clock()
            limited = self.rates.admit(method, team_id, self._rate_channel(args), rate_time)
            if limited is not None:
                status, body = 429, {"ok": False, "error": "ratelimited"}
                extra = {"Retry-After": str(limited.retry_after)}
            else:
                body, extra = self._apply(method, args, token, headers, root_url)
        lost = self._lost(method, args, token, web_api=True)
        self.state.record(
            RecordedCall(
                method=method,
                args=args,
                token=token,
                headers=headers,
                time=arrived,
                status=status,
                error=None if body.get("ok") else str(body.get("error")),
                response=body,
                answer_lost=lost is not None,
                team_id=team_id,
                rate_time=rate_time,
                retry_after=_retry_after(extra),
                rate_limit=limited.window if limited is not None else None,
            )
        )
        return Answer(status, body, extra, lost)

    def _auth_error(self, method: str, token: str | None) -> str | None:
        """The error Slack answers a call whose token this method does not take, if any."""
        is_app_token = (token or "").startswith("xapp-")
        if method in APP_TOKEN_METHODS:
            if not token:
                return "not_authed"
            if not is_app_token:
                return "not_allowed_token_type"
        elif method not in TOKENLESS_METHODS:
            if not token:
                return "not_authed"
            if is_app_token:
                return "not_allowed_token_type"
            if self.state.workspace_for_token(token) is None:
                return "invalid_auth"
        return None

    def _rate_key(self, method: str, args: Mapping[str, Any], token: str | None) -> str:
        """Whose rate limits a call (its token taken) counts against: its token's workspace;
        the app's for an app-level or tokenless call."""
        if method in TOKENLESS_METHODS:
            return f"app:{args.get('client_id') or ''}"
        workspace = self.state.workspace_for_token(token) or self.state.default_workspace
        if method in APP_TOKEN_METHODS:
            return f"app:{workspace.app_id}"
        return workspace.team_id

    def _rate_channel(self, args: Mapping[str, Any]) -> str | None:
        """The channel a call's per-channel rate is counted in, if it names one."""
        channel = args.get("channel")
        if not channel or not isinstance(channel, str):
            return None
        return self.state.channel_id(channel)

    def _apply(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        headers: dict[str, str],
        root_url: str,
    ) -> tuple[JsonDict, dict[str, str]]:
        """Run the method (its token taken); its answer body and extra headers."""
        state = self.state
        workspace = state.workspace_for_token(token)
        request = Request(
            method, args, token, headers, workspace or state.default_workspace, root_url
        )
        try:
            with state.changed:
                body = self._dispatch(request)
                state.touch()
        except SlackError as err:
            body = {"ok": False, "error": err.error}
            if err.messages:
                body["response_metadata"] = {"messages": err.messages}
        extra: dict[str, str] = {}
        if method == "auth.test" and workspace is not None:
            extra = {"x-oauth-scopes": workspace.scopes}
        return body, extra

    def _dispatch(self, request: Request) -> JsonDict:
        handler = self.methods.get(request.method)
        if handler is None:
            return {"ok": True}
        return handler(self.state, request)

    def post_response(self, url_id: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        """Answer a POST to a response_url (5 uses by default, as Slack allows)."""
        arrived = time.time()
        state = self.state
        self._pause("response_url", body, None, web_api=False)
        refusal = self.faults.refusal("response_url", body, None, web_api=False)
        status: int = 200
        answer: JsonDict = {"ok": True}
        extra: dict[str, str] = {}
        if refusal is not None:
            status, answer, extra = refusal.answer()
        else:
            with state.changed:
                url = state.response_urls.get(url_id)
                if url is None:
                    status, answer = 404, {"ok": False, "error": "no_service"}
                elif url.uses >= state.response_url_uses:
                    status, answer = 404, {"ok": False, "error": "used_url"}
                else:
                    url.uses += 1
                    apply_response(state, url, body)
                    state.touch()
        lost = self._lost("response_url", body, None, web_api=False)
        state.record(
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
                answer_lost=lost is not None,
                retry_after=_retry_after(extra),
            )
        )
        return Answer(status, answer, extra, lost)

    def upload(self, file_id: str, data: bytes, headers: dict[str, str]) -> int:
        """Take the bytes of a file being uploaded; the HTTP status to answer."""
        state = self.state
        with state.changed:
            known = file_id in state.files
            if known:
                state.uploads[file_id] = data
                state.files[file_id]["size"] = len(data)
        state.record(
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

    def _pause(
        self, method: str, args: Mapping[str, Any], token: str | None, *, web_api: bool
    ) -> None:
        delay = self.faults.take(Delay, method, args, token, web_api=web_api)
        if delay is not None and delay.seconds > 0:
            self.stopping.wait(delay.seconds)  # stop() wakes a delayed answer

    def _lost(
        self, method: str, args: Mapping[str, Any], token: str | None, *, web_api: bool
    ) -> LostHow | None:
        lost = self.faults.take(LostAnswer, method, args, token, web_api=web_api)
        return lost.how if lost is not None else None


def _retry_after(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Retry-After")
    return int(value) if value is not None else None


def _bearer(headers: Mapping[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "authorization" and value.startswith("Bearer "):
            return value[len("Bearer ") :]
    return None
