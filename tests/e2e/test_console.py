"""`orders-bot console`: scripted sessions on the demo workspace, read as a person reads them.

Every step goes to the real app as a signed request over HTTP; the transcript is what a Slack
user would see, and what these tests check.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.console.render import Screen
from bot.console.session import ConsoleSession, run_console, start_bot
from orders_core.models import Escalation, Order, PostedMessage

EXE = str(Path(sys.executable).with_name("orders-bot"))
PROMPT = re.compile(r"^(\w+)@(\S+)(?: \[[^\]]*\])?> (.*)$")
MONDAY_0300 = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)
"""Monday 30 November 2026, 03:00 in Asia/Singapore, the demo's time zone; its reminders are
weekdays at 09:30 there."""


def run_script(tmp_path: Path, capsys: pytest.CaptureFixture[str], script: str) -> tuple[int, str]:
    """Run a script on a fresh demo workspace, in-process: its exit status and its transcript."""
    path = tmp_path / "script.txt"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    status = run_console(demo=True, as_user=None, script=path)
    return status, capsys.readouterr().out


def steps(transcript: str) -> list[tuple[str, str, str]]:
    """(who, command, what it showed) for every command echoed in a transcript."""
    found: list[tuple[str, str, str]] = []
    for line in transcript.splitlines():
        match = PROMPT.match(line)
        if match:
            found.append((match.group(1), match.group(3), ""))
        elif found:
            who, command, shown = found[-1]
            found[-1] = (who, command, shown + line + "\n")
    return found


def shown_by(transcript: str, command: str, who: str | None = None, nth: int = 0) -> str:
    """What the nth run of `command` (by `who`) showed."""
    matches = [
        shown for w, c, shown in steps(transcript) if c == command and (who is None or w == who)
    ]
    assert len(matches) > nth, f"{command!r} was not run {nth + 1} times:\n{transcript}"
    return matches[nth]


def buttons(shown: str) -> list[str]:
    """The numbered buttons' labels a step showed ("[12] Confirm" → "Confirm")."""
    return re.findall(r"\[\d+\] ([A-Za-z][\w ]*?)(?=   |$|\n)", shown, re.M)


@pytest.fixture
def session() -> Iterator[ConsoleSession]:
    """A console on a fresh demo workspace, as Ana, writing to a buffer."""
    bot = start_bot(demo=True)
    console = ConsoleSession(bot, Screen(io.StringIO()))
    try:
        yield console
    finally:
        console.close()
        bot.close()


def test_an_order_from_the_service_market_to_completed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana orders, Pia accepts, Ben confirms, Pia submits, Ana rejects, Pia resubmits, Ana approves."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders services
        click Order on Loyalty
        Mini program name = Acme Rewards Plus
        Applicable apps = Alipay+
        Contact name = Ana Lim
        Contact = ana@acme.test
        submit
        close
        as pia
        click Accept on SO-000013
        yes
        as ben
        click Confirm on SO-000013 --yes
        as pia
        click Submit for approval on SO-000013
        Note = Build 1.0
        Files = acme-rewards-1.0.zip
        submit
        as ana
        click Reject on SO-000013
        Reason = The stamps do not add up.
        submit
        as pia
        click Submit for approval on SO-000013
        submit
        as ana
        click Approve on SO-000013
        yes
        channel blue-pixel
        """,
    )
    assert status == 0, out
    market = shown_by(out, "/orders services")
    assert "Service Market" in market and "Loyalty mini program  [1] Order" in market
    form = shown_by(out, "click Order on Loyalty")
    assert "Order a service · modal" in form and "Mini program name" in form
    placed = shown_by(out, "submit", "ana")
    assert "SO-000013 is placed" in placed and "only visible to you" in placed
    card = shown_by(out, "as pia")
    assert "Acme Coffee placed SO-000013 (@ana)" in card and "New since today at" in card
    assert buttons(card)[-3:] == ["Accept", "Reject", "Message"]
    assert "Accept SO-000013?" in shown_by(out, "click Accept on SO-000013")
    accepted = shown_by(out, "yes", "pia")
    assert "· updated" in accepted and "Pending Confirmation" in accepted
    assert "Accepted by @pia" in accepted and "Waiting on Acme Coffee." in accepted
    assert "Confirm" in buttons(shown_by(out, "as ben"))
    assert "In Development" in shown_by(out, "click Confirm on SO-000013 --yes")
    submitted = shown_by(out, "submit", "pia")
    assert "Under Approval" in submitted and "(the modal closed)" in submitted
    rejected = shown_by(out, "submit", "ana", nth=1)
    assert "Rejected by @ana" in rejected and "The stamps do not add up." in rejected
    approved = shown_by(out, "yes", "ana")
    assert "Completed" in approved and "This order is finished." in approved
    assert buttons(approved) == ["Message"]  # no more steps; a word to the other party
    providers_channel = shown_by(out, "channel blue-pixel")
    shown = providers_channel.split("┌─ ")[1:]
    cards = [c for c in shown if "reply in a thread" not in c.splitlines()[0]]
    assert len(cards) == 1 and "Completed" in cards[0] and buttons(cards[0]) == ["Message"]
    assert any(
        "approved SO-000013" in c for c in shown if c not in cards
    )  # the news, in its thread
    assert out.rstrip().endswith("steps succeeded.")
    assert "\x1b" not in out  # a transcript is plain text


def test_a_stale_button_is_refused_with_who_acted_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana's open detail offers Confirm; Ben confirms first; Ana's click changes nothing."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders view SO-000010
        as ben
        channel acme-orders
        /orders list pending confirmation
        click Confirm on SO-000010 --yes
        as ana
        click Confirm on SO-000010 --yes
        expect it was confirmed by @ben
        """,
    )
    assert status == 0, out
    refused = shown_by(out, "click Confirm on SO-000010 --yes", "ana")
    assert "SO-000010 is In Development: it was confirmed by @ben" in refused
    assert "only visible to you · updated" in refused  # the stale detail is redrawn
    assert "@ben confirmed · Pending Confirmation → In Development" in refused


