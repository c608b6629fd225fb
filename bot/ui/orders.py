"""Block Kit for orders: list rows, channel cards, the detail, and the reason modals.

Pure functions of read models: no database, no Slack client. What buttons an order shows comes
from the lifecycle table (`actions_for`), for the party looking at it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.ui.format import (
    clip,
    escape,
    link,
    mention,
    status_age,
    status_text,
    when,
)
from orders_core.lifecycle import (
    Action,
    OrderStatus,
    Party,
    ReasonRule,
    Transition,
    actions_for,
    parse_status,
    rule_for_action,
)
from orders_core.orders import AttachedFile, OrderDetail, OrderPage, OrderView, TimelineEntry

Block = dict[str, Any]

ACTION_PREFIX = "order:"
OPEN_ACTION = "order:open"
MESSAGE_ACTION = "message:open"
"""A card's *Message* button (not an `order:` action: nothing about the order changes)."""
LIST_FILTER_ACTION = "list:filter"
LIST_PAGE_ACTION = "list:page"
ORDER_ACTION_CALLBACK = "order_action"
DETAIL_CALLBACK = "order_detail"
REASON_BLOCK = "reason"
FILES_BLOCK = "files"
PAGE_SIZE = 10
SEARCH_CHARS = 200
"""What a search keeps of what was typed (it rides in each page's buttons)."""
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MESSAGE_CHAR_BUDGET = 11_000  # Slack refuses messages near 13k characters of blocks


def action_id(action: Action) -> str:
    """The action_id of an action's button: order:confirm."""
    return ACTION_PREFIX + action.value


@dataclass(frozen=True)
class Message:
    """A message's fallback text and blocks."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        """For chat.postMessage / chat.update / respond."""
        return {"text": self.text, "blocks": self.blocks}


@dataclass(frozen=True)
class ListSpec:
    """Which list a message shows (it comes back in every button, to redraw the same list)."""

    statuses: tuple[OrderStatus, ...] | None = None
    cursor: str | None = None
    query: str | None = None
    """Set for search results: what was searched (a number, its start, or words)."""
    window: tuple[int, int] | None = None
    """The (lowest, highest) order ids the message shows: a redraw after an action keeps to it."""
    next_cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For button values (Slack allows 2,000 characters: the keys can be words)."""
        data: dict[str, Any] = {"kind": "list"}
        if self.statuses:
            data["statuses"] = [s.value for s in self.statuses]
        if self.cursor:
            data["cursor"] = self.cursor
        if self.query:
            data["query"] = self.query[:SEARCH_CHARS]
        if self.window:
            data["window"] = list(self.window)
        if self.next_cursor:
            data["next"] = self.next_cursor
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListSpec:
        """Read back; anything unknown is ignored (the value came from a client)."""
        raw = value_of(data, "statuses", "s") or []
        statuses = tuple(s for s in (parse_status(str(x)) for x in raw) if s)
        cursor = value_of(data, "cursor", "c")
        query = value_of(data, "query", "q")
        window = value_of(data, "window", "r")
        bounds = None
        if (
            isinstance(window, list)
            and len(window) == 2
            and all(isinstance(x, int) for x in window)
        ):
            bounds = (min(window), max(window))
        after = value_of(data, "next", "n")
        return cls(
            statuses or None,
            str(cursor) if cursor else None,
            str(query)[:40] if query else None,
            bounds,
            str(after) if after else None,
        )


@dataclass(frozen=True)
class ButtonValue:
    """What an order button carries: the order, the version it was drawn at, and where it is."""

    number: int
    version: int
    where: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> str:
        """As a button value (under Slack's 2,000 characters): compact JSON."""
        data = {"order": self.number, "version": self.version, "where": self.where}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, value: str | None) -> ButtonValue | None:
        """Read a button value back; None when it is not one of ours."""
        try:
            data = json.loads(value or "")
            where = value_of(data, "where", "w") or {}
            number, version = value_of(data, "order", "n"), value_of(data, "version", "v")
            return cls(int(number), int(version), where if isinstance(where, dict) else {})
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def value_of(data: Mapping[str, Any], key: str, old_key: str) -> Any:
    """`data[key]`, or what messages drawn before the keys were words carry under `old_key`."""
    return data[key] if key in data else data.get(old_key)


