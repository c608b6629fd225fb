"""`orders-bot console`: the whole bot in a terminal, without a Slack workspace.

The real app runs in-process in HTTP mode, with a local Slack Web API (`bot.console.localslack`) as its
Slack and a SQLite database. Everything the person types reaches the app exactly as Slack would
send it — signed HTTP requests to `/slack/events` — and what the app posts, updates and opens in
that local Slack is drawn in the terminal: messages, ephemerals, direct messages, modals, the Home
tab, each control numbered so it can be clicked. `wait 25h` moves the bot's clock through the
reminder slots on the way, running each at its own time, as the scheduler would.

Scripted mode (`--script FILE`, or commands on a standard input that is not a terminal) prints a
transcript and exits 1 if a step failed; `expect TEXT` makes a step check what was shown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr

from bot.app import Runtime, build_runtime
from bot.clock import MovableClock
from bot.console.http import LocalServer
from bot.console.localslack import (
    AppResponse,
    LocalSlack,
    SlackSender,
    Workspace,
    action_item,
    state_values,
)
from bot.console.render import (
    DIM,
    ERROR_STYLE,
    NUMBER_STYLE,
    Control,
    Form,
    JsonDict,
    Line,
    Names,
    Screen,
    SurfaceRenderer,
    initial_value,
    plain,
    text_of,
)
from bot.listeners.common import COMMAND
from bot.settings import Settings, SettingsError, load_settings
from bot.ui.shortcuts import ATTACH_SHORTCUT, NEW_ORDER_SHORTCUT
from bot.wsgi import OrdersApp
from orders_core.db import Database, SchemaNotCurrent
from orders_core.fixtures import demo_fixture_path, load_fixture, parse_age
from orders_core.lifecycle import Party
from orders_core.names import search_key
from orders_core.onboarding import list_parties, list_workspaces
from orders_core.orders import parse_order_number
from orders_core.reminders import get_policies

WALKTHROUGH = "demo.txt"
BOT_TOKEN = "xoxb-console"
MAX_SHOWN = 15
"""Messages drawn after one command at most; `channel NAME` shows a channel's last ones."""
CHANNEL_PAGE = 20

# The demo workspace's people and channels, as its fixture names them by id.
DEMO_PEOPLE = {
    "U0ANA": ("ana", "Ana Lim"),
    "U0BEN": ("ben", "Ben Tan"),
    "U0PIA": ("pia", "Pia Reyes"),
    "U0RAJ": ("raj", "Raj Kumar"),
}
DEMO_CHANNELS = {"C0ACME": "acme-orders", "C0PIXEL": "blue-pixel", "C0NIMBUS": "nimbus-apps"}

HELP = """\
Act as a Slack user would; what the bot shows you is drawn below each command.
  /orders TEXT              a slash command: /orders list under approval, /orders services, /orders help
  click N                   press button [N]; or click LABEL (the newest one), click LABEL on TEXT
                            (the one whose row mentions TEXT): click Confirm on SO-000013
                            a button with a confirmation asks first: answer yes or no (click N --yes skips it)
  select N OPTION           choose in menu [N] by the option's number, label or value; a menu that
                            searches as you type (Order) asks the app: select 5 SO-000013, Order = kids club
  FIELD = VALUE             in a modal: fill field [N], or by its label (Contact = ana@acme.test);
                            several choices or files with commas; "" quotes spaces; \\n is a new line
  submit | cancel           send the modal, or close it (also: close, back)
  write TEXT                write TEXT in the channel as yourself: write Can we ship SO-000013 today?
  reply TEXT                write TEXT in the thread of the bot's newest message here (a card's thread)
  shortcut new              the New service order shortcut (from anywhere)
  shortcut add [TEXT]       Add to an order… on the newest message a person wrote here (with TEXT in it)
  as USER                   act as another member: as pia, as U0BEN
  channel NAME              read a channel (channel blue-pixel; channel dm: your messages from the bot)
  home                      open the bot's Home tab
  wait DURATION | wait next move the clock (90m, 25h, 2d) or to just after the next reminder time;
                            the reminders and escalations due on the way happen, each at its time
  expect TEXT | expect-not TEXT   (scripts) fail unless the last command showed TEXT (or did not)
  say TEXT                  (scripts) print a line of narration
  demo                      play the built-in walkthrough (on a fresh `console --demo`)
  help | quit"""


class ConsoleError(Exception):
    """A step that cannot be done, with what to type instead."""


# -- the bot and its local Slack ------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A member of the workspace the console can act as."""

    id: str
    name: str
    real_name: str
    party: str | None = None
    kind: Party | None = None
    channel: str | None = None

    def describe(self) -> str:
        """Ana Lim (@ana), Acme Coffee (merchant)."""
        who = f"{self.real_name} (@{self.name})"
        if self.party and self.kind:
            return f"{who}, {self.party} ({self.kind.label.lower()})"
        return f"{who}, not a member of any merchant or provider"


@dataclass
class WorkspaceInfo:
    """What the database says about the one workspace: its people and channels."""

    team_id: str
    name: str
    zone: ZoneInfo
    people: list[Person]
    channels: dict[str, str]
    orders: int = 0


@dataclass
class LocalBot:
    """The app in HTTP mode on a free port, the local Slack it talks to, and the sender that
    plays Slack towards it."""

    slack: LocalSlack
    runtime: Runtime
    server: LocalServer
    sender: SlackSender
    clock: MovableClock
    info: WorkspaceInfo
    database: str
    tempdir: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        """Stop serving, let the listeners and the outbox finish, stop Slack, remove the files."""
        self.server.close()
        self.runtime.stop()
        self.slack.stop()
        if self.tempdir is not None:
            self.tempdir.cleanup()


def open_database(demo: bool, clock: MovableClock) -> tuple[Database, str, Any]:
    """The demo's fresh temporary database, seeded; or the configured one, which must be migrated."""
    if demo:
        tempdir = tempfile.TemporaryDirectory(prefix="orders-console-")
        db = Database(f"sqlite:///{tempdir.name}/demo.db")
        db.upgrade()
        with db.transaction() as s:
            load_fixture(s, demo_fixture_path(), now=clock.now())
        return db, "a fresh demo database (every status, seeded through the real actions)", tempdir
    try:
        url = load_settings().database_url
    except SettingsError as exc:
        raise ConsoleError(str(exc)) from None
    db = Database(url)
    if not db.is_sqlite:
        # A production database has a real bot's notifications queued: the console's worker would
        # deliver them to its local Slack instead, and its clicks would change real orders.
        db.dispose()
        raise ConsoleError(
            "the console runs on a SQLite file, not on a shared database: unset DATABASE_URL "
            "(or point it at a copy in SQLite), or use --demo."
        )
    try:
        db.check_schema()  # migrating is `orders-bot db upgrade`'s job, as for the bot itself
    except SchemaNotCurrent:
        db.dispose()
        raise
    return db, db.engine.url.render_as_string(hide_password=True), None