def test_a_provider_cannot_act_for_the_merchant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pia never sees Confirm, and ordering a service is refused with her party named."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        as pia
        /orders view SO-000009
        /orders new loyalty
        """,
    )
    assert status == 0, out
    detail = shown_by(out, "/orders view SO-000009")
    assert "Pending Confirmation" in detail and "Confirm" not in buttons(detail)
    assert "Only merchants can order services; you are a member of Blue Pixel Studio" in shown_by(
        out, "/orders new loyalty"
    )


def test_a_blank_required_reason_is_refused_inside_the_modal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Empty: Slack's client keeps the form; blank: the app's error on the field; the modal stays."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        as pia
        /orders view SO-000007
        click Cancel
        submit
        Reason = "   "
        submit
        /orders view SO-000007
        """,
    )
    assert status == 0, out
    empty = shown_by(out, "submit", nth=0)
    assert "a required field is empty" in empty
    assert "⚠ Please complete this required field." in empty
    blank = shown_by(out, "submit", nth=1)
    assert "The app refused the form; it stays open" in blank
    assert "⚠ A reason is required" in blank and "Cancel SO-000007 · modal" in blank
    assert "In Development" in shown_by(out, "/orders view SO-000007", nth=1)
    assert re.search(r"^pia@#blue-pixel \[Cancel SO-000007\]> /orders view", out, re.M)


@contextmanager
def console_at(start: datetime) -> Iterator[tuple[ConsoleSession, io.StringIO]]:
    """A console on a fresh demo workspace seeded at `start`, its clock stopped there, as Ana;
    and its transcript."""
    bot = start_bot(demo=True, start=start)
    out = io.StringIO()
    console = ConsoleSession(bot, Screen(out))
    try:
        yield console, out
    finally:
        console.close()
        bot.close()


def play(console: ConsoleSession, out: io.StringIO, script: str) -> str:
    """Run a script's lines in the console; the whole transcript so far."""
    ok = console.run_script(textwrap.dedent(script).splitlines())
    assert ok, out.getvalue()
    return out.getvalue()


def boxes(shown: str) -> list[str]:
    """The messages a step drew, each as its text."""
    return [box.split("└─")[0] for box in shown.split("┌─ ")[1:]]


def happened(shown: str) -> list[str]:
    """What `wait` said happened during the jump, line by line ("Mon 30 Nov 09:30 — …")."""
    return re.findall(r"^\w{3} \d+ \w{3} \d\d:\d\d — .*$", shown, re.M)