def where_kind(where: Mapping[str, Any]) -> str | None:
    """Where a button was drawn: "list", "card", "detail", "modal", "home", "digest"."""
    kind = value_of(where, "kind", "k")
    return str(kind) if kind is not None else None


# -- pieces -------------------------------------------------------------------------------------


def plain_text(text: str, limit: int = 75) -> dict[str, Any]:
    """A plain_text object, clipped to `limit` (75 for buttons and options)."""
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _confirm_dialog(order: OrderView, t: Transition) -> dict[str, Any]:
    what = {
        Action.CONFIRM: "The provider starts building.",
        Action.APPROVE: "The order is then Completed.",
        Action.ACCEPT: "The merchant is asked to confirm.",
    }.get(t.action, "")
    return {
        "title": plain_text(f"{t.label} {order.code}?", 100),
        "text": {
            "type": "plain_text",
            "text": clip(f"{escape(clip(order.mini_program, 40))}: {what}", 300),
        },
        "confirm": plain_text(t.label, 30),
        "deny": plain_text("Not now", 30),
    }


def action_buttons(order: OrderView, viewer: Party, where: Mapping[str, Any]) -> list[Block]:
    """The buttons the viewer's party may press on this order, in table order."""
    value = ButtonValue(order.number, order.version, dict(where)).encode()
    buttons: list[Block] = []
    for t in actions_for(order.status, viewer):
        button: Block = {
            "type": "button",
            "action_id": action_id(t.action),
            "text": plain_text(t.label),
            "value": value,
        }
        if t.target is OrderStatus.CANCELED or t.action is Action.REJECT_APPROVAL:
            button["style"] = "danger"
        elif t.reason is ReasonRule.NONE:
            button["style"] = "primary"
        if t.reason is ReasonRule.NONE and not t.files_allowed:
            button["confirm"] = _confirm_dialog(order, t)  # one click: ask once
        buttons.append(button)
    return buttons


def _actions_block(order: OrderView, viewer: Party, where: Mapping[str, Any]) -> list[Block]:
    buttons = action_buttons(order, viewer, where)
    if not buttons:
        return []
    return [
        {"type": "actions", "block_id": f"act:{order.number}:{order.version}", "elements": buttons}
    ]


def last_change_text(entry: TimelineEntry | None, *, reason_limit: int = 150) -> str:
    """ "Confirmed by @ana at 10:42", with the reason when there is one."""
    if entry is None:
        return ""
    text = f"{entry.past.capitalize()} by {mention(entry.actor_user_id)} {when(entry.created_at)}"
    if entry.reason:
        text += f": “{escape(clip(entry.reason, reason_limit))}”"
    if entry.files:
        text += f" · {len(entry.files)} file{'s' if len(entry.files) > 1 else ''}"
    return text


def order_summary(
    order: OrderView, viewer: Party, now: datetime, where: Mapping[str, Any], *, fresh: bool
) -> Block:
    """The row's main section: number (a button that opens the detail), service, other party,
    mini program, status with its icon, and since when (`fresh`: for how long) it is in it."""
    other = clip(order.party_name(viewer.other), 60)
    text = (
        f"*{order.code}* · {escape(clip(order.service_name, 60))}\n"
        f"{status_age(order.status, order.status_changed_at, now, fresh=fresh)}"
        f" · {escape(other)} · _{escape(clip(order.mini_program, 60))}_"
    )
    return {
        "type": "section",
        "block_id": f"order:{order.number}",
        "text": {"type": "mrkdwn", "text": clip(text, 3000)},
        "accessory": {
            "type": "button",
            "action_id": OPEN_ACTION,
            "text": plain_text(order.code),
            "value": ButtonValue(order.number, order.version, dict(where)).encode(),
            "accessibility_label": f"Open {order.code}",
        },
    }


