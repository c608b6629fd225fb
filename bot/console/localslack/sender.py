"""Build requests shaped and signed as Slack sends them, and POST them to the app over real HTTP
(SlackSender) or push them over its Socket Mode connection (SocketModeSender)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from bot.console.localslack.payloads import (
    JsonDict,
    action_item,
    find_element,
    new_action_ts,
    new_id,
    new_trigger_id,
    new_view_hash,
    state_values,
    uploaded_file,
    view_object,
)
from bot.console.localslack.slack import LocalSlack

_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_FORM = "application/x-www-form-urlencoded"


class SendOptions(TypedDict, total=False):
    """Options every send takes: how the request is signed, retried and timed."""

    timestamp: int | str
    sign: bool
    bad_signature: bool
    retry_num: int
    retry_reason: str
    timeout: float


@dataclass(frozen=True)
class AppResponse:
    """What the app answered to one request."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    request_body: str
    envelope_id: str | None = None
    """Socket Mode: the envelope the app acknowledged."""

    def json(self) -> JsonDict:
        """Return the body as a JSON object ({} for the empty body of a plain ack())."""
        if not self.body.strip():
            return {}
        decoded = json.loads(self.body)
        if not isinstance(decoded, dict):
            raise ValueError(f"the app answered JSON that is not an object: {self.body[:200]}")
        return decoded