def escalations(console: ConsoleSession) -> list[tuple[str, str, timedelta]]:
    """Every escalation in the database: (order, day, how long the order had waited then)."""
    with console.bot.runtime.db.read() as s:
        rows = s.execute(
            select(Order.number, Escalation.day, Escalation.created_at, Order.status_changed_at)
            .join(Order, Order.id == Escalation.order_id)
            .order_by(Escalation.created_at, Order.number)
        ).all()
    return [(f"SO-{number:06d}", day, at - since) for number, day, at, since in rows]


def test_waiting_lets_the_reminders_and_escalations_fire() -> None:
    """Three days from Monday 03:00: the digests, and on Wednesday the DMs about what waited 72 h."""
    with console_at(MONDAY_0300) as (console, out):
        play(console, out, "wait 3d\nexpect waiting on Acme Coffee\nas pia\n")
        waited = shown_by(out.getvalue(), "wait 3d")
        assert "⏰ The clock moved forward 3 days, to Thu 3 Dec 03:00" in waited
        assert "Wed 2 Dec 09:30 — reminder for Acme Coffee posted in #acme-orders" in waited
        assert "orders waiting on Acme Coffee" in waited and "Snooze 1 day" in waited
        assert "orders-bot · direct message" in waited
        assert "SO-000005 has been waiting on Acme Coffee (Under Approval) since" in waited
        assert "order waiting on Blue Pixel Studio" in shown_by(out.getvalue(), "as pia")


def test_a_two_day_wait_posts_each_digest_at_its_own_slot() -> None:
    """`wait 2d` from Monday 03:00 lives through Monday's and Tuesday's 09:30: one digest per slot
    and channel, posted then, Monday's collapsed by Tuesday's; no order has waited 72 h by
    Tuesday 09:30 but Blue Pixel's SO-000011, whose members get one DM, at that time."""
    with console_at(MONDAY_0300) as (console, out):
        transcript = play(
            console,
            out,
            """
            wait 2d
            channel acme-orders
            channel dm
            as ben
            channel dm
            as pia
            channel blue-pixel
            channel dm
            """,
        )
        assert happened(shown_by(transcript, "wait 2d")) == [
            "Mon 30 Nov 09:30 — reminder for Acme Coffee posted in #acme-orders: 2 orders.",
            "Mon 30 Nov 09:30 — reminder for Blue Pixel Studio posted in #blue-pixel: 1 order.",
            "Mon 30 Nov 09:30 — reminder for Nimbus Apps posted in #nimbus-apps: 1 order.",
            "Tue 1 Dec 09:30 — reminder for Acme Coffee posted in #acme-orders: 4 orders.",
            "Tue 1 Dec 09:30 — reminder for Blue Pixel Studio posted in #blue-pixel: 1 order;"
            " 1 escalated to its members by direct message.",
            "Tue 1 Dec 09:30 — reminder for Nimbus Apps posted in #nimbus-apps: 1 order.",
        ]
        merchant = boxes(shown_by(transcript, "channel acme-orders"))
        assert len(merchant) == 2
        assert "This reminder (posted Nov 30 at 09:30) has been replaced" in merchant[0]
        assert "4 orders waiting on Acme Coffee" in merchant[1]
        # Its ages are Tuesday 09:30's, when it was posted, not Wednesday's.
        assert "Pending Confirmation for 45 h" in merchant[1]
        assert shown_by(transcript, "channel dm", "ana").strip() == "dm: no messages yet."
        assert shown_by(transcript, "channel dm", "ben").strip() == "dm: no messages yet."
        provider = boxes(shown_by(transcript, "channel blue-pixel"))
        assert len(provider) == 2 and "posted Nov 30 at 09:30" in provider[0]
        [dm] = boxes(shown_by(transcript, "channel dm", "pia"))
        assert "SO-000011 has been waiting on Blue Pixel Studio (New) since" in dm
        with console.bot.runtime.db.read() as s:
            posted = s.execute(
                select(PostedMessage.channel_id, PostedMessage.created_at)
                .where(PostedMessage.kind.like("digest%"))
                .order_by(PostedMessage.id)
            ).all()
        slots = [MONDAY_0300 + timedelta(hours=6, minutes=30 + 24 * 60 * day) for day in (0, 1)]
        for channel in ("C0ACME", "C0PIXEL", "C0NIMBUS"):
            times = [at.replace(tzinfo=UTC) for c, at in posted if c == channel]
            assert [at.replace(second=0, microsecond=0) for at in times] == slots, channel
        assert [(order, day) for order, day, _ in escalations(console)] == [
            ("SO-000011", "2026-12-01")
        ]