def order_row(
    order: OrderView,
    viewer: Party,
    last: TimelineEntry | None,
    now: datetime,
    where: Mapping[str, Any],
    *,
    fresh: bool,
) -> list[Block]:
    """One order in a list: summary, last change, and the viewer's buttons (`fresh`: drawn
    for a reader now, so its age may be relative; see bot.ui.format)."""
    blocks = [order_summary(order, viewer, now, where, fresh=fresh)]
    if last is not None:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": clip(last_change_text(last), 3000)}],
            }
        )
    return blocks + _actions_block(order, viewer, where)


# -- the list -------------------------------------------------------------------------------------

_FILTERS: list[tuple[str, str]] = [
    ("all", "All statuses"),
    ("open", "Open (not finished)"),
    *[(s.value, s.label) for s in OrderStatus],
]


def _filter_key(statuses: tuple[OrderStatus, ...] | None) -> str | None:
    if not statuses:
        return "all"
    if set(statuses) == {s for s in OrderStatus if not s.is_terminal}:
        return "open"
    if len(statuses) == 1:
        return statuses[0].value
    return None


def filter_statuses(key: str) -> tuple[OrderStatus, ...] | None:
    """The statuses a filter option stands for (None: all)."""
    if key == "open":
        return tuple(s for s in OrderStatus if not s.is_terminal)
    status = parse_status(key)
    return (status,) if status else None


def _option(key: str, label: str) -> dict[str, Any]:
    return {"text": plain_text(label), "value": key}


def render_order_list(
    page: OrderPage,
    *,
    viewer: Party,
    party_name: str,
    spec: ListSpec,
    last_entries: Mapping[int, TimelineEntry],
    now: datetime,
    notice: str | None = None,
) -> Message:
    """The `/orders list` message: a filter, one row per order, and a Next page button."""
    where = ListSpec(
        spec.statuses,
        spec.cursor,
        spec.query,
        (min(o.id for o in page.orders), max(o.id for o in page.orders)) if page.orders else None,
        page.next_cursor,
    ).to_json()
    shown = ", ".join(s.label for s in spec.statuses) if spec.statuses else "all statuses"
    title = f"*{escape(party_name)}* — orders, newest first ({shown})"
    if spec.query:
        shown = f"matching {spec.query}"
        title = f"*{escape(party_name)}* — orders matching *{escape(spec.query)}*"
    select: Block = {
        "type": "static_select",
        "action_id": LIST_FILTER_ACTION,
        "placeholder": plain_text("Filter by status"),
        "options": [_option(k, label) for k, label in _FILTERS],
    }
    key = _filter_key(spec.statuses)
    if key is not None:
        select["initial_option"] = _option(key, dict(_FILTERS)[key])
    blocks: list[Block] = []
    if notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(notice, 3000)}})
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": title}})
    if not spec.query:
        blocks.append({"type": "actions", "block_id": "list:controls", "elements": [select]})
    blocks.append({"type": "divider"})
    if not page.orders:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "No orders here. Try another status, or `/orders list all`.",
                },
            }
        )
    for order in page.orders:
        # An ephemeral answer, drawn for the reader as they ask (or redrawn after their click).
        blocks += order_row(order, viewer, last_entries.get(order.id), now, where, fresh=True)
    nav: list[Block] = []
    if spec.cursor:
        nav.append(
            {
                "type": "button",
                "action_id": LIST_PAGE_ACTION,
                "text": plain_text("First page"),
                "value": json.dumps(
                    ListSpec(spec.statuses, query=spec.query).to_json(), separators=(",", ":")
                ),
            }
        )
    if page.next_cursor:
        nav.append(
            {
                "type": "button",
                "action_id": LIST_PAGE_ACTION + ":next",
                "text": plain_text("Next page"),
                "value": json.dumps(
                    ListSpec(spec.statuses, page.next_cursor, spec.query).to_json(),
                    separators=(",", ":"),
                ),
            }
        )
    if nav:
        blocks.append({"type": "actions", "block_id": "list:nav", "elements": nav})
    count = len(page.orders)
    text = f"{escape(party_name)}: {count} order{'' if count == 1 else 's'} ({escape(shown)})"
    return Message(text, blocks[:MAX_MESSAGE_BLOCKS])


# -- cards --------------------------------------------------------------------------------------