def read_workspace(db: Database) -> WorkspaceInfo:
    """The only workspace in the database, with its members and parties' channels."""
    from sqlalchemy import func, select

    from orders_core.models import Order

    with db.read() as s:
        workspaces = list_workspaces(s)
        if not workspaces:
            raise ConsoleError(
                "the database has no workspace yet: try `orders-bot console --demo`, "
                "or load one with `orders-bot seed --demo`."
            )
        if len(workspaces) > 1:
            raise ConsoleError(
                "the database has several workspaces and the console plays one: "
                + ", ".join(w.team_id for w in workspaces)
                + ". Point DATABASE_URL at a database with one, or use --demo."
            )
        w = workspaces[0]
        parties = list_parties(s, w.id)
        orders = s.scalar(select(func.count()).select_from(Order)) or 0
    try:
        zone = ZoneInfo(w.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    people: list[Person] = []
    channels: dict[str, str] = {}
    # Merchants first, so the default person is the first merchant member.
    for party in sorted(parties, key=lambda p: p.kind is not Party.MERCHANT):
        if party.channel_id:
            channels[party.channel_id] = DEMO_CHANNELS.get(
                party.channel_id, re.sub(r"[^a-z0-9]+", "-", party.name.lower()).strip("-")
            )
        for user in party.members:
            if any(p.id == user for p in people):
                continue
            name, real = DEMO_PEOPLE.get(user, (user.lower(), user))
            people.append(Person(user, name, real, party.name, party.kind, party.channel_id))
    return WorkspaceInfo(w.team_id, w.name, zone, people, channels, orders)


def start_bot(demo: bool, start: datetime | None = None) -> LocalBot:
    """Compose the app as `orders-bot run --http` does, with a local Slack as its Slack (its
    clock stopped at `start` when given: tests)."""
    clock = MovableClock(start)
    db, database, tempdir = open_database(demo, clock)
    try:
        info = read_workspace(db)
    except ConsoleError:
        db.dispose()
        if tempdir is not None:
            tempdir.cleanup()
        raise
    workspace = Workspace(team_id=info.team_id, team_name=info.name, team_domain="demo")
    slack = LocalSlack(
        workspaces={BOT_TOKEN: workspace},
        default_workspace=workspace,
        rate_clock=lambda: clock.now().timestamp(),  # `wait 4h` moves Slack's minute too
    ).start()
    for person in info.people:
        slack.set_user(
            person.id,
            name=person.name,
            real_name=person.real_name,
            tz=str(info.zone),
            team_id=info.team_id,
        )
    for channel, name in info.channels.items():
        slack.add_channel(channel, name, team_id=info.team_id)
    secret = secrets.token_hex(16)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=db.url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(secret),
        slack_api_url=slack.base_url,
    )
    # No APScheduler: `wait` replays the time it skips, running each reminder slot at its own
    # moment on the moved clock (Reminders.replay).
    runtime = build_runtime(settings, clock=clock, db=db, migrate=False)
    server = LocalServer(OrdersApp(runtime)).start()
    runtime.start()
    sender = SlackSender(server.url, secret, local_slack=slack)
    return LocalBot(slack, runtime, server, sender, clock, info, database, tempdir)


# -- what each person sees --------------------------------------------------------------------------


@dataclass(frozen=True)
class SurfaceKey:
    """A message (channel or ephemeral), a modal or a Home tab."""

    kind: str
    channel: str
    id: str


@dataclass
class Target:
    """A numbered control as it was drawn for one person."""

    control: Control
    user: str
    surface: SurfaceKey
    batch: int
    surface_text: str
    live: bool = True


@dataclass
class Pending:
    """A confirmation dialog waiting for yes or no."""

    target: Target
    confirm_label: str


@dataclass
class Seat:
    """One person's screen: where they are, what they have seen, their open forms and dialog."""

    channel: str
    location: str = "channel"
    seen: dict[SurfaceKey, str] = field(default_factory=dict)
    noticed: dict[SurfaceKey, str] = field(default_factory=dict)
    view_shown: tuple[str, str] | None = None
    home_shown: str | None = None
    forms: dict[str, Form] = field(default_factory=dict)
    form_hash: dict[str, str] = field(default_factory=dict)
    pending: Pending | None = None


class AppLog(logging.Handler):
    """Collects what the app logs at WARNING and above, to show it and to fail the step on errors."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._lock2 = threading.Lock()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        with self._lock2:
            self.records.append(record)

    def take(self) -> list[logging.LogRecord]:
        """The records since the last call."""
        with self._lock2:
            taken, self.records = self.records, []
        return taken


def fingerprint(surface: JsonDict) -> str:
    """What a person would notice changing in a message or view."""
    return json.dumps(
        [surface.get("text"), surface.get("blocks"), surface.get("attachments")],
        sort_keys=True,
        default=str,
    )


def ts_key(ts: str) -> tuple[int, int]:
    """Slack timestamps in order."""
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int(micros or 0)


def thread_order(message: JsonDict) -> tuple[tuple[int, int], tuple[int, int]]:
    """Messages in order, each thread's replies right after its parent."""
    ts = str(message.get("ts") or "")
    return ts_key(str(message.get("thread_ts") or ts)), ts_key(ts)


def in_thread(message: JsonDict) -> bool:
    """A reply in a thread (not the thread's parent)."""
    return message.get("thread_ts") not in (None, message.get("ts"))


def written_by_person(message: JsonDict) -> bool:
    """A message a person wrote, not one the bot (or another app) posted."""
    return (
        bool(message.get("user"))
        and not message.get("bot_id")
        and message.get("subtype") in (None, "file_share", "thread_broadcast")
    )


def normalize(text: str) -> str:
    """Whitespace collapsed and case folded, for `expect`."""
    return " ".join(text.split()).casefold()


def identity(block: JsonDict, element: JsonDict) -> tuple[str, str, str]:
    """A control, as the same one across redraws of its surface."""
    value = element.get("value") if element.get("type") in ("button", "workflow_button") else ""
    return str(block.get("block_id", "")), str(element.get("action_id", "")), str(value or "")


def locate(blocks: Sequence[JsonDict], wanted: tuple[str, str, str]) -> tuple[JsonDict, JsonDict]:
    """The (block, element) drawn with this identity now; ConsoleError when it is gone."""
    for block in blocks:
        elements: list[JsonDict] = (
            list(block.get("elements") or []) if block.get("type") == "actions" else []
        )
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        if isinstance(block.get("element"), dict):
            elements.append(block["element"])
        for element in elements:
            if identity(block, element) == wanted:
                return block, element
    raise ConsoleError("that control is no longer there: the message or view was redrawn.")


def match_option(options: Sequence[tuple[str, str]], text: str) -> str:
    """An option's value, chosen by its value, its label (or a unique start of it), or its number."""
    wanted = text.strip().casefold()
    for label, value in options:
        if wanted in (value.casefold(), label.casefold()):
            return value
    if wanted.isdigit() and 1 <= int(wanted) <= len(options):
        return options[int(wanted) - 1][1]
    for test in (str.startswith, str.__contains__):
        found = [value for label, value in options if test(label.casefold(), wanted)]
        if len(found) == 1:
            return found[0]
    shown = ", ".join(label for label, _ in options) or "none"
    raise ConsoleError(f"no option {text.strip()!r}: the options are {shown}.")


