"""Block Kit drawn as terminal lines: what a Slack user reads, with every control numbered.

The drawing is pure: a message or view and a few callbacks (names, numbering, the clock) in,
styled lines out. `Screen` prints them, with rich on a terminal and as plain text in transcripts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

JsonDict = dict[str, Any]
Span = tuple[str, str]
"""A piece of text and its rich style ("" for none); plain output ignores the style."""
Line = list[Span]

NUMBER_STYLE = "bold cyan"
DIM = "dim"
ERROR_STYLE = "bold red"

# Slack's emoji names the bot uses, so a terminal shows a picture instead of `:mag:`.
EMOJI = {
    "new": "🆕",
    "hourglass_flowing_sand": "⏳",
    "hammer_and_wrench": "🛠",
    "mag": "🔍",
    "white_check_mark": "✅",
    "x": "❌",
    "warning": "⚠️",
    "alarm_clock": "⏰",
    "zzz": "💤",
    "tada": "🎉",
    "paperclip": "📎",
    "arrow_down": "⬇️",
    "wave": "👋",
    "bell": "🔔",
    "memo": "📝",
    "calendar": "📅",
    "inbox_tray": "📥",
    "package": "📦",
    "rocket": "🚀",
    "no_entry_sign": "🚫",
    "heavy_check_mark": "✔",
    "outbox_tray": "📤",
    "speech_balloon": "💬",
    "wastebasket": "🗑",
}

_TOKEN = re.compile(r"<([^<>\n]+)>")
_HELD = re.compile("\ue000(\\d+)\ue001")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_FORMAT = re.compile(
    r"(?P<code>`[^`\n]+`)"
    r"|(?<![\w*])\*(?P<bold>[^*\n]+?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<italic>[^_\n]+?)_(?![\w_])"
    r"|(?<![\w~])~(?P<strike>[^~\n]+?)~(?![\w~])"
)
_FORMAT_STYLE = {"code": "cyan", "bold": "bold", "italic": "italic", "strike": "strike"}


@dataclass(frozen=True)
class Names:
    """How a reader sees people, channels and times: names, and their own time zone and clock."""

    user: Callable[[str], str]
    channel: Callable[[str], str]
    zone: ZoneInfo
    now: Callable[[], datetime]


@dataclass
class Control:
    """Something numbered a person can press, choose or fill in."""

    number: int
    kind: str
    """button, select, multi_select, overflow, input, or the element's own type."""
    label: str
    block: JsonDict
    element: JsonDict
    context: str = ""
    """The text around it (its row), so `click Confirm on SO-000013` can find it."""
    options: list[tuple[str, str]] = field(default_factory=list)
    """(label, value) of a menu's options."""


@dataclass
class Form:
    """What the person typed into a modal's fields so far, and the errors the app answered."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


Numbering = Callable[[JsonDict, JsonDict], int]


def style_join(*styles: str) -> str:
    """Rich styles combined ("dim" + "bold" = "dim bold")."""
    return " ".join(s for s in styles if s)


def plain(line: Line) -> str:
    """The text of a line without its styles."""
    return "".join(text for text, _ in line)


def emojize(text: str) -> str:
    """`:mag:` → 🔍 for the names we know; others stay as typed."""
    return _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def unescape(text: str) -> str:
    """Slack's three escaped characters back to themselves."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def format_date(epoch: int, template: str, fallback: str, names: Names) -> str:
    """`<!date^…>` as Slack shows it to the reader: in their time zone, "today" when it is."""
    at = datetime.fromtimestamp(epoch, UTC).astimezone(names.zone)
    today = names.now().astimezone(names.zone).date()

    def day(pretty: bool, style: str) -> str:
        if pretty:
            delta = (at.date() - today).days
            relative = {0: "today", -1: "yesterday", 1: "tomorrow"}.get(delta)
            if relative:
                return relative
        if style == "num":
            return at.strftime("%Y-%m-%d")
        if style == "short":
            return f"{at:%b} {at.day}" + ("" if at.year == today.year else f", {at.year}")
        if style == "long":
            return f"{at:%A, %B} {at.day}, {at.year}"
        return f"{at:%B} {at.day}, {at.year}"

    tokens: dict[str, Callable[[], str]] = {
        "date_num": lambda: day(False, "num"),
        "date": lambda: day(False, "date"),
        "date_short": lambda: day(False, "short"),
        "date_long": lambda: day(False, "long"),
        "date_pretty": lambda: day(True, "date"),
        "date_short_pretty": lambda: day(True, "short"),
        "date_long_pretty": lambda: day(True, "long"),
        "time": lambda: at.strftime("%H:%M"),
        "time_secs": lambda: at.strftime("%H:%M:%S"),
        "ago": lambda: _ago(names.now() - at),
    }
    unknown = [t for t in re.findall(r"\{(\w+)\}", template) if t not in tokens]
    if unknown:
        return fallback
    return re.sub(r"\{(\w+)\}", lambda m: tokens[m.group(1)](), template)


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'} ago"
    return "just now"