def render_order_card(
    order: OrderView,
    *,
    viewer: Party,
    last: TimelineEntry | None,
    now: datetime,
    notice: str | None = None,
) -> Message:
    """A channel message about one order, with the viewer party's buttons; redrawn on every change."""
    blocks: list[Block] = []
    if notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(notice, 3000)}})
    blocks += order_row(order, viewer, last, now, {"kind": "card"}, fresh=False)  # it stays
    write = {
        "type": "button",
        "action_id": MESSAGE_ACTION,
        "text": plain_text("Message"),
        "value": ButtonValue(order.number, order.version, {"kind": "card"}).encode(),
    }
    if blocks[-1]["type"] == "actions":
        blocks[-1]["elements"].append(write)
    else:
        blocks.append({"type": "actions", "block_id": f"msg:{order.number}", "elements": [write]})
    waiting = order.status.waiting_on
    if waiting is not None:
        who = "you" if waiting is viewer else order.party_name(waiting)
        hint = f"Waiting on {escape(who)}."
    else:
        hint = "This order is finished."
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
    text = f"{order.code} is {order.status.label}" + (
        f" — {notice_plain(notice)}" if notice else ""
    )
    return Message(clip(text, 3000), blocks)


def notice_plain(notice: str) -> str:
    """A notice without its mrkdwn decoration, for fallback text."""
    return notice.replace("*", "")


def action_notice(order: OrderView, entry: TimelineEntry) -> str:
    """What the other party's channel is told: "Acme Coffee rejected SO-000123: <reason>"."""
    party = order.party_name(entry.actor_party) if entry.actor_party else "Someone"
    text = f"*{escape(party)}* {entry.past} *{order.code}*"
    if entry.reason:
        text += f": {escape(clip(entry.reason, 500))}"
    return text + f" ({mention(entry.actor_user_id)})"


# -- the detail -----------------------------------------------------------------------------------


SECTION_TEXT_LIMIT = 3000
"""Slack's limit on a section's text (slack_sdk counts characters; we count UTF-16 units, which
are never fewer, so a reason full of emoji fits whichever way Slack counts)."""


def text_units(text: str) -> int:
    """The length of text as the strictest count of Slack's limits: UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _escaped_units(c: str) -> int:
    return {"&": 5, "<": 4, ">": 4}.get(c, 2 if ord(c) > 0xFFFF else 1)


def escaped_pieces(text: str, first: int, rest: int) -> list[str]:
    """User text escaped and cut into pieces that fit `first` units, then `rest` each.

    Cut where the raw text is cut, never inside an escape (`&amp;`), at a line break or a space
    when there is one in the last half of a piece: joined, the pieces are `escape(text)`.
    """
    pieces: list[str] = []
    start = 0
    room = first
    while start < len(text):
        end, used = start, 0
        while end < len(text) and used + _escaped_units(text[end]) <= room:
            used += _escaped_units(text[end])
            end += 1
        if end < len(text):
            space = max(text.rfind("\n", start, end), text.rfind(" ", start, end))
            if space >= start + (end - start) // 2:
                end = space + 1
        end = max(end, start + 1) if room > 0 else end
        pieces.append(escape(text[start:end]))
        start = end
        room = rest
    return pieces


def _file_line(f: AttachedFile) -> str:
    size = f" ({f.size / 1024:.0f} KB)" if f.size else ""
    # The name and URL come from a payload: `link` keeps `<`, `>` and `|` in them from breaking
    # the link; a URL that is not https (or too long to fit) leaves the name unlinked.
    name = clip(f.name, 80)
    shown = link(f.permalink, name) if f.permalink.startswith("https://") else escape(name)
    return f":paperclip: {shown}{size}"


def _entry_head(entry: TimelineEntry) -> str:
    move = (
        f"{entry.from_status.label} → {entry.to_status.label}"
        if entry.from_status
        else entry.to_status.label
    )
    return f"{when(entry.created_at)} — {mention(entry.actor_user_id)} *{entry.past}* · {move}"


def _pack(head: str, reason: str | None, files: Sequence[str]) -> list[str]:
    """An entry's text over as many sections as it needs: the head, all of the reason, then
    the files, each section within Slack's limit."""
    texts: list[str] = []
    current = head
    if reason:
        first = SECTION_TEXT_LIMIT - text_units(head) - 1
        pieces = escaped_pieces(reason, first, SECTION_TEXT_LIMIT)
        current += "\n" + pieces[0]
        for piece in pieces[1:]:
            texts.append(current)
            current = piece
    for line in files:
        if text_units(current) + 1 + text_units(line) <= SECTION_TEXT_LIMIT:
            current += "\n" + line
        else:
            texts.append(current)
            current = line
    texts.append(current)
    return texts