class SlackSender:
    """Sends slash commands, clicks, modal submissions and events to the app as Slack would."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        local_slack: LocalSlack | None = None,
        path: str = "/slack/events",
        api_app_id: str | None = None,
        verification_token: str = "legacy-verification-token",
        timeout: float = 10.0,
    ) -> None:
        self.url = app_url.rstrip("/") + path
        self.signing_secret = signing_secret
        self.local_slack = local_slack
        self.api_app_id = api_app_id or (
            local_slack.default_workspace.app_id if local_slack else "A0ORDERS"
        )
        self.verification_token = verification_token
        self.timeout = timeout

    # ------------------------------------------------------------------ sending

    def send(self, body: str, content_type: str, **options: Unpack[SendOptions]) -> AppResponse:
        """Sign body as Slack does and POST it to the app."""
        timestamp = str(options.get("timestamp", int(time.time())))
        headers = {"Content-Type": content_type, "User-Agent": _USER_AGENT}
        if options.get("sign", True):
            secret = self.signing_secret
            if options.get("bad_signature", False):
                secret = secret + "-not-the-secret"
            signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
            headers["X-Slack-Request-Timestamp"] = timestamp
            headers["X-Slack-Signature"] = signature or ""
        if "retry_num" in options:
            headers["X-Slack-Retry-Num"] = str(options["retry_num"])
            headers["X-Slack-Retry-Reason"] = options.get("retry_reason", "http_timeout")
        request = urllib.request.Request(
            self.url, data=body.encode("utf-8"), headers=headers, method="POST"
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(
                request, timeout=options.get("timeout", self.timeout)
            ) as resp:
                return AppResponse(
                    status=resp.status,
                    headers=dict(resp.headers.items()),
                    body=resp.read().decode("utf-8"),
                    elapsed=time.monotonic() - started,
                    request_body=body,
                )
        except urllib.error.HTTPError as err:
            with err:
                return AppResponse(
                    status=err.code,
                    headers=dict(err.headers.items()),
                    body=err.read().decode("utf-8"),
                    elapsed=time.monotonic() - started,
                    request_body=body,
                )

    def send_form(
        self, fields: Sequence[tuple[str, str]], **options: Unpack[SendOptions]
    ) -> AppResponse:
        """POST form fields (as slash commands arrive)."""
        return self.send(urlencode(list(fields)), _FORM, **options)

    def send_interaction(
        self, payload: Mapping[str, Any], **options: Unpack[SendOptions]
    ) -> AppResponse:
        """POST payload=<JSON> (as clicks, submissions and shortcuts arrive)."""
        encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return self.send(urlencode({"payload": encoded}), _FORM, **options)

    def send_json(self, payload: Mapping[str, Any], **options: Unpack[SendOptions]) -> AppResponse:
        """POST a JSON body (as Events API deliveries arrive)."""
        encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return self.send(encoded, "application/json", **options)

    # ------------------------------------------------------------- slash commands

    def slash_command(
        self,
        *,
        team_id: str,
        user_id: str,
        text: str = "",
        command: str = "/orders",
        channel_id: str = "C0ORDERS",
        channel_name: str | None = None,
        user_name: str | None = None,
        team_domain: str | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Send a slash command exactly as Slack posts it (form-encoded)."""
        fields = [
            ("token", self.verification_token),
            ("team_id", team_id),
            ("team_domain", team_domain or self._team_domain(team_id)),
        ]
        if enterprise_id:
            fields += [("enterprise_id", enterprise_id), ("enterprise_name", enterprise_name or "")]
        fields += [
            ("channel_id", channel_id),
            ("channel_name", channel_name or self._channel_name(channel_id)),
            ("user_id", user_id),
            ("user_name", user_name or self._user_name(user_id)),
            ("command", command),
            ("text", text),
            ("api_app_id", self.api_app_id),
            ("is_enterprise_install", "false"),
            (
                "response_url",
                response_url
                or self.response_url(team_id=team_id, channel=channel_id, user=user_id),
            ),
            ("trigger_id", trigger_id or self.trigger_id(user_id, team_id)),
        ]
        response = self.send_form(fields, **options)
        url = dict(fields)["response_url"]
        if self.local_slack is not None and response.status == 200 and response.body.strip():
            # As Slack does: a message in the ack is shown to the person as the command's
            # answer, and the command's response_url acts on it (replace_original).
            try:
                answer = response.json()
            except ValueError:  # ack("text") answers plain text: Slack shows it as the message
                answer = {"text": response.body}
            if answer.get("text") or answer.get("blocks"):
                self.local_slack.set_response_message(url, answer)
        return response

    # --------------------------------------------------------------- interactions

    def block_action(
        self,
        *,
        team_id: str,
        user_id: str,
        action_id: str,
        value: str | None = None,
        text: str = "Button",
        block_id: str | None = None,
        action_type: str = "button",
        selected_option: JsonDict | None = None,
        selected_options: Sequence[JsonDict] | None = None,
        action: JsonDict | None = None,
        container: JsonDict | None = None,
        message: JsonDict | None = None,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
        view: JsonDict | None = None,
        channel_id: str | None = None,
        state: JsonDict | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        enterprise_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Send a block_actions payload; pass `action` to send a prebuilt actions[] entry."""
        if action is None:
            action = {"action_id": action_id, "block_id": block_id or new_id("", 5).lower()}
            if action_type in {"button", "workflow_button"}:
                action["text"] = {"type": "plain_text", "text": text, "emoji": True}
                if value is not None:
                    action["value"] = value
            if selected_option is not None:
                action["selected_option"] = selected_option
            if selected_options is not None:
                action["selected_options"] = list(selected_options)
            action["type"] = action_type
            action["action_ts"] = new_action_ts()
        payload: JsonDict = {
            "type": "block_actions",
            "user": self._user(user_id, team_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
        }
        if view is not None:
            payload["container"] = container or {"type": "view", "view_id": view.get("id")}
        else:
            ts = message_ts or (message or {}).get("ts") or ""
            payload["container"] = container or {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel_id or "",
                "is_ephemeral": is_ephemeral,
            }
        payload["trigger_id"] = trigger_id or self.trigger_id(user_id, team_id)
        payload["team"] = self._team(team_id, enterprise_id)
        payload["enterprise"] = self._enterprise(enterprise_id)
        payload["is_enterprise_install"] = False
        if view is not None:
            view_payload = dict(view)
            if state is not None:
                view_payload["state"] = state
            payload["view"] = view_payload
        else:
            if channel_id:
                payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            # An ephemeral message is not sent back with the click.
            if message is not None and not is_ephemeral:
                payload["message"] = message
            payload["state"] = state if state is not None else {"values": {}}
            ts = payload["container"].get("message_ts")
            payload["response_url"] = response_url or self.response_url(
                team_id=team_id,
                channel=channel_id,
                user=user_id,
                message_ts=ts or None,
                ephemeral=is_ephemeral,
            )
        payload["actions"] = [action]
        return self.send_interaction(payload, **options)

    def click(
        self,
        *,
        team_id: str,
        user_id: str,
        action_id: str,
        channel_id: str,
        ts: str | None = None,
        message: JsonDict | None = None,
        value: str | None = None,
        choice: Any = None,
        ephemeral: bool = False,
        response_url: str | None = None,
        trigger_id: str | None = None,
        enterprise_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Use the element rendered with action_id in a message; choice picks an option by value."""
        if message is None:
            message = self._rendered_message(channel_id, ts, user_id, ephemeral)
        ts = ts or message.get("ts")
        if not ts:
            raise ValueError("click needs the message's ts (pass ts= or a message with one)")
        block, element = find_element(message.get("blocks") or [], action_id, value=value)
        return self.block_action(
            team_id=team_id,
            user_id=user_id,
            action_id=action_id,
            action=action_item(block, element, choice=choice),
            message={**message, "ts": ts},
            message_ts=ts,
            is_ephemeral=ephemeral,
            channel_id=channel_id,
            response_url=response_url,
            trigger_id=trigger_id,
            enterprise_id=enterprise_id,
            **options,
        )

    def click_in_view(
        self,
        *,
        team_id: str,
        user_id: str,
        action_id: str,
        view: JsonDict | None = None,
        view_id: str | None = None,
        value: str | None = None,
        choice: Any = None,
        inputs: Mapping[str, Any] | None = None,
        trigger_id: str | None = None,
        enterprise_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Use an element rendered in a modal or the Home tab (the user's top modal by default)."""
        view = self._complete_view(view or self._open_view(user_id, view_id), team_id)
        block, element = find_element(view.get("blocks") or [], action_id, value=value)
        state = {"values": state_values(view.get("blocks") or [], inputs, make_file=None)}
        return self.block_action(
            team_id=team_id,
            user_id=user_id,
            action_id=action_id,
            action=action_item(block, element, choice=choice),
            view=view,
            state=state,
            trigger_id=trigger_id,
            enterprise_id=enterprise_id,
            **options,
        )

    def view_submission(
        self,
        *,
        team_id: str,
        user_id: str,
        view: JsonDict | None = None,
        view_id: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        values: JsonDict | None = None,
        trigger_id: str | None = None,
        enterprise_id: str | None = None,
        response_urls: Sequence[JsonDict] | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Submit a modal (the user's top one by default) and apply the app's answer to LocalSlack."""
        view = view or self._open_view(user_id, view_id)
        view = self._complete_view(view, team_id)
        filled = state_values(
            view.get("blocks") or [],
            inputs,
            make_file=lambda f: self._file(f, user_id=user_id, team_id=team_id),
        )
        filled.update(values or {})
        submitted = {**view, "state": {"values": filled}}
        payload: JsonDict = {
            "type": "view_submission",
            "team": self._team(team_id, enterprise_id),
            "user": self._user(user_id, team_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id or self.trigger_id(user_id, team_id),
            "view": submitted,
            "response_urls": list(response_urls or []),
            "is_enterprise_install": False,
            "enterprise": self._enterprise(enterprise_id),
        }
        response = self.send_interaction(payload, **options)
        if self.local_slack is not None and response.status == 200:
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            self.local_slack.apply_view_response(user_id, str(view["id"]), answer)
        return response

    def view_closed(
        self,
        *,
        team_id: str,
        user_id: str,
        view: JsonDict | None = None,
        view_id: str | None = None,
        is_cleared: bool = False,
        enterprise_id: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Send view_closed (Slack sends it only for views with notify_on_close) and close the view."""
        view = self._complete_view(view or self._open_view(user_id, view_id), team_id)
        payload: JsonDict = {
            "type": "view_closed",
            "team": self._team(team_id, enterprise_id),
            "user": self._user(user_id, team_id),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "is_enterprise_install": False,
            "enterprise": self._enterprise(enterprise_id),
        }
        response = self.send_interaction(payload, **options)
        if self.local_slack is not None:
            self.local_slack.close_view(user_id, str(view["id"]), clear=is_cleared)
        return response

    # ------------------------------------------------------------------ shortcuts

    def global_shortcut(
        self, *, team_id: str, user_id: str, callback_id: str, **options: Unpack[SendOptions]
    ) -> AppResponse:
        """A global shortcut chosen from Slack's shortcut menu (no channel: only a trigger)."""
        payload: JsonDict = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(team_id, None),
            "user": {"id": user_id, "username": self._user_name(user_id), "team_id": team_id},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(user_id, team_id),
        }
        return self.send_interaction(payload, **options)

    def message_shortcut(
        self,
        *,
        team_id: str,
        user_id: str,
        channel_id: str,
        message: Mapping[str, Any],
        callback_id: str,
        response_url: str | None = None,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """A message shortcut chosen on `message` (as the channel holds it)."""
        payload: JsonDict = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(team_id, None),
            "user": {"id": user_id, "name": self._user_name(user_id), "team_id": team_id},
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.trigger_id(user_id, team_id),
            "response_url": response_url
            or self.response_url(team_id=team_id, channel=channel_id, user=user_id),
            "message_ts": message.get("ts"),
            "message": dict(message),
        }
        return self.send_interaction(payload, **options)

    def block_suggestion(
        self,
        *,
        team_id: str,
        user_id: str,
        view: Mapping[str, Any],
        block_id: str,
        action_id: str,
        value: str,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """What someone typed in an external_select of an open modal: the app answers options."""
        payload: JsonDict = {
            "type": "block_suggestion",
            "user": self._user(user_id, team_id),
            "container": {"type": "view", "view_id": view.get("id")},
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "team": self._team(team_id, None),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": dict(view),
        }
        return self.send_interaction(payload, **options)

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        *,
        team_id: str,
        event: Mapping[str, Any],
        event_id: str | None = None,
        event_time: int | None = None,
        enterprise_id: str | None = None,
        authorizations: Sequence[JsonDict] | None = None,
        is_ext_shared_channel: bool = False,
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Send an Events API delivery (event_callback envelope); reuse event_id for a retry."""
        event_time = event_time or int(time.time())
        inner = dict(event)
        inner.setdefault("event_ts", f"{event_time}.{new_id('', 6).lower()[:6]}")
        envelope: JsonDict = {
            "token": self.verification_token,
            "team_id": team_id,
        }
        if enterprise_id:
            envelope["enterprise_id"] = enterprise_id
        bot_user_id = (
            self.local_slack.workspace_for_team(team_id).bot_user_id
            if self.local_slack
            else "U0BOT"
        )
        envelope.update(
            {
                "api_app_id": self.api_app_id,
                "event": inner,
                "type": "event_callback",
                "event_id": event_id or new_id("Ev"),
                "event_time": event_time,
                "authorizations": list(authorizations)
                if authorizations is not None
                else [
                    {
                        "enterprise_id": enterprise_id,
                        "team_id": team_id,
                        "user_id": bot_user_id,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": is_ext_shared_channel,
                "event_context": f"4-{new_id('', 40).lower()}",
            }
        )
        return self.send_json(envelope, **options)

    def app_home_opened(
        self, *, team_id: str, user_id: str, tab: str = "home", **options: Unpack[SendOptions]
    ) -> AppResponse:
        """Send app_home_opened for user_id, carrying the Home view LocalSlack holds (if any)."""
        event: JsonDict = {"type": "app_home_opened", "user": user_id, "tab": tab}
        if self.local_slack is not None:
            event["channel"] = self.local_slack.dm_channel(user_id)
            home = self.local_slack.home_view(user_id)
            if home is not None and tab == "home":
                event["view"] = home
        else:
            event["channel"] = "D" + user_id[1:]
        return self.event(team_id=team_id, event=event, **options)

    def message(
        self,
        *,
        team_id: str,
        channel: str,
        message: Mapping[str, Any],
        channel_type: str = "channel",
        **options: Unpack[SendOptions],
    ) -> AppResponse:
        """Send the `message` event of a message someone wrote (LocalSlack.user_message)."""
        event: JsonDict = {**message, "channel": channel, "channel_type": channel_type}
        event["event_ts"] = str(message.get("ts") or "")
        return self.event(team_id=team_id, event=event, **options)

    def url_verification(self, challenge: str, **options: Unpack[SendOptions]) -> AppResponse:
        """Send the url_verification handshake Slack sends when the Request URL is set."""
        payload = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self.send_json(payload, **options)

    # ---------------------------------------------------------------- generated ids

    def trigger_id(self, user_id: str, team_id: str) -> str:
        """Return a fresh trigger_id (known to LocalSlack, so views.open checks it)."""
        if self.local_slack is not None:
            return self.local_slack.new_trigger_id(user_id, team_id)
        return new_trigger_id()

    def response_url(
        self,
        *,
        team_id: str,
        channel: str | None = None,
        user: str | None = None,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """Return a fresh response_url (served by LocalSlack when there is one)."""
        if self.local_slack is not None:
            return self.local_slack.new_response_url(
                channel=channel,
                user=user,
                team_id=team_id,
                message_ts=message_ts,
                ephemeral=ephemeral,
            )
        return f"https://hooks.slack.com/actions/{team_id}/{new_id('', 13)}/{new_id('', 24)}"

    # ------------------------------------------------------------------ internals

    def _team_domain(self, team_id: str) -> str:
        if self.local_slack is not None:
            return self.local_slack.workspace_for_team(team_id).team_domain
        return team_id.lower()

    def _channel_name(self, channel_id: str) -> str:
        if self.local_slack is not None:
            return self.local_slack.channel_name(channel_id)
        return "directmessage" if channel_id.startswith("D") else channel_id.lower()

    def _user_name(self, user_id: str) -> str:
        if self.local_slack is not None:
            return self.local_slack.user(user_id).name
        return user_id.lower()

    def _user(self, user_id: str, team_id: str) -> JsonDict:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": team_id}

    def _team(self, team_id: str, enterprise_id: str | None) -> JsonDict:
        team: JsonDict = {"id": team_id, "domain": self._team_domain(team_id)}
        if enterprise_id:
            team.update({"enterprise_id": enterprise_id, "enterprise_name": enterprise_id})
        return team

    def _enterprise(self, enterprise_id: str | None) -> JsonDict | None:
        return {"id": enterprise_id, "name": enterprise_id} if enterprise_id else None

    def _file(self, file: Any, *, user_id: str, team_id: str) -> JsonDict:
        if isinstance(file, str):
            built = uploaded_file(
                file, user_id=user_id, team_id=team_id, domain=self._team_domain(team_id)
            )
        else:
            built = {
                **uploaded_file(
                    str(file.get("name", "file")),
                    user_id=user_id,
                    team_id=team_id,
                    domain=self._team_domain(team_id),
                ),
                **file,
            }
        if self.local_slack is not None:
            self.local_slack.add_file(built)
        return built

    def _rendered_message(
        self, channel_id: str, ts: str | None, user_id: str, ephemeral: bool
    ) -> JsonDict:
        if self.local_slack is None or ts is None:
            raise ValueError(
                "pass message= (or a LocalSlack and ts=) so the click finds the buttons"
            )
        if ephemeral:
            found = [m for m in self.local_slack.ephemerals(channel_id, user_id) if m["ts"] == ts]
            if found:
                return found[0]
        else:
            message = self.local_slack.message(channel_id, ts)
            if message is not None:
                return message
        raise AssertionError(
            f"no message at {channel_id}/{ts} in LocalSlack;\n{self.local_slack.describe_calls()}"
        )

    def _open_view(self, user_id: str, view_id: str | None) -> JsonDict:
        if self.local_slack is None:
            raise ValueError("pass view= (or give the sender a LocalSlack)")
        if view_id is not None:
            found = self.local_slack.view(view_id)
            if found is None:
                raise AssertionError(f"no open view {view_id} in LocalSlack")
            return found
        stack = self.local_slack.open_views(user_id)
        if not stack:
            raise AssertionError(
                f"{user_id} has no modal open;\n{self.local_slack.describe_calls()}"
            )
        return stack[-1]

    def _complete_view(self, view: JsonDict, team_id: str) -> JsonDict:
        """Give a view built by hand the fields Slack adds (id, hash, ...)."""
        if view.get("id"):
            return view
        workspace = (
            self.local_slack.workspace_for_team(team_id) if self.local_slack is not None else None
        )
        return view_object(
            view,
            view_id=new_id("V"),
            team_id=team_id,
            app_id=self.api_app_id,
            bot_id=workspace.bot_id if workspace else "B0BOT",
            view_hash=new_view_hash(),
        )


class SocketModeSender(SlackSender):
    """Sends what SlackSender sends, as Socket Mode envelopes on the app's WebSocket.

    Each send waits for the app's acknowledgement (up to `timeout`) and returns it as the
    AppResponse: status 200, the ack's payload as the body, and the envelope_id it named.
    """

    def __init__(
        self,
        local_slack: LocalSlack,
        *,
        api_app_id: str | None = None,
        verification_token: str = "legacy-verification-token",
        timeout: float = 10.0,
    ) -> None:
        super().__init__(
            local_slack.url,
            "",  # Socket Mode traffic is not signed: the WebSocket is the app's own
            local_slack=local_slack,
            path="",
            api_app_id=api_app_id,
            verification_token=verification_token,
            timeout=timeout,
        )
        self.socket_mode = local_slack.socket_mode

    def send(self, body: str, content_type: str, **options: Unpack[SendOptions]) -> AppResponse:
        """Socket Mode sends payloads, not HTTP bodies: use the send_form/interaction/json."""
        raise TypeError("a SocketModeSender pushes envelopes, it sends no HTTP body")

    def send_form(
        self, fields: Sequence[tuple[str, str]], **options: Unpack[SendOptions]
    ) -> AppResponse:
        """Push a slash command (its form fields as a JSON object)."""
        return self._push("slash_commands", dict(fields), True, options)

    def send_interaction(
        self, payload: Mapping[str, Any], **options: Unpack[SendOptions]
    ) -> AppResponse:
        """Push a click, submission or shortcut (only submissions take a response payload)."""
        answers = payload.get("type") in {"view_submission", "block_suggestion"}
        return self._push("interactive", dict(payload), answers, options)

    def send_json(self, payload: Mapping[str, Any], **options: Unpack[SendOptions]) -> AppResponse:
        """Push an Events API delivery (retry_num / retry_reason become the envelope's)."""
        if payload.get("type") != "event_callback":
            raise ValueError(f"Socket Mode carries no {payload.get('type')} payload")
        return self._push(
            "events_api",
            dict(payload),
            False,
            options,
            retry_attempt=options.get("retry_num", 0),
            retry_reason=options.get("retry_reason", ""),
        )

    def _push(
        self,
        type: str,
        payload: JsonDict,
        accepts_response_payload: bool,
        options: SendOptions,
        *,
        retry_attempt: int | None = None,
        retry_reason: str = "",
    ) -> AppResponse:
        started = time.monotonic()
        envelope = self.socket_mode.push(
            type,
            payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        ack = self.socket_mode.wait_for_ack(
            envelope.envelope_id, options.get("timeout", self.timeout)
        )
        return AppResponse(
            status=200,
            headers={},
            body=json.dumps(ack.payload) if ack.payload else "",
            elapsed=time.monotonic() - started,
            request_body=json.dumps(envelope.message),
            envelope_id=ack.envelope_id,
        )
