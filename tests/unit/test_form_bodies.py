"""Slack's bodies are read as Bolt reads them, but for Bolt's one misreading of a form."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.wsgi import FormRequest

FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_a_command_that_merely_mentions_payload_is_read_as_a_form() -> None:
    """`/orders search payload` is a slash command, not an empty interaction (slack-bolt reads
    any form body holding the word "payload" as one)."""
    raw = urlencode(
        {"command": "/orders", "text": "search payload", "team_id": "T1", "user_id": "U1"}
    )
    request = FormRequest(body=raw, headers=FORM)
    assert request.body == {
        "command": "/orders",
        "text": "search payload",
        "team_id": "T1",
        "user_id": "U1",
    }
    assert (request.context.team_id, request.context.user_id) == ("T1", "U1")


def test_a_click_payload_is_the_json_it_encodes() -> None:
    """An interaction's `payload` field, with a message full of escapes, read back whole."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1", "team_id": "T1"},
        "actions": [{"action_id": "order:confirm", "value": '{"o": 7, "v": 2}'}],
        "message": {"text": "Café «SO-000007» — 100% done & paid? a+b\\n payload"},
    }
    request = FormRequest(body=urlencode({"payload": json.dumps(payload)}), headers=FORM)
    assert request.body == payload
    assert request.context.user_id == "U1"
