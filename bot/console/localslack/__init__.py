"""Slack without Slack: a local Web API / response_url / Socket Mode server and a request sender.

Tests, the terminal console and benchmarks use it to drive the Bolt app exactly as Slack would::

    with LocalSlack() as slack:
        app = App(signing_secret=secret, client=WebClient(base_url=slack.base_url, token="xoxb-t"))
        ...serve app on a free port...
        sender = SlackSender(app_url, secret, local_slack=slack)
        sender.slash_command(team_id="T0DEMO", user_id="U0ANA", text="list")
        card = slack.wait_for(lambda: slack.channel_messages("C0ORDERS"))[0]
        sender.click(team_id="T0DEMO", user_id="U0ANA", channel_id="C0ORDERS",
                     ts=card["ts"], action_id="confirm")

An app in Socket Mode (an xapp- token; SLACK_API_URL=slack.base_url) connects by itself;
``SocketModeSender(slack)`` then sends the same commands, clicks and events as envelopes over its
WebSocket and returns each acknowledgement as the AppResponse.

Faults (faults.py), each narrowed by ``channel=``, ``token=`` or ``when=lambda args: ...`` and
lasting ``times=`` calls (None: until cleared) or ``lasting=`` seconds:
``fail(method, status=..., error=..., retry_after=...)`` — error="ratelimited" answers 429 with
Retry-After, another error alone answers 200 {"ok": false}, a status alone answers that status;
``refuse(method, error=...)``, the same until cleared; ``lose_answer(method, how="close"|"timeout")``
— the call takes effect, its answer never arrives; ``delay(method, seconds)``;
``outage``/``recover``; ``clear_faults``.

Rate limits (ratelimits.py), on by default with Slack's numbers (``SLACK_TABLE``): a call over
its method's rate in its workspace, or chat.postMessage over a channel's, is answered 429
"ratelimited" with Retry-After and not carried out. ``LocalSlack(tiers=...)`` (or the ``tiers``
attribute) takes other limits (``SLACK_TIERS.with_limits({"chat.update": Limit(5, 2.0)})``,
``Tiers(...)``) or None; ``rate_limited()`` lists the 429s answered, ``peak_calls(method)`` the
most calls in any window, ``rate_room(method)`` what a window still lets through. Modal inputs are given as ``inputs={block_id or
action_id: value}``: a string for text inputs, pickers and single selects (the option's value), a
list for multi selects and checkboxes, file names or dicts for file_input.

The modules: slack.py (LocalSlack), state.py (what Slack holds), server.py (HTTP), webapi.py (a
call from arrival to answer), methods/ (one module per Web API family), faults.py, socketmode.py
(Socket Mode; needs the `websockets` package of the test extra), payloads.py (payload shapes),
sender.py (sending to the app), ratelimits.py (Slack's rate limits and their windows).
"""

from bot.console.localslack.payloads import (
    JsonDict,
    action_item,
    find_element,
    state_values,
    uploaded_file,
    view_object,
    visible_text,
)
from bot.console.localslack.ratelimits import SLACK_TABLE, SLACK_TIERS, Limit, Tiers
from bot.console.localslack.sender import AppResponse, SendOptions, SlackSender, SocketModeSender
from bot.console.localslack.slack import (
    LocalSlack,
    RecordedCall,
    SlackError,
    UserProfile,
    Workspace,
)

__all__ = [
    "SLACK_TABLE",
    "SLACK_TIERS",
    "AppResponse",
    "JsonDict",
    "Limit",
    "LocalSlack",
    "RecordedCall",
    "SendOptions",
    "SlackError",
    "SlackSender",
    "SocketModeSender",
    "Tiers",
    "UserProfile",
    "Workspace",
    "action_item",
    "find_element",
    "state_values",
    "uploaded_file",
    "view_object",
    "visible_text",
]
