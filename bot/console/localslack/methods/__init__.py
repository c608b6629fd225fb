"""The Web API methods the local Slack answers, one module per family of methods.

Each method is a function (state, request) -> answer body, run under the state's lock; it raises
SlackError for the errors Slack answers as HTTP 200 {"ok": false}. A method not listed here
answers {"ok": true} and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.console.localslack.methods import auth, chat, conversations, files, users, views
from bot.console.localslack.payloads import JsonDict
from bot.console.localslack.state import Request, SlackState

Method = Callable[[SlackState, Request], JsonDict]

METHODS: dict[str, Method] = {
    **auth.METHODS,
    **chat.METHODS,
    **conversations.METHODS,
    **files.METHODS,
    **users.METHODS,
    **views.METHODS,
}

__all__ = ["METHODS", "Method"]