def seen_everywhere(console: ConsoleSession, out: io.StringIO) -> dict[str, list[str]]:
    """What every member sees in each channel and in their DMs, control numbers and links aside."""
    seen: dict[str, list[str]] = {}
    for who, where in [
        ("ana", "acme-orders"),
        ("ana", "dm"),
        ("ben", "dm"),
        ("pia", "blue-pixel"),
        ("pia", "dm"),
        ("raj", "nimbus-apps"),
        ("raj", "dm"),
    ]:
        play(console, out, f"as {who}\nchannel {where}\n")
        shown = shown_by(out.getvalue(), f"channel {where}", who, nth=-1)
        shown = re.sub(r"\[\d+\]", "[n]", shown)
        seen[f"{who} in {where}"] = [re.sub(r"https://\S+", "LINK", box) for box in boxes(shown)]
    return seen


def test_one_long_wait_ends_as_waiting_in_small_steps_would() -> None:
    """`wait 4d` and twenty-four `wait 4h` from Monday 03:00 leave every channel and DM the same:
    each order escalated at most once a day, and never before it has waited 72 h."""
    with console_at(MONDAY_0300) as (jumped, jumped_out):
        play(jumped, jumped_out, "wait 4d\n")
        at_once = seen_everywhere(jumped, jumped_out)
        at_once_escalations = escalations(jumped)
    with console_at(MONDAY_0300) as (stepped, stepped_out):
        play(stepped, stepped_out, "wait 4h\n" * 24)
        in_steps = seen_everywhere(stepped, stepped_out)
        in_steps_escalations = escalations(stepped)
    assert at_once == in_steps
    assert at_once_escalations == in_steps_escalations
    assert [(order, day) for order, day, _ in at_once_escalations] == [
        ("SO-000011", "2026-12-01"),
        ("SO-000005", "2026-12-02"),
        ("SO-000009", "2026-12-02"),
        ("SO-000011", "2026-12-02"),
        ("SO-000005", "2026-12-03"),
        ("SO-000006", "2026-12-03"),
        ("SO-000009", "2026-12-03"),
        ("SO-000010", "2026-12-03"),
        ("SO-000011", "2026-12-03"),
        ("SO-000012", "2026-12-03"),
    ]
    assert all(waited >= timedelta(hours=72) for _, _, waited in at_once_escalations)
    ana_dms = at_once["ana in dm"]
    assert [re.findall(r"(SO-\d+) has been waiting", dm) for dm in ana_dms] == [
        ["SO-000005"],  # Wednesday 09:30
        ["SO-000009"],
        ["SO-000005"],  # Thursday 09:30
        ["SO-000009"],
        ["SO-000006"],
        ["SO-000010"],
    ]
    assert at_once["ben in dm"] == ana_dms


def test_select_home_and_a_click_in_the_home_tab(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list filtered by its menu; the Home tab; Approve from the Home tab redraws it."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        /orders list
        select 1 Under Approval
        home
        click Approve on SO-000006 --yes
        """,
    )
    assert status == 0, out
    filtered = shown_by(out, "select 1 Under Approval")
    assert "· updated" in filtered and "orders, newest first (Under Approval)" in filtered
    assert "SO-000006" in filtered and "SO-000012" not in filtered
    home = shown_by(out, "home")
    assert "Home · orders-bot" in home and "Waiting on you (4)" in home
    approved = shown_by(out, "click Approve on SO-000006 --yes")
    assert "Waiting on you (3)" in approved and "Approved by @ana" in approved


def indented(box: str) -> bool:
    """Whether a drawn message is indented under its parent: a reply in a thread."""
    return all(line.startswith("    ") for line in box.splitlines()[1:] if line.strip())


def test_an_order_number_written_in_conversation_gets_its_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In the party's channel, the card in the message's thread, drawn under it, whose Confirm
    works; elsewhere, only a member of a party of the order sees it; a stranger, nothing."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        write Ben, can you look at so-000010 today?
        click Confirm on SO-000010 --yes
        as raj
        channel C0LOUNGE
        write What about SO-000010 and SO-000009?
        as pia
        channel C0LOUNGE
        write What about SO-000010?
        """,
    )
    assert status == 0, out
    written = shown_by(out, "write Ben, can you look at so-000010 today?")
    mine, card = written.split("┌─ ")[1:]
    assert mine.startswith("@ana in #acme-orders") and "Ben, can you look at" in mine
    head = card.splitlines()[0]
    assert "orders-bot in #acme-orders · reply in a thread, under @ana: “Ben, can you" in head
    assert re.search(r"^    ┌─ orders-bot", written, re.M) and indented(card)
    assert "SO-000010" in card and "Pending Confirmation" in card
    assert buttons(card)[-3:] == ["Confirm", "Reject", "Message"]
    confirmed = shown_by(out, "click Confirm on SO-000010 --yes")
    assert "reply in a thread, under @ana" in confirmed and "· updated" in confirmed
    assert "In Development" in confirmed and "Confirm" not in buttons(confirmed)
    elsewhere = shown_by(out, "write What about SO-000010 and SO-000009?")
    assert "@raj in #c0lounge" in elsewhere
    [ephemeral] = [b for b in boxes(elsewhere) if "only visible to you" in b]
    assert "SO-000010" in ephemeral and "SO-000009" not in ephemeral  # not Nimbus's order
    stranger = shown_by(out, "write What about SO-000010?")
    assert len(boxes(stranger)) == 1 and "@pia in #c0lounge" in stranger


