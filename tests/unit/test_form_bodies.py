"""Slack's form bodies are read exactly as `urllib.parse.parse_qsl` reads them, however odd."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st
from slack_bolt.util.utils import create_copy

from bot.http import FormSafeBoltRequest, parse_body, parse_form

# Everything a field may hold: accents, emoji, quotes, the separators themselves, backslashes.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(st.dictionaries(TEXT, TEXT, max_size=6))
def test_encoded_fields_read_back_as_parse_qsl_reads_them(fields: dict[str, str]) -> None:
    """What Slack sends: each field URL-encoded (spaces as +, UTF-8 as %XX)."""
    raw = urlencode(fields)
    assert parse_form(raw) == dict(parse_qsl(raw, keep_blank_values=True))


@given(st.text(alphabet="%+&=aZ09é\\Fc; ", max_size=30))
def test_malformed_bodies_read_back_as_parse_qsl_reads_them(raw: str) -> None:
    """Broken escapes (%zz, a lone %), empty fields, raw non-ASCII or backslashes: the same
    answer as the standard library's, never an exception."""
    assert parse_form(raw) == dict(parse_qsl(raw, keep_blank_values=True))


def test_a_click_payload_is_the_json_it_encodes() -> None:
    """An interaction's `payload` field, with a message full of escapes, read back whole."""
    payload = {
        "type": "block_actions",
        "actions": [{"action_id": "order:confirm", "value": '{"o": 7, "v": 2}'}],
        "message": {"text": "Café «SO-000007» — 100% done & paid? a+b\\n"},
    }
    assert parse_body(urlencode({"payload": json.dumps(payload)}), None) == payload


def test_a_command_that_merely_mentions_payload_is_read_as_a_form() -> None:
    """`/orders search payload` is a slash command, not an empty interaction."""
    raw = urlencode({"command": "/orders", "text": "search payload", "team_id": "T1"})
    assert parse_body(raw, "application/x-www-form-urlencoded") == {
        "command": "/orders",
        "text": "search payload",
        "team_id": "T1",
    }


def test_a_copy_for_a_lazy_listener_reads_the_same_body_and_context() -> None:
    """Bolt hands a lazy listener `create_copy(request.to_copyable())`: the copy (whose body is
    read only when first used, in the listener's thread) holds what the original does, and
    changing one leaves the other as it was."""
    payload = {
        "type": "block_actions",
        "is_enterprise_install": True,
        "team": {"id": "T1"},
        "user": {"id": "U1", "team_id": "T1"},
        "channel": {"id": "C1"},
        "response_url": "https://hooks.slack.test/1",
        "actions": [{"action_id": "order:confirm", "value": '{"o": 7, "v": 2}'}],
        "message": {"text": "Café «SO-000007» — 100% done & paid?"},
    }
    headers = {"content-type": "application/x-www-form-urlencoded"}
    original = FormSafeBoltRequest(
        body=urlencode({"payload": json.dumps(payload)}), headers=headers
    )
    copy = create_copy(original.to_copyable())

    assert copy.body == original.body == payload
    assert (copy.context.team_id, copy.context.user_id, copy.context.channel_id) == (
        "T1",
        "U1",
        "C1",
    )
    assert copy.context.response_url == "https://hooks.slack.test/1"
    assert copy.context.is_enterprise_install is original.context.is_enterprise_install is True
    copy.body["actions"][0]["value"] = "changed"
    assert original.body["actions"][0]["value"] == '{"o": 7, "v": 2}'
