"""manifest.yml: valid against Slack's published schema, and exactly what the code uses."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import bot
from bot.listeners.common import BOT_EVENTS, COMMAND
from bot.scopes import BOT_SCOPES, FEATURE_SCOPES, METHOD_SCOPES

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"
CALL = re.compile(
    r"\.((?:chat|views|conversations|users|team|auth|files|reactions|im)_[A-Za-z]+)\("
)


def manifest() -> dict[str, Any]:
    """manifest.yml, parsed."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    return data


def web_api_calls() -> set[str]:
    """Every slack_sdk WebClient method called anywhere in bot/ (outside the local Slack)."""
    found: set[str] = set()
    for path in Path(bot.__file__).parent.rglob("*.py"):
        if "localslack" in path.parts:
            continue
        found |= set(CALL.findall(path.read_text(encoding="utf-8")))
    return found


def test_valid_against_slacks_schema() -> None:
    """Slack's manifest schema 1.0.0 (from ../shared), when it is there."""
    if not SCHEMA.exists():
        pytest.skip(
            f"Slack's manifest schema is not at {SCHEMA} (../shared is absent in a user's clone)"
        )
    import jsonschema

    jsonschema.validate(manifest(), json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_the_scopes_are_exactly_what_the_code_needs() -> None:
    """Each Web API method the code calls is known, and the manifest asks for no more and no less."""
    calls = web_api_calls()
    assert calls, "found no Web API calls: the scan is broken"
    unknown = calls - METHOD_SCOPES.keys()
    assert not unknown, f"add these methods to bot/scopes.py with their scope: {sorted(unknown)}"
    needed = {METHOD_SCOPES[m] for m in calls if METHOD_SCOPES[m]} | set(FEATURE_SCOPES)
    assert set(manifest()["oauth_config"]["scopes"]["bot"]) == needed
    assert set(BOT_SCOPES) == needed  # what an OAuth installation asks for


def test_file_input_is_what_needs_files_read() -> None:
    """files:read is claimed for file_input: the modals must really use one."""
    code = "".join(
        p.read_text(encoding="utf-8")
        for p in Path(bot.__file__).parent.rglob("*.py")
        if "localslack" not in p.parts
    )
    assert '"file_input"' in code


def test_command_events_and_settings_match_the_app() -> None:
    """The command the app listens to, the events it handles, interactivity, Socket Mode, Home tab."""
    m = manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == [COMMAND]
    assert set(m["settings"]["event_subscriptions"]["bot_events"]) == set(BOT_EVENTS)
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["features"]["app_home"]["home_tab_enabled"] is True