def test_a_message_from_the_card_and_a_reply_in_its_thread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ana's Message reaches Nimbus Apps in their card's thread; Raj replies in that thread,
    is offered to send it across, sends it, and Ana reads it in her card's thread."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        write SO-000010?
        click Message on SO-000010
        Message = Can we move the review to Friday?
        submit
        as raj
        reply Friday works for us.
        click Send to Acme Coffee
        as ana
        """,
    )
    assert status == 0, out
    assert "Message SO-000010 · modal" in shown_by(out, "click Message on SO-000010")
    sent = shown_by(out, "submit")
    [note] = [b for b in boxes(sent) if "reply in a thread" in b.splitlines()[0]]
    assert "📤 @ana sent Nimbus Apps a message about SO-000010" in note
    assert "Can we move the review to Friday?" in note and indented(note)
    received = shown_by(out, "as raj")
    assert "💬 Acme Coffee (@ana) wrote about SO-000010" in received
    replied = shown_by(out, "reply Friday works for us.")
    mine, offer = boxes(replied)
    assert mine.startswith("@raj in #nimbus-apps · reply in a thread, under orders-bot")
    assert "only visible to you · reply in a thread" in offer
    assert buttons(offer) == ["Send to Acme Coffee", "Keep internal"]
    assert "Sent to Acme Coffee" in shown_by(out, "click Send to Acme Coffee")
    read = shown_by(out, "as ana")
    assert "Nimbus Apps (@raj) wrote about SO-000010" in read and "Friday works for us." in read
    assert "reply in a thread" in read


def test_the_shortcuts_new_service_order_and_add_to_an_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """New service order: the form for a merchant, "Not possible" for a provider. Add to an
    order… on a message: the order picked by typing words or its number, kept on the timeline."""
    status, out = run_script(
        tmp_path,
        capsys,
        """
        shortcut new
        close
        as pia
        shortcut new
        close
        as ana
        write The client wants a dark mode for the kids club.
        as ben
        shortcut add
        Order = kids
        Note = For the design review
        submit
        /orders view SO-000010
        write Unrelated chatter
        shortcut add dark mode
        Order = zzz
        Order = ben tan
        select SO-000010
        submit
        """,
    )
    assert status == 1, out
    form = shown_by(out, "shortcut new", "ana")
    assert "Order a service · modal" in form and "Mini program name" in form
    refused = shown_by(out, "shortcut new", "pia")
    assert "Not possible · modal" in refused and "Only merchants can order services" in refused
    picker = shown_by(out, "shortcut add")
    assert "Add to an order · modal" in picker and "dark mode for the kids club" in picker
    assert "options: what the app finds for what you type" in picker
    assert re.search(r"✓ \[\d+\] Order: SO-000010 · Acme Kids Club", shown_by(out, "Order = kids"))
    added = shown_by(out, "submit", nth=0)
    assert "Added to the timeline of SO-000010" in added and "(the modal closed)" in added
    timeline = shown_by(out, "/orders view SO-000010")
    assert "@ben added a Slack message" in timeline and "For the design review" in timeline
    assert "“The client wants a dark mode for the kids club.”" in timeline
    assert "dark mode for the kids club" in shown_by(out, "shortcut add dark mode")
    assert "✗ no option matches 'zzz': for it, the app offered nothing." in out
    # Found by the contact's name, which the options do not show: what to type instead.
    assert re.search(
        r"✗ no option matches 'ben tan': for it, the app offered SO-\d+ · .*; "
        r"SO-000010 · Acme Kids Club;",
        out,
    )
    assert "Order: SO-000010 · Acme Kids Club" in shown_by(out, "select SO-000010")
    assert "Added to the timeline of SO-000010" in shown_by(out, "submit", nth=1)
    assert re.search(r"✗ 2 of \d+ steps failed", out)


@pytest.mark.parametrize(
    ("script", "says"),
    [
        ("/orders help\nexpect Nothing like this is shown\n", "✗ expected 'Nothing like this"),
        ("dance\n", "✗ unknown command 'dance'"),
        ("click 99\n", "✗ nothing is numbered [99]"),
        ("/orders list\nclick Launch rocket\n", "✗ no button 'Launch rocket' is shown"),
        ("submit\n", "✗ no modal is open"),
        ("as nobody\n", "✗ nobody is called 'nobody'"),
        ("wait a while\n", "✗ wait how long?"),
        ("reply Thanks\n", "✗ the bot has posted nothing in #acme-orders to reply to"),
        ('write ""\n', "✗ write what?"),
        ("shortcut dance\n", "✗ which shortcut?"),
        ("shortcut add\n", "✗ no message a person wrote in #acme-orders"),
    ],
)
def test_a_failed_step_makes_the_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], script: str, says: str
) -> None:
    """The step says what was wrong, the rest still runs, and the run ends with status 1."""
    status, out = run_script(tmp_path, capsys, script + "/orders help\n")
    assert status == 1
    assert says in out
    assert "/orders help" in steps(out)[-1][1]
    assert re.search(r"✗ 1 of \d+ steps failed \(lines \d+\)", out)


def test_the_consoles_requests_are_signed(session: ConsoleSession) -> None:
    """What the console sends passes the app's signature check; the same body unsigned does not."""
    assert session.run("/orders help")
    sent = session.last_response
    assert sent is not None and sent.status == 200
    form = "application/x-www-form-urlencoded"
    assert session.sender.send(sent.request_body, form).status == 200
    assert session.sender.send(sent.request_body, form, sign=False).status == 401
    assert session.sender.send(sent.request_body, form, bad_signature=True).status == 401
    assert session.sender.send(sent.request_body, form, timestamp=1_500_000_000).status == 401