def packed_sections(head: str, text: str | None, files: Sequence[AttachedFile]) -> list[Block]:
    """A head line, all of someone's text (escaped) and their files, over as many sections as
    Slack's limits need."""
    return [_section(t) for t in _pack(head, text, [_file_line(f) for f in files])]


def _shortened(reason: str, room: int) -> tuple[str, int]:
    """The start of a reason that, escaped and with "…", takes at most `room` units; and how
    many characters are left out."""
    cut, used = 0, 1  # the ellipsis
    while cut < len(reason) and used + _escaped_units(reason[cut]) <= room:
        used += _escaped_units(reason[cut])
        cut += 1
    if cut >= len(reason):
        return reason, 0
    space = max(reason.rfind("\n", 0, cut), reason.rfind(" ", 0, cut))
    if space > 0 and space > cut - 200:  # end on a word when one ends near the cut
        cut = space
    return reason[:cut].rstrip() + "…", len(reason) - cut


_NOTE_UNITS = 100
"""Room kept for the line that says how much of a shortened reason is not shown."""


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _units(texts: Sequence[str]) -> int:
    return sum(text_units(t) for t in texts)


def timeline_blocks(
    timeline: Sequence[TimelineEntry],
    budget_blocks: int,
    budget_chars: int,
    open_button: Block | None = None,
) -> list[Block]:
    """The timeline, newest last; the oldest entries give way when the message would be too big.

    An entry shows all of its reason (over several sections when it is long) and every file.
    Where that cannot fit (a message holds far less than a modal), the entry shows the start of
    its reason, its files, and `open_button` to read it whole in the detail modal.
    """
    rendered: list[list[Block]] = []
    used_blocks = used_chars = 0
    for entry in reversed(timeline):
        head = _entry_head(entry)
        files = [_file_line(f) for f in entry.files]
        texts = _pack(head, entry.reason, files)
        room_blocks, room_chars = budget_blocks - used_blocks, budget_chars - used_chars
        if len(texts) <= room_blocks and _units(texts) <= room_chars:
            blocks = [_section(t) for t in texts]
        elif entry.reason and (open_button is not None or not rendered):
            # Not all of it fits: the start of the reason, every file, and a way to read on.
            reason_room = min(
                SECTION_TEXT_LIMIT - text_units(head) - 1,
                room_chars - text_units(head) - _units(files) - len(files) - _NOTE_UNITS - 1,
            )
            if reason_room < 1:
                break
            start, left = _shortened(entry.reason, reason_room)
            note = f"_{left:,} more characters of this reason"
            note += ": open the order to read it whole._" if open_button else " not shown._"
            texts = _pack(head + "\n" + escape(start), None, files)
            if len(texts) + 1 > room_blocks or _units(texts) + text_units(note) > room_chars:
                break
            note_block = _section(note)
            if open_button is not None:
                note_block["accessory"] = open_button
            rendered.append([*[_section(t) for t in texts], note_block])
            break  # older entries are counted above it, not drawn below a shortened one
        else:
            break
        rendered.append(blocks)
        used_blocks += len(blocks)
        used_chars += _units([b["text"]["text"] for b in blocks])
    rendered.reverse()
    out = [b for blocks in rendered for b in blocks]
    hidden = len(timeline) - len(rendered)
    if hidden:
        text = f"… {hidden} earlier entr{'y' if hidden == 1 else 'ies'} not shown"
        if open_button is not None:
            more = _section(text + ": open the order to see them.")
            out.insert(0, {**more, "accessory": open_button})
        else:
            out.insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
    return out


