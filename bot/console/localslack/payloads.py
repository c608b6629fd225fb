"""Shapes Slack stores, returns and sends: ids, view objects, action items, modal state, files."""

from __future__ import annotations

import copy
import json
import random
import secrets
import string
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

JsonDict: TypeAlias = dict[str, Any]
_J = TypeVar("_J")

_ID_ALPHABET = string.ascii_uppercase + string.digits
_BLOCK_ID_ALPHABET = string.ascii_letters + string.digits

# Elements Slack reports in view.state.values (and in block_actions state), by the key holding the choice.
_STATE_KEY_BY_TYPE: dict[str, str] = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "file_input": "files",
    "rich_text_input": "rich_text_value",
}

# The element field holding the pre-filled choice, for each state key.
_INITIAL_FIELD: dict[str, str] = {
    "value": "initial_value",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "rich_text_value": "initial_value",
}

_LIST_STATE_KEYS = {
    "selected_options",
    "selected_users",
    "selected_conversations",
    "selected_channels",
    "files",
}

INTERACTIVE_TYPES = frozenset(
    {"button", "overflow", "workflow_button", *_STATE_KEY_BY_TYPE.keys()} - {"file_input"}
)


def new_id(prefix: str, length: int = 10) -> str:
    """Return a Slack-style object id such as "V0A1B2C3D4E"."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_trigger_id() -> str:
    """Return a trigger id shaped like Slack's ("12345.98765.abcd2358fdea")."""
    digits = "".join(secrets.choice(string.digits) for _ in range(13))
    return f"{int(time.time())}.{digits}.{secrets.token_hex(16)}"


def new_view_hash() -> str:
    """Return a view hash shaped like Slack's ("1596530361.3wRYuk3R")."""
    return f"{int(time.time())}.{''.join(secrets.choice(_BLOCK_ID_ALPHABET) for _ in range(8))}"


def new_action_ts() -> str:
    """Return an action_ts for now, with microseconds as Slack writes it."""
    return f"{time.time():.6f}"


def plain_text(text: str) -> JsonDict:
    """Return a plain_text object the way Slack echoes it back (with "emoji": true)."""
    return {"type": "plain_text", "text": text, "emoji": True}


def echoed_text(text_object: Any) -> JsonDict:
    """Return a text object as Slack echoes it in payloads: plain_text gains "emoji": true."""
    if not isinstance(text_object, dict):
        return plain_text(str(text_object or ""))
    echoed = dict(text_object)
    if echoed.get("type") == "plain_text":
        echoed.setdefault("emoji", True)
    return echoed


def iter_elements(blocks: Sequence[JsonDict]) -> Iterator[tuple[JsonDict, JsonDict]]:
    """Yield (block, element) for every element a person can act on or fill in."""
    for block in blocks:
        block_type = block.get("type")
        if block_type == "actions":
            for element in block.get("elements") or []:
                yield block, element
        elif block_type == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif block_type == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def json_copy(value: _J) -> _J:
    """A deep copy of JSON data (what every payload here is), through the C JSON codec:
    several times cheaper than `copy.deepcopy`, which a busy fake Slack would spend a core on."""
    copied: _J = json.loads(json.dumps(value))
    return copied


_short_ids = random.Random()
"""Generated block and action ids need to be distinct, not secret."""


def _short_id() -> str:
    return "".join(_short_ids.choices(_BLOCK_ID_ALPHABET, k=5))


def with_generated_ids(blocks: Sequence[JsonDict]) -> list[JsonDict]:
    """Return blocks where missing block_id / action_id are filled as Slack does.

    The input is left as it was: a block that gains an id is a new dict (and so is the element
    that gains one); the rest is shared with the input. Nothing here changes a stored block in
    place (an update stores new blocks), so sharing is safe, and it spares a busy fake Slack a
    deep copy of every message it stores.
    """
    return [_filled_block(block) for block in blocks]


def _needs_action_id(element: Any) -> bool:
    kind = element.get("type") if isinstance(element, dict) else None
    actionable = kind in INTERACTIVE_TYPES or kind == "file_input"
    return actionable and not element.get("action_id")


def _with_action_id(element: JsonDict) -> JsonDict:
    return {**element, "action_id": _short_id()} if _needs_action_id(element) else element


def _filled_block(block: JsonDict) -> JsonDict:
    """`block` itself when it lacks no id; otherwise a copy with the ids filled (the elements
    of `iter_elements`: an actions block's elements, a section's accessory, an input's element)."""
    changes: JsonDict = {}
    if not block.get("block_id"):
        changes["block_id"] = _short_id()
    kind = block.get("type")
    if kind == "actions":
        elements = block.get("elements") or []
        if any(_needs_action_id(e) for e in elements):
            changes["elements"] = [_with_action_id(e) for e in elements]
    else:
        key = {"section": "accessory", "input": "element"}.get(str(kind))
        if key is not None and _needs_action_id(block.get(key)):
            changes[key] = _with_action_id(block[key])
    return {**block, **changes} if changes else block