def clean_env() -> dict[str, str]:
    """The environment without Slack or database settings (the console needs none)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_URL"))}


def test_the_walkthrough_plays_when_standard_input_is_empty(tmp_path: Path) -> None:
    """`orders-bot console --demo` with nothing typed: the built-in walkthrough, end to end."""
    done = subprocess.run(
        [EXE, "console", "--demo"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env=clean_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for line in (
        "You are Ana Lim (@ana), Acme Coffee (merchant), in #acme-orders.",
        "SO-000013 is placed",
        "Only merchants can order services",
        "it was confirmed by @ben",
        "⚠ A reason is required",
        "✅ Completed",
        "waiting on Acme Coffee",
        "Home · orders-bot",
    ):
        assert line in out, line
    assert re.search(r"✓ all \d+ steps succeeded\.", out)
    assert "\x1b" not in out and not list(tmp_path.iterdir())


def test_a_script_file_from_the_command_line(tmp_path: Path) -> None:
    """`--script FILE` through the real entry point: the transcript, and status 1 on a failed step."""
    script = tmp_path / "steps.txt"
    script.write_text("as raj\n/orders list new\nexpect SO-000012\nexpect SO-000005\n")
    done = subprocess.run(
        [EXE, "console", "--demo", "--script", str(script)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        timeout=60,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "raj@#nimbus-apps> /orders list new" in done.stdout
    assert "✓ shown: SO-000012" in done.stdout
    assert "✗ expected 'SO-000005' in what the last command showed." in done.stdout


def test_the_console_refuses_a_shared_database(tmp_path: Path) -> None:
    """Pointed at PostgreSQL (a real bot's database), it stops with one line and touches nothing."""
    exe = str(Path(sys.executable).with_name("orders-bot"))
    env = {**clean_env(), "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    done = subprocess.run(
        [exe, "console"],
        env=env,
        cwd=tmp_path,
        input="help\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert (
        "the console runs on a SQLite file, not on a shared database" in done.stdout + done.stderr
    )