def pick_suggestion(offered: Sequence[tuple[str, str]], typed: str) -> int | None:
    """Which option the app offered for what was typed a person means: the first whose value or
    label is it, whose value is the order number typed (13, SO-000013), or whose label has
    every word typed (in any case, with or without accents); None when none does."""
    wanted = typed.strip()
    for i, (label, value) in enumerate(offered):
        if wanted.casefold() in (value.casefold(), label.casefold()):
            return i
    number = parse_order_number(wanted)
    if number is not None:
        for i, (_, value) in enumerate(offered):
            if value == str(number):
                return i
    words = search_key(wanted).split()
    for i, (label, _) in enumerate(offered):
        if words and all(word in search_key(label) for word in words):
            return i
    return None


def unquote(text: str) -> str:
    """A typed value: surrounding double quotes kept what is inside, spaces included; \\n a new line."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return text.replace("\\n", "\n")


def clock_text(at: datetime, zone: ZoneInfo) -> str:
    """Tue 1 Dec 09:31 (Asia/Singapore)."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} ({zone.key})"


def moment_text(at: datetime, zone: ZoneInfo) -> str:
    """Tue 1 Dec 09:30: when something happened during a `wait`."""
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def span_text(delta: timedelta) -> str:
    """25 h, 2 days 3 h, 45 min."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    return " ".join(parts) or "less than a minute"


# -- the session ------------------------------------------------------------------------------------


class ConsoleSession:
    """One person at a time, acting through the local Slack; every step is a signed request."""

    def __init__(self, bot: LocalBot, screen: Screen, as_user: str | None = None) -> None:
        self.bot = bot
        self.slack = bot.slack
        self.sender = bot.sender
        self.team = bot.info.team_id
        self.screen = screen
        self.people = {p.id: p for p in bot.info.people}
        self.channels = dict(bot.info.channels)
        self.seats: dict[str, Seat] = {}
        self.targets: dict[int, Target] = {}
        self._numbers: dict[tuple[str, SurfaceKey, tuple[str, str, str]], int] = {}
        self.batch = 0
        self.last_response: AppResponse | None = None
        self.names = Names(
            user=lambda u: self.slack.user(u).name,
            channel=self.channel_name,
            zone=bot.info.zone,
            now=bot.clock.now,
        )
        self._playing = False
        self.pause: Callable[[], bool] | None = None
        """Asked between the walkthrough's chapters when a person is watching."""
        first = as_user or (bot.info.people[0].id if bot.info.people else None)
        if first is None:
            raise ConsoleError(
                "the workspace has no members yet: add some with `orders-bot member add`."
            )
        self.user = self.person(first).id
        self.log = AppLog()
        logging.getLogger().addHandler(self.log)

    def close(self) -> None:
        """Stop listening to the app's log."""
        logging.getLogger().removeHandler(self.log)

    # -- people and places ------------------------------------------------------------------

    def person(self, text: str) -> Person:
        """A member by id, name or real name; a user id nobody onboarded is a stranger."""
        wanted = text.strip().lstrip("@").casefold()
        for p in self.people.values():
            if wanted in (p.id.casefold(), p.name.casefold(), p.real_name.casefold()):
                return p
        found = [p for p in self.people.values() if p.real_name.casefold().startswith(wanted)]
        if len(found) == 1:
            return found[0]
        if re.fullmatch(r"[UW][A-Z0-9]{2,}", text.strip()):
            stranger = Person(text.strip(), text.strip().lower(), text.strip())
            self.people[stranger.id] = stranger
            self.slack.set_user(stranger.id, name=stranger.name, tz=str(self.names.zone))
            return stranger
        known = ", ".join(p.name for p in self.people.values())
        raise ConsoleError(f"nobody is called {text.strip()!r}: try {known}, or a user id.")

    def channel_name(self, channel: str) -> str:
        """acme-orders for C0ACME; a direct message for D…."""
        if channel in self.channels:
            return self.channels[channel]
        if channel.startswith("D"):
            return "dm"
        return self.slack.channel_name(channel)

    @property
    def seat(self) -> Seat:
        """The current person's screen."""
        seat = self.seats.get(self.user)
        if seat is None:
            me = self.people.get(self.user)
            channel = (me.channel if me else None) or next(iter(self.channels), "C0GENERAL")
            seat = self.seats[self.user] = Seat(channel)
        return seat

    def where(self) -> str:
        """#acme-orders, dm or home."""
        seat = self.seat
        if seat.location == "home":
            return "home"
        if seat.channel == self.slack.dm_channel(self.user):
            return "dm"
        return "#" + self.channel_name(seat.channel)

    def prompt(self) -> str:
        """ana@#acme-orders [Order a service]> ."""
        name = self.people[self.user].name if self.user in self.people else self.user
        extra = ""
        if self.seat.pending is not None:
            extra = f" [{self.seat.pending.confirm_label}? yes/no]"
        else:
            top = self.top_view()
            if top is not None:
                extra = f" [{(top.get('title') or {}).get('text', 'modal')}]"
        return f"{name}@{self.where()}{extra}> "

    def top_view(self) -> JsonDict | None:
        """The modal on top of the current person's screen."""
        views = self.slack.open_views(self.user)
        return views[-1] if views else None

    # -- running lines ----------------------------------------------------------------------

    def banner(self) -> None:
        """Who and where, and how to start."""
        info = self.bot.info
        self.screen.text(
            "orders-bot console — the real bot in HTTP mode, with a local Slack: nothing leaves this machine.",
            "bold",
        )
        self.screen.text(
            f"Workspace {info.name} ({info.team_id}); database: {self.bot.database}; "
            f"{info.orders} orders; clock {clock_text(self.bot.clock.now(), info.zone)}.",
            DIM,
        )
        parties: dict[str, list[str]] = {}
        for p in info.people:
            if p.party and p.kind:
                parties.setdefault(f"{p.party} ({p.kind.label.lower()})", []).append(p.name)
        self.screen.text(
            "People: " + " · ".join(f"{', '.join(n)} — {party}" for party, n in parties.items()),
            DIM,
        )
        self.screen.text(
            f"You are {self.people[self.user].describe()}, in {self.where()}. "
            "Type `demo` to watch the walkthrough, `help` for the commands, "
            "or try `/orders services`.",
        )

    def run(self, line: str) -> bool:
        """Do one line; True when it succeeded. Never raises for a mistake in the line."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        quiet = text.split(" ", 1)[0].lower() in ("expect", "expect-not", "say")
        if not quiet:
            self.screen.begin()
            self.batch += 1
        try:
            ok = self._dispatch(text)
        except ConsoleError as exc:
            self.screen.text(f"✗ {exc}", ERROR_STYLE)
            ok = False
        except Exception as exc:  # a bug here or in the app must not end the session
            self.screen.text(f"✗ {exc.__class__.__name__}: {exc}", ERROR_STYLE)
            ok = False
        ok = self._app_log() and ok
        if not quiet:
            self.screen.end()
        return ok

    def run_script(
        self,
        lines: Iterable[str],
        *,
        echo: bool = True,
        pause: Callable[[], bool] | None = None,
    ) -> bool:
        """Run every line (a failed step does not stop the others); True when all succeeded.

        `pause` is asked before each narrated chapter but the first; False stops the script.
        """
        failed: list[int] = []
        steps = 0
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if pause is not None and steps and text.lower().startswith("say ") and not pause():
                self.screen.text("(stopped)", DIM, capture=False)
                return not failed
            steps += 1
            if echo and not text.lower().startswith("say "):
                self.screen.echo(self.prompt(), text)
            if text.lower() in ("quit", "exit"):
                break
            if not self.run(text):
                failed.append(number)
        if failed:
            self.screen.text(
                f"✗ {len(failed)} of {steps} steps failed (lines {', '.join(map(str, failed))}).",
                ERROR_STYLE,
                capture=False,
            )
        else:
            self.screen.text(f"✓ all {steps} steps succeeded.", "bold green", capture=False)
        return not failed

    def interact(self, read: Callable[[str], str] = input) -> None:
        """The prompt loop: until quit or end of input."""

        def next_chapter() -> bool:
            try:
                return read("  (Enter: go on · q: stop) ").strip().lower() not in ("q", "quit")
            except (EOFError, KeyboardInterrupt):
                return False

        self.pause = next_chapter
        while True:
            try:
                line = read(self.prompt())
            except EOFError:
                self.screen.text("")
                return
            except KeyboardInterrupt:
                self.screen.text("")
                return
            if line.strip().lower() in ("quit", "exit"):
                return
            try:
                self.run(line)
            except KeyboardInterrupt:
                self.screen.text("(interrupted)", DIM)

    def _app_log(self) -> bool:
        ok = True
        for record in self.log.take():
            failed = record.levelno >= logging.ERROR
            ok = ok and not failed
            message = record.getMessage().split("\n", 1)[0]
            if record.exc_info and record.exc_info[1] is not None:
                message += f": {record.exc_info[1].__class__.__name__}: {record.exc_info[1]}"
            self.screen.text(
                f"{'✗' if failed else '!'} the app logged {record.levelname} ({record.name}): {message}",
                ERROR_STYLE if failed else "yellow",
            )
        return ok

    def _dispatch(self, text: str) -> bool:
        seat = self.seat
        if seat.pending is not None:
            answer = text.lower()
            pending, seat.pending = seat.pending, None
            if answer in ("yes", "y", "confirm", "ok"):
                return self._press(pending.target)
            if answer in ("no", "n", "cancel", "not now"):
                self.screen.text("Not now: nothing was sent.", DIM)
                return True
            self.screen.text("(the confirmation was dismissed)", DIM)
        if text.startswith("/"):
            return self._slash(text)
        word, _, rest = text.partition(" ")
        command = word.lower()
        rest = rest.strip()
        assignment = re.match(r"^(?:set\s+(\d+)\s+(.*)|(.+?)\s*=(.*))$", text, re.S)
        commands: dict[str, Callable[[str], bool]] = {
            "click": self._click,
            "press": self._click,
            "select": self._select,
            "choose": self._select,
            "submit": lambda _: self._submit(),
            "cancel": lambda _: self._cancel(),
            "close": lambda _: self._cancel(),
            "back": lambda _: self._cancel(),
            "write": self._write,
            "reply": self._reply,
            "shortcut": self._shortcut,
            "as": self._as,
            "channel": self._channel,
            "home": lambda _: self._home(),
            "wait": self._wait,
            "expect": lambda r: self._expect(r, present=True),
            "expect-not": lambda r: self._expect(r, present=False),
            "say": self._say,
            "help": lambda _: self._help(),
            "?": lambda _: self._help(),
            "demo": lambda _: self._demo(),
        }
        if assignment and self.top_view() is not None:
            field_spec = assignment.group(1) or assignment.group(3)
            value = assignment.group(2) if assignment.group(1) else assignment.group(4)
            target = self._field(field_spec, strict=command not in commands)
            if target is not None:
                return self._assign(target, value)
        if command in commands:
            return commands[command](rest)
        if command in ("yes", "no", "y", "n"):
            raise ConsoleError("no confirmation is waiting for an answer.")
        if assignment:
            raise ConsoleError("no modal is open: fields are filled in a modal (`help`).")
        raise ConsoleError(f"unknown command {word!r}: type `help` for the commands.")

    # -- sending ----------------------------------------------------------------------------

    def _answered(self, response: AppResponse) -> bool:
        self.last_response = response
        if response.status != 200:
            raise ConsoleError(
                f"the app answered HTTP {response.status}: {response.body.strip()[:200] or '(empty)'}"
            )
        return True

    def _settle(self) -> None:
        # Posts paced for Slack's rate limit fall due a second apart: move the clock instead of
        # making the person wait (a second or two on a clock that `wait` moves anyway).
        self.bot.runtime.settle(fast_forward=self.bot.clock.advance)

    def _slash(self, text: str) -> bool:
        command, _, args = text.partition(" ")
        if command.lower() != COMMAND:
            # Slack itself refuses a command no installed app declares; nothing reaches the app.
            raise ConsoleError(
                f"{command} is not a valid command: this app's command is {COMMAND}."
            )
        seat = self.seat
        seat.location = "channel"
        url = self.slack.new_response_url(channel=seat.channel, user=self.user, team_id=self.team)
        response = self.sender.slash_command(
            team_id=self.team,
            user_id=self.user,
            command=command,
            text=args.strip(),
            channel_id=seat.channel,
            response_url=url,
        )
        # An answer in the acknowledgement is shown as Slack shows it, an ephemeral message:
        # the sender hands it to the local Slack (SlackSender.slash_command).
        self._answered(response)
        self._settle()
        self.refresh()
        return True

    def _write(self, text: str, *, thread: str | None = None) -> bool:
        """Write in the current channel (or one of its threads), as the person: the message is
        kept in the channel and its `message` event sent to the app."""
        words = unquote(text)
        if not words.strip():
            raise ConsoleError(
                "write what? `write Can we ship SO-000013 today?` (`reply TEXT` in a thread)."
            )
        seat = self.seat
        seat.location = "channel"
        channel = seat.channel
        message = self.slack.user_message(
            channel, self.user, words, team_id=self.team, thread_ts=thread
        )
        response = self.sender.message(
            team_id=self.team,
            channel=channel,
            message=message,
            channel_type="im" if channel.startswith("D") else "channel",
        )
        self._answered(response)
        self._settle()
        self.refresh()
        return True

    def _reply(self, text: str) -> bool:
        """Write in the thread of the bot's newest message in the current channel."""
        seat = self.seat
        posted = [m for m in self.slack.channel_messages(seat.channel) if m.get("bot_id")]
        if not posted:
            raise ConsoleError(
                f"the bot has posted nothing in {self.where()} to reply to: `write TEXT` writes here."
            )
        newest = max(posted, key=lambda m: ts_key(str(m["ts"])))
        return self._write(text, thread=str(newest.get("thread_ts") or newest["ts"]))

    def _shortcut(self, text: str) -> bool:
        """A shortcut from Slack's menus: New service order, or Add to an order… on a message."""
        which, _, about = text.strip().partition(" ")
        seat = self.seat
        if which.lower() in ("new", "order", NEW_ORDER_SHORTCUT):
            response = self.sender.global_shortcut(
                team_id=self.team, user_id=self.user, callback_id=NEW_ORDER_SHORTCUT
            )
        elif which.lower() in ("add", "attach", ATTACH_SHORTCUT):
            message = self._written(seat.channel, unquote(about) if about.strip() else None)
            url = self.slack.new_response_url(
                channel=seat.channel, user=self.user, team_id=self.team
            )
            response = self.sender.message_shortcut(
                team_id=self.team,
                user_id=self.user,
                channel_id=seat.channel,
                message=message,
                callback_id=ATTACH_SHORTCUT,
                response_url=url,
            )
        else:
            raise ConsoleError(
                "which shortcut? `shortcut new` (New service order), or `shortcut add` (Add to an "
                "order… on the newest message written here; `shortcut add TEXT`: the newest with TEXT)."
            )
        self._answered(response)
        self._settle()
        self.refresh()
        return True

    def _written(self, channel: str, about: str | None) -> JsonDict:
        """The newest message a person wrote in the channel (the newest of any with `about`)."""
        messages = sorted(self.slack.channel_messages(channel), key=lambda m: ts_key(m["ts"]))
        if about is None:
            found = [m for m in messages if written_by_person(m)]
        else:
            wanted = normalize(about)
            found = [m for m in messages if wanted in normalize(self._words(m))]
        if not found:
            what = f"with {about!r} " if about is not None else "a person wrote "
            raise ConsoleError(
                f"no message {what}in {self.where()}: `write TEXT` first, or `channel NAME`."
            )
        return found[-1]

    def _click(self, spec: str) -> bool:
        confirmed = False
        for suffix in ("--yes", "!"):
            if spec.endswith(suffix):
                spec, confirmed = spec[: -len(suffix)].strip(), True
        if not spec:
            raise ConsoleError(
                "click what? `click 3`, `click Confirm`, `click Confirm on SO-000013`."
            )
        target = self._target(spec, ("button",))
        if target.control.kind != "button":
            kind = target.control.kind
            hint = "fill it with `N = value`" if kind == "input" else "use `select N OPTION`"
            raise ConsoleError(f"[{target.control.number}] is not a button: {hint}.")
        confirm = target.control.element.get("confirm")
        if isinstance(confirm, dict) and not confirmed:
            title = self._plain(confirm.get("title")) or "Are you sure?"
            yes = self._plain(confirm.get("confirm")) or "Yes"
            no = self._plain(confirm.get("deny")) or "Cancel"
            lines: list[Line] = [
                [(part, "")] for part in self._plain(confirm.get("text")).split("\n")
            ]
            lines.append(
                [
                    ("yes", NUMBER_STYLE),
                    (f" {yes}   ", "bold"),
                    ("no", NUMBER_STYLE),
                    (f" {no}", ""),
                ]
            )
            self.screen.surface(title, lines, border="yellow")
            self.seat.pending = Pending(target, title.rstrip("?"))
            return True
        return self._press(target)

    def _select(self, spec: str) -> bool:
        numbered = re.match(r"^(\d+)\s+(.+)$", spec)
        kinds = ("select", "multi_select", "overflow", "input")
        if numbered:
            target = self._target(numbered.group(1), kinds)
            choice_text = numbered.group(2)
        else:
            target = self._menu_with(spec)
            choice_text = spec
        control = target.control
        if control.kind == "input":
            return self._assign(target, choice_text)
        if control.kind not in kinds:
            raise ConsoleError(f"[{control.number}] is not a menu: `click {control.number}`.")
        choice: Any
        searched = str(control.element.get("type")) in ("external_select", "multi_external_select")
        if searched and target.surface.kind == "view":
            view = self.slack.view(target.surface.id)
            if view is None:
                raise ConsoleError("that view is closed.")
            parts = choice_text.split(",") if control.kind == "multi_select" else [choice_text]
            chosen = [self._suggested(view, control, p) for p in parts if p.strip()]
            choice = chosen if control.kind == "multi_select" else chosen[0]
        elif control.kind == "multi_select":
            choice = [match_option(control.options, part) for part in choice_text.split(",")]
        else:
            choice = match_option(control.options, choice_text)
        return self._press(target, choice=choice)

    def _menu_with(self, option: str) -> Target:
        menus = [
            t for t in self._mine() if t.control.kind in ("select", "multi_select", "overflow")
        ]
        for target in sorted(menus, key=lambda t: (-t.batch, t.control.number)):
            try:
                match_option(target.control.options, option)
            except ConsoleError:
                continue
            return target
        view = self.top_view()
        searched = [
            t
            for t in self._mine()
            if view is not None
            and t.surface.id == view.get("id")
            and t.control.element.get("type") in ("external_select", "multi_external_select")
        ]
        if len(searched) == 1:
            return searched[0]  # the modal's one menu that searches as you type
        raise ConsoleError(f"no menu shown has an option {option!r}: `select N OPTION`.")

    def _suggested(self, view: JsonDict, control: Control, typed: str) -> JsonDict:
        """Type into a menu that searches as you type: the option the app offers that matches."""
        response = self.sender.block_suggestion(
            team_id=self.team,
            user_id=self.user,
            view=view,
            block_id=str(control.block.get("block_id")),
            action_id=str(control.element.get("action_id")),
            value=typed.strip(),
        )
        self._answered(response)
        answer = response.json() if response.body.strip() else {}
        options = list(answer.get("options") or [])
        for group in answer.get("option_groups") or []:
            options += list(group.get("options") or [])
        offered = [(self._plain(o.get("text")), str(o.get("value", ""))) for o in options]
        found = pick_suggestion(offered, typed)
        if found is None:
            shown = "; ".join(label for label, _ in offered) or "nothing"
            raise ConsoleError(
                f"no option matches {typed.strip()!r}: for it, the app offered {shown}."
            )
        return {"text": options[found].get("text"), "value": offered[found][1]}

    def _press(self, target: Target, *, choice: Any = None) -> bool:
        """Use a control as Slack would report it: on the message or view as it is now."""
        surface = target.surface
        wanted = identity(target.control.block, target.control.element)
        if surface.kind in ("message", "ephemeral"):
            ephemeral = surface.kind == "ephemeral"
            current = self._message_now(surface)
            if current is None:
                raise ConsoleError("that message is gone.")
            block, element = locate(current.get("blocks") or [], wanted)
            url = (
                self.slack.new_response_url(
                    channel=surface.channel,
                    user=self.user,
                    team_id=self.team,
                    message_ts=surface.id,
                    ephemeral=True,
                )
                if ephemeral
                else None
            )
            response = self.sender.block_action(
                team_id=self.team,
                user_id=self.user,
                action_id=str(element.get("action_id")),
                action=action_item(block, element, choice=choice),
                message=current,
                message_ts=surface.id,
                is_ephemeral=ephemeral,
                channel_id=surface.channel,
                response_url=url,
            )
        else:
            view = (
                self.slack.home_view(self.user)
                if surface.kind == "home"
                else self.slack.view(surface.id)
            )
            if view is None:
                raise ConsoleError("that view is closed.")
            block, element = locate(view.get("blocks") or [], wanted)
            response = self.sender.block_action(
                team_id=self.team,
                user_id=self.user,
                action_id=str(element.get("action_id")),
                action=action_item(block, element, choice=choice),
                view=view,
                state={"values": self._state(view)},
            )
        self._answered(response)
        self._settle()
        self.refresh()
        return True

    def _message_now(self, surface: SurfaceKey) -> JsonDict | None:
        if surface.kind == "message":
            return self.slack.message(surface.channel, surface.id)
        return next(
            (
                m
                for m in self.slack.ephemerals(channel=surface.channel, user=self.user)
                if m["ts"] == surface.id
            ),
            None,
        )

    def _state(self, view: JsonDict) -> JsonDict:
        form = self.seat.forms.get(str(view.get("id")), Form())
        present = {str(b.get("block_id")) for b in view.get("blocks") or []}
        inputs = {k: v for k, v in form.values.items() if k in present}
        return state_values(view.get("blocks") or [], inputs)

    # -- modals -----------------------------------------------------------------------------

    def _field(self, spec: str, *, strict: bool) -> Target | None:
        view = self.top_view()
        if view is None:
            return None
        key = SurfaceKey("view", "", str(view["id"]))
        fields = [t for t in self._mine() if t.surface == key and t.control.kind == "input"]
        wanted = spec.strip().casefold()
        if wanted.isdigit():
            found = [t for t in fields if t.control.number == int(wanted)]
        else:
            found = [
                t
                for t in fields
                if wanted
                in (t.control.label.casefold(), str(t.control.block.get("block_id")).casefold())
            ]
            for test in (str.startswith, str.__contains__):
                if not found:
                    found = [t for t in fields if test(t.control.label.casefold(), wanted)]
        if len(found) == 1:
            return found[0]
        if not strict:
            return None
        names = ", ".join(f"[{t.control.number}] {t.control.label}" for t in fields) or "none"
        raise ConsoleError(f"no field {spec.strip()!r} in this modal; its fields: {names}.")

    def _assign(self, target: Target, text: str) -> bool:
        view = self.top_view()
        if view is None or target.surface.id != view.get("id"):
            raise ConsoleError("that field's modal is not open any more.")
        control = target.control
        element = control.element
        kind = str(element.get("type"))
        raw = unquote(text)
        value: Any
        if kind == "external_select":
            value = self._suggested(view, control, raw) if raw else None
        elif kind == "multi_external_select":
            value = [self._suggested(view, control, p) for p in raw.split(",") if p.strip()]
        elif kind in ("static_select", "radio_buttons"):
            value = match_option(control.options, raw) if raw else None
        elif kind in ("multi_static_select", "checkboxes"):
            value = [match_option(control.options, p) for p in raw.split(",") if p.strip()]
        elif kind == "file_input":
            value = [p.strip() for p in raw.split(",") if p.strip()]
        elif kind in ("users_select", "multi_users_select"):
            ids = [self.person(p).id for p in raw.split(",") if p.strip()]
            value = ids if kind.startswith("multi") else (ids[0] if ids else None)
        elif kind in ("conversations_select", "channels_select"):
            value = self._channel_id(raw) if raw else None
        else:
            value = raw
        block_id = str(control.block.get("block_id"))
        form = self.seat.forms.setdefault(str(view["id"]), Form())
        form.values[block_id] = value
        form.errors.pop(block_id, None)
        renderer = SurfaceRenderer(self.names, lambda b, e: control.number, form)
        drawn = renderer.block(control.block)
        self.screen.line([("✓ ", "green"), *drawn[0]] if drawn else [("✓", "green")])
        if control.block.get("dispatch_action"):
            # Slack tells the app at once about a choice in a dispatching input.
            response = self.sender.block_action(
                team_id=self.team,
                user_id=self.user,
                action_id=str(element.get("action_id")),
                action=action_item(control.block, element, choice=value),
                view=view,
                state={"values": self._state(view)},
            )
            self._answered(response)
            self._settle()
            self.refresh()
        return True

    def _submit(self) -> bool:
        view = self.top_view()
        if view is None:
            raise ConsoleError("no modal is open.")
        if not view.get("submit"):
            raise ConsoleError("this modal has no submit button: `close` closes it.")
        view_id = str(view["id"])
        form = self.seat.forms.setdefault(view_id, Form())
        # Slack's own client does not send a form while a required field is empty.
        missing = {}
        for block in view.get("blocks") or []:
            if block.get("type") != "input" or block.get("optional"):
                continue
            block_id = str(block.get("block_id"))
            value = form.values.get(block_id, initial_value(block.get("element") or {}))
            if value is None or value == "" or value == []:
                missing[block_id] = "Please complete this required field."
        if missing:
            form.errors = missing
            self.screen.text(
                "Slack does not send the form yet: a required field is empty.", "yellow"
            )
            self._show_view(force=True)
            return True
        present = {str(b.get("block_id")) for b in view.get("blocks") or []}
        response = self.sender.view_submission(
            team_id=self.team,
            user_id=self.user,
            view=view,
            inputs={k: v for k, v in form.values.items() if k in present},
        )
        self._answered(response)
        answer = response.json() if response.body.strip() else {}
        if answer.get("response_action") == "errors":
            form.errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            self.screen.text("The app refused the form; it stays open:", "yellow")
            self._show_view(force=True)
        self._settle()
        self.refresh()
        return True

    def _cancel(self) -> bool:
        view = self.top_view()
        if view is None:
            raise ConsoleError("no modal is open.")
        if view.get("notify_on_close"):
            self._answered(self.sender.view_closed(team_id=self.team, user_id=self.user, view=view))
        else:
            self.slack.close_view(self.user, str(view["id"]))
        self.seat.forms.pop(str(view["id"]), None)
        self._settle()
        self.refresh()
        return True

    # -- people, places and time --------------------------------------------------------------

    def _as(self, who: str) -> bool:
        if not who:
            raise ConsoleError("as whom? `as pia`, `as U0BEN`.")
        person = self.person(who)
        self.user = person.id
        self.screen.text(f"You are {person.describe()}, in {self.where()}.", "bold")
        self.refresh(first_look=True)
        return True

    def _channel_id(self, text: str) -> str:
        wanted = text.strip().lstrip("#").casefold()
        if wanted in ("dm", "direct", "direct message", "messages"):
            return self.slack.dm_channel(self.user)
        for channel, name in self.channels.items():
            if wanted in (channel.casefold(), name.casefold()):
                return channel
        if re.fullmatch(r"[CGD][A-Z0-9]{2,}", text.strip().lstrip("#")):
            return text.strip().lstrip("#")
        known = ", ".join(self.channels.values())
        raise ConsoleError(f"no channel {text.strip()!r}: try {known}, or dm.")

    def _channel(self, name: str) -> bool:
        seat = self.seat
        channel = self._channel_id(name) if name else seat.channel
        seat.channel = channel
        seat.location = "channel"
        if not channel.startswith("D"):  # someone's DM is no one else's "elsewhere"
            self.channels.setdefault(channel, self.channel_name(channel))
        items = [
            (SurfaceKey("message", channel, m["ts"]), m)
            for m in self.slack.channel_messages(channel)
        ] + [
            (SurfaceKey("ephemeral", channel, m["ts"]), m)
            for m in self.slack.ephemerals(channel=channel, user=self.user)
        ]
        items.sort(key=lambda item: thread_order(item[1]))
        if not items:
            self.screen.text(f"{self.where()}: no messages yet.", DIM)
        if len(items) > CHANNEL_PAGE:
            self.screen.text(f"({len(items) - CHANNEL_PAGE} earlier messages not shown)", DIM)
        for key, message in items[-CHANNEL_PAGE:]:
            self._show_message(key, message, "")
        for key, message in items:
            seat.seen[key] = fingerprint(message)
        self._show_view()
        return True

    def _home(self) -> bool:
        self._answered(self.sender.app_home_opened(team_id=self.team, user_id=self.user))
        self._settle()
        self.seat.location = "home"
        self.refresh(home=True)
        return True

    def _wait(self, text: str) -> bool:
        clock = self.bot.clock
        reminders = self.bot.runtime.reminders
        now = clock.now()
        if text.strip().lower() in ("next", "next reminder"):
            upcoming = reminders.slots_due(now, now + timedelta(days=8))
            if not upcoming:
                raise ConsoleError("no reminder is scheduled in the next week.")
            delta = upcoming[0][0] - now + timedelta(minutes=1)
        else:
            try:
                delta = parse_age(text.strip() or "?")
            except ValueError:
                raise ConsoleError(
                    "wait how long? `wait 90m`, `wait 25h`, `wait 2d`, or `wait next`."
                ) from None
        outcomes = reminders.replay(now + delta, move_to=clock.advance_to, deliver=self._settle)
        self.screen.text(
            f"⏰ The clock moved forward {span_text(delta)}, to {clock_text(clock.now(), self.names.zone)}.",
            "bold",
        )
        posted = [o for o in outcomes if o.result == "queued"]
        with self.bot.runtime.db.read() as s:
            policies = get_policies(s, sorted({o.policy_id for o in posted}))
        for o in posted:
            policy = policies.get(o.policy_id)
            where = f"#{self.channel_name(policy.channel_id)}" if policy else "its channel"
            party = policy.party_name if policy else f"reminder #{o.policy_id}"
            orders = f"{o.orders} order{'s' if o.orders != 1 else ''}"
            line = f"{moment_text(o.slot, self.names.zone)} — reminder for {party} posted in {where}: {orders}"
            if o.escalated:
                line += f"; {o.escalated} escalated to its members by direct message"
            self.screen.text(line + ".", DIM)
        if not posted:
            self.screen.text("No reminder fell due in that time.", DIM)
        self.refresh()
        return True

    # -- scripts ------------------------------------------------------------------------------

    def _expect(self, text: str, *, present: bool) -> bool:
        if not text:
            raise ConsoleError("expect what? `expect Completed`.")
        shown = normalize(self.screen.last_output)
        found = normalize(unquote(text)) in shown
        if found == present:
            self.screen.text(
                f"✓ {'shown' if present else 'not shown'}: {text}", "green", capture=False
            )
            return True
        self.screen.text(
            f"✗ expected {'' if present else 'no '}{text!r} in what the last command showed.",
            ERROR_STYLE,
            capture=False,
        )
        return False

    def _say(self, text: str) -> bool:
        self.screen.text("")
        self.screen.text(f"── {text}", "bold yellow", capture=False)
        return True

    def _help(self) -> bool:
        self.screen.text(HELP)
        people = ", ".join(f"{p.name} ({p.party or 'no party'})" for p in self.people.values())
        self.screen.text(f"People: {people}.", DIM)
        return True

    def _demo(self) -> bool:
        if self._playing:
            raise ConsoleError("the walkthrough is already playing.")
        self._playing = True
        try:
            return self.run_script(walkthrough_lines(), pause=self.pause)
        finally:
            self._playing = False

    # -- drawing ------------------------------------------------------------------------------

    def _mine(self) -> list[Target]:
        return [t for t in self.targets.values() if t.user == self.user and t.live]

    def _target(self, spec: str, kinds: Sequence[str]) -> Target:
        """A control by its number, or by its label (optionally `LABEL on TEXT`): the newest drawn."""
        if spec.isdigit():
            target = self.targets.get(int(spec))
            if target is None:
                raise ConsoleError(f"nothing is numbered [{spec}].")
            if target.user != self.user:
                owner = self.people.get(target.user)
                raise ConsoleError(
                    f"[{spec}] is on {owner.name if owner else target.user}'s screen, not yours."
                )
            if not target.live:
                raise ConsoleError(f"[{spec}] is no longer shown: its message or view was redrawn.")
            return target
        mine = [t for t in self._mine() if t.control.kind in kinds]
        found = self._by_label(mine, spec, None)
        if not found and " on " in spec:
            label, _, context = spec.rpartition(" on ")
            found = self._by_label(mine, label, context)
        if not found:
            raise ConsoleError(
                f"no {' or '.join(kinds)} {spec!r} is shown: `click N` with its number."
            )
        view = self.top_view()
        if view is not None:
            # A modal is in front: its controls come first, as they do on screen.
            on_top = [t for t in found if t.surface.id == view.get("id")]
            found = on_top or found
        return sorted(found, key=lambda t: (-t.batch, t.control.number))[0]

    def _by_label(self, targets: list[Target], label: str, context: str | None) -> list[Target]:
        wanted = normalize(label)
        if context is not None:
            near = normalize(context)
            targets = [t for t in targets if near in normalize(t.control.context)] or [
                t for t in targets if near in normalize(t.surface_text)
            ]
        for test in (str.__eq__, str.startswith, str.__contains__):
            found = [t for t in targets if test(normalize(t.control.label), wanted)]
            if found:
                return found
        return []

    def _plain(self, obj: Any) -> str:
        return text_of(obj, self.names)

    def _draw(
        self, key: SurfaceKey, surface: JsonDict, *, form: Form | None = None, view: bool = False
    ) -> list[Line]:
        """Lines for a surface; its controls numbered (the same number while a control stays)."""
        drawn: set[tuple[str, str, str]] = set()

        def number(block: JsonDict, element: JsonDict) -> int:
            ident = identity(block, element)
            drawn.add(ident)
            slot = (self.user, key, ident)
            if slot not in self._numbers:
                self._numbers[slot] = len(self._numbers) + 1
            return self._numbers[slot]

        renderer = SurfaceRenderer(self.names, number, form)
        lines = renderer.blocks(surface.get("blocks") or []) if view else renderer.message(surface)
        text = "\n".join(plain(line) for line in lines)
        for target in self.targets.values():
            if target.user == self.user and target.surface == key:
                target.live = identity(target.control.block, target.control.element) in drawn
        for control in renderer.controls:
            self.targets[control.number] = Target(control, self.user, key, self.batch, text)
        return lines

    def _forget(self, key: SurfaceKey) -> None:
        for target in self.targets.values():
            if target.user == self.user and target.surface == key:
                target.live = False

    def _place(self, channel: str) -> str:
        if channel.startswith("D"):
            return "your direct messages"
        return f"#{self.channel_name(channel)}"

    def _words(self, message: JsonDict) -> str:
        """A message's text as a reader reads it (mentions named), on one line."""
        return " ".join(
            self._plain({"type": "mrkdwn", "text": str(message.get("text") or "")}).split()
        )

    def _author(self, message: JsonDict) -> str:
        """@ana for what a person wrote; orders-bot for what the bot posted."""
        if written_by_person(message):
            return "@" + self.names.user(str(message["user"]))
        return "orders-bot"

    def _gist(self, channel: str, ts: str) -> str:
        """A thread's parent, as a reply's title names it: @ana: “Can we ship SO-000013…”."""
        parent = self.slack.message(channel, ts)
        if parent is None:
            return "a deleted message"
        words = self._words(parent)
        if len(words) > 48:
            words = words[:47].rstrip() + "…"
        return f"{self._author(parent)}: “{words}”" if words else self._author(parent)

    def _show_message(self, key: SurfaceKey, message: JsonDict, status: str) -> None:
        author = self._author(message)
        if key.channel.startswith("D"):
            title = f"{author} · direct message"
        else:
            title = f"{author} in #{self.channel_name(key.channel)}"
        if key.kind == "ephemeral":
            title += " · only visible to you"
        thread = in_thread(message)
        if thread:
            title += (
                f" · reply in a thread, under {self._gist(key.channel, str(message['thread_ts']))}"
            )
        if status:
            title += f" · {status}"
        self.screen.surface(
            title,
            self._draw(key, message),
            border="green" if key.kind == "ephemeral" else "blue",
            indent=4 if thread else 0,
        )

    def _show_view(self, *, force: bool = False) -> None:
        seat = self.seat
        top = self.top_view()
        if top is None:
            if seat.view_shown is not None:
                self._forget(SurfaceKey("view", "", seat.view_shown[0]))
                seat.view_shown = None
                self.screen.text("(the modal closed)", DIM)
            return
        view_id = str(top["id"])
        shown = (view_id, str(top.get("hash")))
        if seat.view_shown is not None and seat.view_shown[0] != view_id:
            self._forget(SurfaceKey("view", "", seat.view_shown[0]))
        if not force and seat.view_shown == shown:
            return
        form = seat.forms.setdefault(view_id, Form())
        if seat.form_hash.get(view_id) != shown[1]:
            # A redrawn view keeps what was typed in the fields it still has; Slack clears errors.
            present = {str(b.get("block_id")) for b in top.get("blocks") or []}
            form.values = {k: v for k, v in form.values.items() if k in present}
            if view_id in seat.form_hash:
                form.errors = {}
            seat.form_hash[view_id] = shown[1]
        key = SurfaceKey("view", "", view_id)
        lines = self._draw(key, top, form=form, view=True)
        footer: Line = []
        if top.get("submit"):
            footer += [
                ("submit", NUMBER_STYLE),
                (f" {self._plain(top['submit'])}   ", "bold green"),
            ]
        close = self._plain(top.get("close")) or "Close"
        footer += [("cancel", NUMBER_STYLE), (f" {close}", "bold")]
        title = self._plain(top.get("title")) or "Modal"
        self.screen.surface(f"{title} · modal", [*lines, [], footer], border="magenta")
        seat.view_shown = shown

    def _show_home(self, *, force: bool) -> None:
        seat = self.seat
        home = self.slack.home_view(self.user)
        if home is None:
            self.screen.text("The Home tab is empty.", DIM)
            return
        fp = str(home.get("hash"))
        if not force and seat.home_shown == fp:
            return
        key = SurfaceKey("home", "", self.user)
        lines = self._draw(key, home, view=True)
        self.screen.surface("Home · orders-bot", lines, border="cyan")
        seat.home_shown = fp

    def refresh(self, *, home: bool = False, first_look: bool = False) -> None:
        """Draw what changed for the current person: messages, direct messages, the modal, Home."""
        seat = self.seat
        dm = self.slack.dm_channel(self.user)
        found: list[tuple[SurfaceKey, JsonDict]] = [
            (SurfaceKey("ephemeral", m["channel"], m["ts"]), m)
            for m in self.slack.ephemerals(user=self.user)
        ]
        channels = [dm]
        if seat.location == "channel" and seat.channel != dm:
            channels.insert(0, seat.channel)
        for channel in channels:
            found += [
                (SurfaceKey("message", channel, m["ts"]), m)
                for m in self.slack.channel_messages(channel)
            ]
        present = {key for key, _ in found}
        for key in [k for k in seat.seen if k.kind != "view" and k not in present]:
            if key.kind == "ephemeral" or key.channel in channels:
                del seat.seen[key]
                self._forget(key)
                self.screen.text(f"(a message in {self._place(key.channel)} was deleted)", DIM)
        changed = []
        for key, message in found:
            fp = fingerprint(message)
            before = seat.seen.get(key)
            if before != fp:
                changed.append((key, message, "new" if before is None else "updated"))
                seat.seen[key] = fp
        changed.sort(key=lambda item: thread_order(item[1]))
        limit = 8 if first_look else MAX_SHOWN
        if len(changed) > limit:
            self.screen.text(
                f"({len(changed) - limit} earlier messages not shown: `channel NAME` shows a channel)",
                DIM,
            )
        for key, message, status in changed[-limit:]:
            self._show_message(key, message, "updated" if status == "updated" else "")
        self._show_view()
        if home or seat.location == "home":
            self._show_home(force=home)
        self._hint_elsewhere(skip=set(channels))

    def _hint_elsewhere(self, skip: set[str]) -> None:
        seat = self.seat
        notes = []
        for channel in self.channels:
            if channel in skip or channel.startswith("D"):
                continue
            new = updated = 0
            for message in self.slack.channel_messages(channel):
                key = SurfaceKey("message", channel, message["ts"])
                fp = fingerprint(message)
                before = seat.noticed.get(key, seat.seen.get(key))
                if before is None:
                    new += 1
                elif before != fp:
                    updated += 1
                seat.noticed[key] = fp
            if new or updated:
                counts = [f"{new} new" if new else "", f"{updated} updated" if updated else ""]
                notes.append(f"#{self.channels[channel]} ({', '.join(c for c in counts if c)})")
        if notes:
            self.screen.text("Elsewhere: " + "; ".join(notes) + " — `channel NAME` reads one.", DIM)