def find_element(
    blocks: Sequence[JsonDict], action_id: str, *, value: str | None = None
) -> tuple[JsonDict, JsonDict]:
    """Return the (block, element) rendered with action_id (and value, if given), or raise LookupError."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") != action_id:
            continue
        if value is not None and element.get("value") != value:
            continue
        return block, element
    rendered = [
        f"{e.get('action_id')}" + (f"={e.get('value')}" if "value" in e else "")
        for _, e in iter_elements(blocks)
    ]
    wanted = action_id if value is None else f"{action_id}={value}"
    raise LookupError(f"no element {wanted!r} is rendered; elements present: {rendered}")


def _options(element: JsonDict) -> list[JsonDict]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _chosen_option(element: JsonDict, choice: Any) -> JsonDict:
    if isinstance(choice, dict):
        return {"text": echoed_text(choice.get("text")), "value": choice.get("value")}
    for option in _options(element):
        if option.get("value") == choice:
            return {"text": echoed_text(option.get("text")), "value": option.get("value")}
    if element.get("type") in {"external_select", "multi_external_select"}:
        return {"text": plain_text(str(choice)), "value": str(choice)}
    values = [o.get("value") for o in _options(element)]
    raise LookupError(f"{element.get('action_id')!r} has no option {choice!r}; options: {values}")


def _as_list(choice: Any) -> list[Any]:
    if choice is None:
        return []
    if isinstance(choice, (list, tuple)):
        return list(choice)
    return [choice]


def element_state(
    element: JsonDict,
    choice: Any = None,
    *,
    chosen: bool = False,
    make_file: Callable[[Any], JsonDict] | None = None,
) -> JsonDict:
    """Return the state entry Slack reports for element: the choice if chosen, else its initial value."""
    element_type = str(element.get("type"))
    key = _STATE_KEY_BY_TYPE.get(element_type)
    if key is None:
        raise ValueError(f"element type {element_type!r} holds no state")
    entry: JsonDict = {"type": element_type}
    if not chosen:
        initial = element.get(_INITIAL_FIELD.get(key, ""))
        if key == "selected_option":
            entry[key] = _chosen_option(element, initial) if initial is not None else None
        elif key == "selected_options":
            entry[key] = [_chosen_option(element, o) for o in _as_list(initial)]
        elif key == "files":
            entry[key] = []
        elif key in _LIST_STATE_KEYS:
            entry[key] = list(initial or [])
        else:
            entry[key] = initial
        return entry
    if key == "selected_option":
        entry[key] = None if choice is None else _chosen_option(element, choice)
    elif key == "selected_options":
        entry[key] = [_chosen_option(element, c) for c in _as_list(choice)]
    elif key == "files":
        build = make_file or (lambda f: uploaded_file(f) if isinstance(f, str) else dict(f))
        entry[key] = [build(f) for f in _as_list(choice)]
    elif key in _LIST_STATE_KEYS:
        entry[key] = [str(c) for c in _as_list(choice)]
    elif key == "rich_text_value" and isinstance(choice, str):
        entry[key] = {
            "type": "rich_text",
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": choice}]}
            ],
        }
    elif key == "selected_date_time":
        entry[key] = None if choice is None else int(choice)
    else:
        entry[key] = None if choice is None else str(choice)
    return entry


def state_values(
    blocks: Sequence[JsonDict],
    inputs: Mapping[str, Any] | None = None,
    *,
    make_file: Callable[[Any], JsonDict] | None = None,
) -> JsonDict:
    """Build state.values from {block_id or action_id: value}; untouched inputs keep their initial value."""
    remaining = dict(inputs or {})
    values: JsonDict = {}
    for block, element in iter_elements(blocks):
        element_type = element.get("type")
        if element_type not in _STATE_KEY_BY_TYPE:
            continue
        block_id = str(block.get("block_id"))
        action_id = str(element.get("action_id"))
        if block_id in remaining:
            entry = element_state(
                element, remaining.pop(block_id), chosen=True, make_file=make_file
            )
        elif action_id in remaining:
            entry = element_state(
                element, remaining.pop(action_id), chosen=True, make_file=make_file
            )
        else:
            entry = element_state(element)
        values.setdefault(block_id, {})[action_id] = entry
    if remaining:
        known = [
            f"{b.get('block_id')}/{e.get('action_id')}"
            for b, e in iter_elements(blocks)
            if e.get("type") in _STATE_KEY_BY_TYPE
        ]
        raise LookupError(f"no input for {sorted(remaining)}; inputs present: {known}")
    return values


def action_item(
    block: JsonDict,
    element: JsonDict,
    *,
    choice: Any = None,
    action_ts: str | None = None,
) -> JsonDict:
    """Return the actions[] entry Slack sends when a person uses element inside block."""
    element_type = str(element.get("type"))
    item: JsonDict = {
        "action_id": element.get("action_id"),
        "block_id": block.get("block_id"),
    }
    if element_type in {"button", "workflow_button"}:
        item["text"] = echoed_text(element.get("text"))
        for field in ("value", "style", "url"):
            if field in element:
                item[field] = element[field]
    elif element_type == "overflow":
        item["selected_option"] = _chosen_option(element, choice)
    elif element_type in _STATE_KEY_BY_TYPE:
        state = element_state(element, choice, chosen=choice is not None)
        state.pop("type")
        item.update(state)
        if "placeholder" in element:
            item["placeholder"] = echoed_text(element["placeholder"])
    item["type"] = element_type
    item["action_ts"] = action_ts or new_action_ts()
    return item


def view_object(
    view: Mapping[str, Any],
    *,
    view_id: str,
    team_id: str,
    app_id: str,
    bot_id: str,
    view_hash: str,
    root_view_id: str | None = None,
    previous_view_id: str | None = None,
    state: JsonDict | None = None,
) -> JsonDict:
    """Return a stored view the way Slack returns it from views.* and sends it in payloads."""
    view_type = view.get("type", "modal")
    stored: JsonDict = {
        "id": view_id,
        "team_id": team_id,
        "type": view_type,
        "blocks": with_generated_ids(view.get("blocks") or []),
        "private_metadata": view.get("private_metadata") or "",
        "callback_id": view.get("callback_id") or "",
        "state": {"values": copy.deepcopy(state) if state else {}},
        "hash": view_hash,
        "title": echoed_text(view["title"]) if view.get("title") else None,
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "close": echoed_text(view["close"]) if view.get("close") else None,
        "submit": echoed_text(view["submit"]) if view.get("submit") else None,
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id or view_id,
        "app_id": app_id,
        "external_id": view.get("external_id") or "",
        "app_installed_team_id": team_id,
        "bot_id": bot_id,
    }
    if view_type == "home":
        for modal_only in ("title", "close", "submit", "clear_on_close", "notify_on_close"):
            if modal_only not in view:
                stored.pop(modal_only)
    return stored


def uploaded_file(
    name: str,
    *,
    file_id: str | None = None,
    user_id: str = "U0USER",
    team_id: str = "T0DEMO",
    size: int = 1024,
    mimetype: str | None = None,
    domain: str = "demo",
) -> JsonDict:
    """Return a file object like the ones file_input puts in a view_submission."""
    file_id = file_id or new_id("F")
    filetype = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    guessed = {
        "pdf": "application/pdf",
        "png": "image/png",
        "jpg": "image/jpeg",
        "jpeg": "image/jpeg",
        "txt": "text/plain",
        "csv": "text/csv",
        "zip": "application/zip",
    }
    now = int(time.time())
    return {
        "id": file_id,
        "created": now,
        "timestamp": now,
        "name": name,
        "title": name,
        "mimetype": mimetype or guessed.get(filetype, "application/octet-stream"),
        "filetype": filetype,
        "pretty_type": filetype.upper(),
        "user": user_id,
        "user_team": team_id,
        "editable": False,
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "is_public": False,
        "url_private": f"https://files.slack.com/files-pri/{team_id}-{file_id}/{name}",
        "url_private_download": (
            f"https://files.slack.com/files-pri/{team_id}-{file_id}/download/{name}"
        ),
        "permalink": f"https://{domain}.slack.com/files/{user_id}/{file_id}/{name}",
    }


def visible_text(surface: Mapping[str, Any]) -> str:
    """Return the text a person would read in a message or view (text and blocks), one per line."""
    texts: list[str] = []
    if surface.get("text") and isinstance(surface["text"], str):
        texts.append(surface["text"])
    pending: list[Any] = [surface.get("title"), *(surface.get("blocks") or [])]
    while pending:
        item = pending.pop(0)
        if isinstance(item, list):
            pending[:0] = item
        elif isinstance(item, dict):
            if item.get("type") in {"plain_text", "mrkdwn", "text"} and isinstance(
                item.get("text"), str
            ):
                texts.append(item["text"])
            # Option lists of selects are choices, not text shown until opened.
            pending[:0] = [
                v
                for k, v in item.items()
                if isinstance(v, (dict, list)) and k not in {"options", "option_groups"}
            ]
    return "\n".join(texts)