def resolve_token(inner: str, names: Names) -> str:
    """One `<…>` of mrkdwn as a reader sees it: @ana, #acme-orders, a date, `label (url)`."""
    if inner.startswith("@"):
        user, _, label = inner[1:].partition("|")
        return "@" + (label or names.user(user))
    if inner.startswith("#"):
        channel, _, label = inner[1:].partition("|")
        return "#" + (label or names.channel(channel))
    if inner.startswith("!date^"):
        spec, _, fallback = inner.partition("|")
        parts = spec.split("^")
        try:
            return format_date(int(parts[1]), parts[2], fallback, names)
        except (IndexError, ValueError, OverflowError):
            return fallback
    if inner.startswith("!subteam^"):
        spec, _, label = inner.partition("|")
        return label or "@" + spec.removeprefix("!subteam^")
    if inner.startswith("!"):
        return "@" + inner[1:].partition("|")[0]
    url, _, label = inner.partition("|")
    return f"{label} ({url})" if label and label != url else url


def mrkdwn_lines(text: str, names: Names, base: str = "") -> list[Line]:
    """Slack mrkdwn as styled lines: *bold*, _italic_, ~strike~, `code`, mentions, dates, links."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        # Resolved tokens are kept out of the formatting pass: a URL's underscores are not italics.
        held.append(resolve_token(match.group(1), names))
        return f"\ue000{len(held) - 1}\ue001"

    def finish(piece: str) -> str:
        return unescape(emojize(_HELD.sub(lambda m: held[int(m.group(1))], piece)))

    lines: list[Line] = []
    for raw in _TOKEN.sub(hold, text).split("\n"):
        spans: Line = []
        pos = 0
        for match in _FORMAT.finditer(raw):
            if match.start() > pos:
                spans.append((finish(raw[pos : match.start()]), base))
            kind = match.lastgroup or "code"
            spans.append((finish(match.group(kind)), style_join(base, _FORMAT_STYLE[kind])))
            pos = match.end()
        if pos < len(raw):
            spans.append((finish(raw[pos:]), base))
        lines.append(spans)
    return lines


def text_lines(obj: Any, names: Names, base: str = "") -> list[Line]:
    """A text object (mrkdwn or plain_text) as lines."""
    if isinstance(obj, str):
        return [[(emojize(part), base)] for part in obj.split("\n")]
    if not isinstance(obj, Mapping):
        return []
    text = str(obj.get("text") or "")
    if obj.get("type") == "mrkdwn":
        return mrkdwn_lines(text, names, base)
    return [[(emojize(part), base)] for part in text.split("\n")]


def text_of(obj: Any, names: Names) -> str:
    """A text object as one plain string."""
    return "\n".join(plain(line) for line in text_lines(obj, names))


def options_of(element: Mapping[str, Any], names: Names) -> list[tuple[str, str]]:
    """(label, value) of a menu's options, groups flattened."""
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found.extend(group.get("options") or [])
    return [(text_of(o.get("text"), names), str(o.get("value", ""))) for o in found]


_SELECTS = {"static_select", "external_select", "radio_buttons"}
_MULTI = {"multi_static_select", "multi_external_select", "checkboxes"}
_PICKERS = {
    "users_select": "a person",
    "multi_users_select": "people",
    "conversations_select": "a conversation",
    "multi_conversations_select": "conversations",
    "channels_select": "a channel",
    "multi_channels_select": "channels",
    "datepicker": "a date (YYYY-MM-DD)",
    "timepicker": "a time (HH:MM)",
    "datetimepicker": "a date and time (epoch seconds)",
}