def detail_blocks(
    detail: OrderDetail,
    viewer: Party,
    now: datetime,
    where: Mapping[str, Any],
    *,
    max_blocks: int,
    max_chars: int,
    can_open: bool = False,
) -> list[Block]:
    """Every field, the buttons at the top, and the timeline (`can_open`: what does not fit has
    a button that opens the whole detail in a modal)."""
    o = detail.order
    blocks: list[Block] = [
        {"type": "header", "text": plain_text(f"{o.code} · {o.mini_program}", 150)},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                # The detail is drawn for its reader as they open it (an ephemeral answer or a
                # modal): how long reads best there.
                "text": status_age(o.status, o.status_changed_at, now, fresh=True),
            },
        },
    ]
    blocks += _actions_block(o, viewer, where)
    open_button: Block | None = None
    if can_open:
        open_button = {
            "type": "button",
            "action_id": OPEN_ACTION,
            "text": plain_text(f"Open {o.code}"),
            "value": ButtonValue(o.number, o.version, dict(where)).encode(),
        }
    fields = [
        ("Service", escape(o.service_name)),
        ("Merchant", escape(o.merchant_name)),
        ("Service provider", escape(o.provider_name)),
        ("Mini program", escape(o.mini_program)),
        ("Applicable apps", escape(", ".join(o.apps)) or "—"),
        ("Contact", f"{escape(o.contact_name)}\n{escape(o.contact)}"),
        ("Placed", f"{mention(o.placed_by)} {when(o.created_at)}"),
        ("Last change", when(o.updated_at)),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": clip(f"*{k}*\n{v}", 2000)} for k, v in fields],
        }
    )
    if o.requirements:
        head = "*Requirements*\n"
        pieces = escaped_pieces(o.requirements, SECTION_TEXT_LIMIT - len(head), SECTION_TEXT_LIMIT)
        pieces[0] = head + pieces[0]
        if open_button is not None and len(pieces) > 1:
            # A message has no room for 3,000 characters that escape to five times as many.
            blocks.append(_section(pieces[0]))
            note = _section("_The requirements go on: open the order to read them whole._")
            blocks.append({**note, "accessory": open_button})
        else:
            blocks += [_section(p) for p in pieces]
    blocks += [
        {"type": "divider"},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Timeline*"}},
    ]
    used_chars = sum(len(json.dumps(b)) for b in blocks)
    blocks += timeline_blocks(
        detail.timeline, max_blocks - len(blocks) - 1, max_chars - used_chars, open_button
    )
    return blocks


def render_detail_message(
    detail: OrderDetail, viewer: Party, now: datetime, notice: str | None = None
) -> Message:
    """`/orders view`: the detail as an ephemeral message."""
    head = (
        [{"type": "section", "text": {"type": "mrkdwn", "text": clip(notice, 3000)}}]
        if notice
        else []
    )
    blocks = head + detail_blocks(
        detail,
        viewer,
        now,
        {"kind": "detail"},
        max_blocks=MAX_MESSAGE_BLOCKS - len(head),
        max_chars=MESSAGE_CHAR_BUDGET,
        can_open=True,
    )
    return Message(f"{detail.order.code} is {detail.order.status.label}", blocks)


def render_detail_modal(
    detail: OrderDetail, viewer: Party, now: datetime, notice: str | None = None
) -> dict[str, Any]:
    """Clicking an order number: the detail in a modal."""
    head = (
        [{"type": "section", "text": {"type": "mrkdwn", "text": clip(notice, 3000)}}]
        if notice
        else []
    )
    return {
        "type": "modal",
        "callback_id": DETAIL_CALLBACK,
        "title": plain_text(detail.order.code, 24),
        "close": plain_text("Close", 24),
        "private_metadata": json.dumps({"order": detail.order.number}),
        "blocks": head
        + detail_blocks(
            detail,
            viewer,
            now,
            {"kind": "modal"},
            max_blocks=MAX_VIEW_BLOCKS - len(head),
            max_chars=60_000,
        ),
    }


# -- reason modals --------------------------------------------------------------------------------