def walkthrough_lines() -> list[str]:
    """The built-in demo script, shipped with the package."""
    try:
        return (
            (resources.files("bot.console") / WALKTHROUGH).read_text(encoding="utf-8").splitlines()
        )
    except OSError:
        raise ConsoleError(
            f"the walkthrough ({WALKTHROUGH}) is missing from this installation of the bot."
        ) from None


def run_console(
    *,
    demo: bool,
    as_user: str | None,
    script: Path | None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Run the console: interactive on a terminal, else a script; the exit status (1: a step failed)."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    lines: list[str] | None = None
    if script is not None:
        try:
            lines = script.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"error: cannot read the script {script}: {exc.strerror}", file=sys.stderr)
            return 1
    elif not stdin.isatty():
        lines = stdin.read().splitlines()
        if not any(line.strip() for line in lines):
            if not demo:
                print(
                    "error: no commands on standard input; give some, or --demo for the walkthrough.",
                    file=sys.stderr,
                )
                return 1
            try:
                lines = walkthrough_lines()
            except ConsoleError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
    reconfigure = getattr(stdout, "reconfigure", None)
    if reconfigure is not None and (getattr(stdout, "encoding", "") or "").lower() != "utf-8":
        # A terminal or file that cannot show emoji or box lines still gets the transcript.
        reconfigure(errors="replace")
    screen = Screen(stdout)
    try:
        bot = start_bot(demo)
    except ConsoleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SchemaNotCurrent as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    session: ConsoleSession | None = None
    try:
        try:
            session = ConsoleSession(bot, screen, as_user)
        except ConsoleError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        session.banner()
        if lines is not None:
            return 0 if session.run_script(lines) else 1
        _line_editing()
        session.interact()
        return 0
    finally:
        if session is not None:
            session.close()
        bot.close()


def _line_editing() -> None:
    """Arrow keys and history at the prompt, where the platform has readline."""
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401