def control_kind(element: Mapping[str, Any]) -> str:
    """How a person uses an element: button, select, multi_select, overflow, or its type."""
    kind = str(element.get("type", ""))
    if kind in ("button", "workflow_button"):
        return "button"
    if kind in _SELECTS:
        return "select"
    if kind in _MULTI:
        return "multi_select"
    return kind


def initial_value(element: Mapping[str, Any]) -> Any:
    """What a field holds before anyone types: its initial value or option(s), in input form."""
    kind = str(element.get("type", ""))
    if kind in _SELECTS:
        option = element.get("initial_option")
        return str(option.get("value")) if isinstance(option, Mapping) else None
    if kind in _MULTI:
        return [str(o.get("value")) for o in element.get("initial_options") or []]
    for key in (
        "initial_value",
        "initial_user",
        "initial_users",
        "initial_conversation",
        "initial_conversations",
        "initial_channel",
        "initial_channels",
        "initial_date",
        "initial_time",
        "initial_date_time",
    ):
        if key in element:
            return element[key]
    return None


class SurfaceRenderer:
    """Draws one message or view; numbers its controls through `number`."""

    def __init__(self, names: Names, number: Numbering, form: Form | None = None) -> None:
        self.names = names
        self.number = number
        self.form = form
        self.controls: list[Control] = []
        self._segment: list[str] = []

    # -- surfaces ---------------------------------------------------------------------------

    def message(self, message: Mapping[str, Any]) -> list[Line]:
        """A message: its blocks (or its text when it has none), attachments and files."""
        blocks = list(message.get("blocks") or [])
        lines = (
            self.blocks(blocks)
            if blocks
            else text_lines({"type": "mrkdwn", "text": str(message.get("text") or "")}, self.names)
        )
        for attachment in message.get("attachments") or []:
            inner = list(attachment.get("blocks") or [])
            if inner:
                lines += self.blocks(inner)
            elif attachment.get("text") or attachment.get("fallback"):
                text = str(attachment.get("text") or attachment.get("fallback"))
                lines += mrkdwn_lines(text, self.names)
        for file in message.get("files") or []:
            lines.append([(f"📎 {file.get('name') or file.get('title') or 'file'}", "")])
        return lines

    def blocks(self, blocks: Sequence[Mapping[str, Any]]) -> list[Line]:
        """Every block, in order."""
        lines: list[Line] = []
        for block in blocks:
            lines += self.block(block)
        return lines

    # -- blocks -----------------------------------------------------------------------------

    def block(self, block: Mapping[str, Any]) -> list[Line]:
        """One block as lines (images and unknown blocks draw nothing)."""
        kind = block.get("type")
        if kind == "header":
            lines = text_lines(block.get("text"), self.names, "bold underline")
            self._note(lines)
            return lines
        if kind == "section":
            return self._section(block)
        if kind == "context":
            spans: Line = []
            for element in block.get("elements") or []:
                if element.get("type") in ("mrkdwn", "plain_text"):
                    if spans:
                        spans.append(("  ", DIM))
                    parts = text_lines(element, self.names, DIM)
                    for i, part in enumerate(parts):
                        spans += ([(" ", DIM)] if i else []) + part
            self._note([spans])
            return [spans] if spans else []
        if kind == "divider":
            self._segment = []
            return [[("─" * 40, DIM)]]
        if kind == "actions":
            lines = self._controls_line(block, list(block.get("elements") or []))
            self._segment = []
            return lines
        if kind == "input":
            return self._input(block)
        if kind == "rich_text":
            lines = [[(self._rich_text(block), "")]]
            self._note(lines)
            return lines
        if kind == "file":
            return [[("📎 a file", DIM)]]
        if kind == "video":
            return [[(f"▶ {text_of(block.get('title'), self.names)}", "")]]
        return []

    def _note(self, lines: list[Line]) -> None:
        self._segment.append(" ".join(plain(line) for line in lines))

    def _section(self, block: Mapping[str, Any]) -> list[Line]:
        lines: list[Line] = []
        if block.get("text"):
            lines += text_lines(block.get("text"), self.names)
        for f in block.get("fields") or []:
            parts = text_lines(f, self.names)
            if not parts:
                continue
            head, rest = parts[0], [p for p in parts[1:] if plain(p).strip()]
            line: Line = [("  ", ""), *head]
            if rest:
                line.append((": ", ""))
                for i, part in enumerate(rest):
                    line += ([(", ", "")] if i else []) + part
            lines.append(line)
        self._note(lines)
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and accessory.get("type") != "image":
            controls = self._controls_line(block, [accessory])
            if lines and controls:
                lines[0] = [*lines[0], ("  ", ""), *controls[0]]
                lines += controls[1:]
            else:
                lines += controls
        return lines

    def _rich_text(self, block: Mapping[str, Any]) -> str:
        out: list[str] = []

        def walk(item: Any) -> None:
            if isinstance(item, list):
                for x in item:
                    walk(x)
            elif isinstance(item, Mapping):
                kind = item.get("type")
                if kind == "text":
                    out.append(str(item.get("text", "")))
                elif kind == "link":
                    out.append(str(item.get("text") or item.get("url", "")))
                elif kind == "user":
                    out.append("@" + self.names.user(str(item.get("user_id", ""))))
                elif kind == "channel":
                    out.append("#" + self.names.channel(str(item.get("channel_id", ""))))
                elif kind == "emoji":
                    out.append(EMOJI.get(str(item.get("name")), f":{item.get('name')}:"))
                walk(item.get("elements"))

        walk(block.get("elements"))
        return "".join(out)

    # -- controls ---------------------------------------------------------------------------

    def _control(self, block: Mapping[str, Any], element: Mapping[str, Any]) -> Control:
        kind = "input" if block.get("type") == "input" else control_kind(element)
        if kind == "button":
            label = text_of(element.get("text"), self.names)
        elif kind == "overflow":
            label = "⋯"
        elif kind == "input":
            label = text_of(block.get("label"), self.names)
        else:
            label = text_of(element.get("placeholder"), self.names) or kind.replace("_", " ")
        control = Control(
            number=self.number(dict(block), dict(element)),
            kind=kind,
            label=label,
            block=dict(block),
            element=dict(element),
            context=" ".join(self._segment),
            options=options_of(element, self.names),
        )
        self.controls.append(control)
        return control

    def _controls_line(
        self, block: Mapping[str, Any], elements: Sequence[Mapping[str, Any]]
    ) -> list[Line]:
        line: Line = []
        menus: list[Line] = []
        for element in elements:
            if element.get("type") == "image":
                continue
            control = self._control(block, element)
            if line:
                line.append(("   ", ""))
            line.append((f"[{control.number}]", NUMBER_STYLE))
            style = {"primary": "bold green", "danger": "bold red"}.get(
                str(element.get("style", "")), "bold"
            )
            if control.kind == "button":
                line.append((" " + control.label, style))
                if element.get("url"):
                    line.append((f" ↗ {element['url']}", DIM))
            elif control.kind in ("select", "multi_select", "overflow"):
                chosen = self._chosen_labels(control, initial_value(element))
                line.append((f" {control.label} ▾", "bold"))
                if chosen:
                    line.append((f" {', '.join(chosen)}", ""))
                menus.append(self._options_line(control))
            else:
                line.append((f" {control.label} ({_PICKERS.get(control.kind, 'input')})", "bold"))
        return ([line] if line else []) + menus

    def _options_line(self, control: Control) -> Line:
        if not control.options and str(control.element.get("type")).endswith("external_select"):
            # Its options come from the app as you type: `N = TEXT` or `select N TEXT`.
            return [("      options: what the app finds for what you type", DIM)]
        spans: Line = [("      options: ", DIM)]
        for i, (label, _) in enumerate(control.options, start=1):
            if i > 1:
                spans.append(("  ", DIM))
            spans += [(f"{i})", NUMBER_STYLE), (f" {label}", "")]
        return spans

    def _chosen_labels(self, control: Control, value: Any) -> list[str]:
        values = value if isinstance(value, list) else ([] if value is None else [value])
        by_value = {v: label for label, v in control.options}
        return [
            text_of(v.get("text"), self.names) or str(v.get("value"))
            if isinstance(v, Mapping)  # an option the app offered while typing
            else by_value.get(str(v), str(v))
            for v in values
        ]

    def _input(self, block: Mapping[str, Any]) -> list[Line]:
        element = block.get("element")
        label_lines = text_lines(block.get("label"), self.names)
        self._note(label_lines)
        if not isinstance(element, Mapping):
            return label_lines
        control = self._control(block, element)
        block_id = str(block.get("block_id", ""))
        form = self.form or Form()
        value = form.values[block_id] if block_id in form.values else initial_value(element)
        kind = str(element.get("type", ""))
        head: Line = [(f"[{control.number}]", NUMBER_STYLE), (f" {control.label}", "bold")]
        if block.get("optional"):
            head.append((" (optional)", DIM))
        head.append((": ", ""))
        shown = self._field_value(kind, element, value, control)
        head += shown
        lines: list[Line] = [head]
        if kind in _SELECTS or kind in _MULTI:
            lines.append(self._options_line(control))
        if block.get("hint"):
            lines += [
                [("      ", ""), *line] for line in text_lines(block["hint"], self.names, DIM)
            ]
        if block_id in form.errors:
            lines.append([("      ⚠ " + form.errors[block_id], ERROR_STYLE)])
        return lines

    def _field_value(
        self, kind: str, element: Mapping[str, Any], value: Any, control: Control
    ) -> Line:
        empty = value is None or value == "" or value == []
        if empty:
            hint = text_of(element.get("placeholder"), self.names)
            if kind == "file_input":
                hint = "file names, with commas"
            elif kind in _MULTI:
                hint = hint or "choose one or more"
            elif kind in _SELECTS:
                hint = hint or "choose one"
            elif kind in _PICKERS:
                hint = _PICKERS[kind]
            return [("_", DIM)] + ([(f"  (e.g. {hint})", DIM)] if hint else [])
        if kind in _SELECTS or kind in _MULTI:
            return [(", ".join(self._chosen_labels(control, value)), "")]
        if kind == "file_input":
            names = [v if isinstance(v, str) else str(v.get("name", "file")) for v in value]
            return [("📎 " + ", ".join(names), "")]
        if isinstance(value, list):
            return [(", ".join(self._person_or_channel(str(v)) for v in value), "")]
        text = str(value)
        if kind in ("users_select", "conversations_select", "channels_select"):
            text = self._person_or_channel(text)
        return [(text.replace("\n", " ⏎ "), "")]

    def _person_or_channel(self, ident: str) -> str:
        if ident[:1] in ("U", "W"):
            return "@" + self.names.user(ident)
        if ident[:1] in ("C", "G", "D"):
            return "#" + self.names.channel(ident)
        return ident