_SHORT = {Action.SUBMIT_FOR_APPROVAL: "Submit", Action.REJECT_APPROVAL: "Reject"}
"""Modal titles hold 24 characters: labels short enough to keep the order number whole."""
_SUBMIT = {
    Action.DECLINE: "Reject",
    Action.REJECT: "Reject",
    Action.REJECT_APPROVAL: "Reject",
    Action.CANCEL: "Cancel order",
    Action.SUBMIT_FOR_APPROVAL: "Submit",
}
_EXPLAIN = {
    Action.DECLINE: "The order will be *Canceled*. You may say why (optional).",
    Action.REJECT: "The order will be *Canceled*. You may say why (optional).",
    Action.REJECT_APPROVAL: "The mini program goes back to *In Development*. Say what needs to change; you can attach files.",
    Action.CANCEL: "The order will be *Canceled*. Please say why.",
    Action.SUBMIT_FOR_APPROVAL: "The merchant will be asked to approve the mini program. Add a note and files (a build, screenshots) if useful.",
}


def needs_modal(action: Action) -> bool:
    """True when the action asks for a reason, a note or files before it is taken."""
    t = rule_for_action(action)
    return t.reason is not ReasonRule.NONE or t.files_allowed


def render_reason_modal(order: OrderView, action: Action, metadata: str) -> dict[str, Any]:
    """The pop-up that takes a reason (required or optional), a note, or files."""
    t = rule_for_action(action)
    noun = "note" if action is Action.SUBMIT_FOR_APPROVAL else "reason"
    reason_input: Block = {
        "type": "input",
        "block_id": REASON_BLOCK,
        "optional": t.reason is not ReasonRule.REQUIRED,
        "label": plain_text(
            noun.capitalize() + (" (required)" if t.reason is ReasonRule.REQUIRED else ""), 2000
        ),
        "element": {
            "type": "plain_text_input",
            "action_id": REASON_BLOCK,
            "multiline": True,
            "max_length": 3000,
            "placeholder": plain_text(f"Your {noun}, up to 3,000 characters", 150),
        },
    }
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": clip(
                    f"*{order.code}* · {escape(order.mini_program)} · {escape(order.service_name)}\n{_EXPLAIN[action]}",
                    3000,
                ),
            },
        },
        reason_input,
    ]
    if t.files_allowed:
        blocks.append(
            {
                "type": "input",
                "block_id": FILES_BLOCK,
                "optional": True,
                "label": plain_text("Files", 2000),
                "element": {"type": "file_input", "action_id": FILES_BLOCK, "max_files": 10},
            }
        )
    return {
        "type": "modal",
        "callback_id": ORDER_ACTION_CALLBACK,
        "title": plain_text(clip(f"{_SHORT.get(action, t.label)} {order.code}", 24), 24),
        "submit": plain_text(_SUBMIT[action], 24),
        "close": plain_text("Back", 24),
        "private_metadata": metadata,
        "blocks": blocks,
    }


# -- help and errors ------------------------------------------------------------------------------

USAGE = """*`/orders`* — your service orders, in Slack
• `/orders list [STATUS…]` — your orders, newest first (`pending confirmation`, `under-approval`, `open`, `all`…)
• `/orders search TEXT` — find by number or its start (`123`, `SO-0001`) or by words (`cafe loyalty`)
• `/orders view NUMBER` or `/orders NUMBER` — one order with its timeline
• `/orders message NUMBER TEXT` — write to the other party about an order (also *Message* on its card)
• `/orders services` — the Service Market; `/orders new [SERVICE]` — order a service
• `/orders help` — this help"""


def render_help(
    party_name: str | None,
    party: Party | None,
    counts: Mapping[OrderStatus, int] | None,
    usage: str = USAGE,
) -> Message:
    """Usage, and the caller's party with its count of orders per status."""
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": usage}}]
    if party_name and party and counts is not None:
        summary = " · ".join(f"{status_text(s)} *{n}*" for s, n in counts.items())
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"You act for *{escape(party_name)}* ({party.label}). {summary}",
                    }
                ],
            }
        )
    return Message("/orders: your service orders in Slack", blocks)


def render_error(text: str) -> Message:
    """A short refusal: what was wrong and what would work."""
    return Message(
        text.replace("*", ""),
        [{"type": "section", "text": {"type": "mrkdwn", "text": f":warning: {clip(text, 2900)}"}}],
    )