# -- the terminal ---------------------------------------------------------------------------------------


class Screen:
    """Where the console writes: rich on a terminal, plain text otherwise; remembers the last output."""

    def __init__(self, out: TextIO, *, styled: bool | None = None) -> None:
        self.out = out
        self.styled = out.isatty() if styled is None else styled
        self.rich: Any = None
        if self.styled:
            from rich.console import Console

            self.rich = Console(file=out, force_terminal=True, highlight=False, emoji=False)
        self.last_output = ""
        self._captured: list[str] = []

    def begin(self) -> None:
        """A new command: what `expect` checks starts here."""
        self._captured = []

    def end(self) -> None:
        """The command is done."""
        self.last_output = "\n".join(self._captured)
        self.out.flush()

    def line(self, spans: Line, *, capture: bool = True) -> None:
        """Print one styled line."""
        if capture:
            self._captured.append(plain(spans))
        if self.rich is not None:
            from rich.text import Text

            self.rich.print(Text.assemble(*spans), soft_wrap=True)
        else:
            self.out.write(plain(spans) + "\n")

    def text(self, text: str, style: str = "", *, capture: bool = True) -> None:
        """Print text, one line per line."""
        for part in text.split("\n"):
            self.line([(part, style)], capture=capture)

    def surface(
        self, title: str, lines: Sequence[Line], *, border: str = "blue", indent: int = 0
    ) -> None:
        """A message, modal or Home tab: a titled box (`indent`ed: a reply under its parent)."""
        self._captured.append(title)
        self._captured += [plain(line) for line in lines]
        if self.rich is not None:
            from rich.padding import Padding
            from rich.panel import Panel
            from rich.text import Text

            body = Text("\n").join(Text.assemble(*line) for line in lines) if lines else Text("")
            panel = Panel(body, title=title, title_align="left", border_style=border, expand=False)
            self.rich.print(Padding(panel, (0, 0, 0, indent)) if indent else panel)
            return
        margin = " " * indent
        self.out.write(f"{margin}┌─ {title}\n")
        for line in lines:
            self.out.write(f"{margin}│ {plain(line)}\n")
        self.out.write(f"{margin}└─\n")

    def echo(self, prompt: str, command: str) -> None:
        """A scripted command, shown as if typed."""
        self.line([(prompt, "bold magenta"), (command, "bold")], capture=False)
