"""What people wrote stays text, long text is never cut, and what stays in a channel says when."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.console.render import unescape
from bot.ui.check import check_message, check_view
from bot.ui.format import SLACK_FORMAT, escape
from bot.ui.home import render_home
from bot.ui.orders import (
    OPEN_ACTION,
    ListSpec,
    Message,
    action_notice,
    escaped_pieces,
    render_detail_message,
    render_detail_modal,
    render_error,
    render_order_card,
    render_order_list,
    text_units,
)
from bot.ui.reminders import render_collapsed, render_digest, render_remind_list
from orders_core import errors
from orders_core.lifecycle import Action, EventSource, OrderStatus, Party, ServiceStatus
from orders_core.orders import AttachedFile, Caller, OrderDetail, OrderPage, TimelineEntry
from orders_core.reminders import DueOrder, PolicyView
from tests.unit.test_blocks import NOW, order

CONTROL_SEQUENCES = [
    "<!channel>",
    "<!here>",
    "<!subteam^S0TEAM|@admins>",
    "<@U0EVIL>",
    "<#C0EVIL>",
    "<http://evil.test|click me>",
]


def mrkdwn_of(surface: Message | Mapping[str, Any]) -> Iterator[str]:
    """Every string Slack parses as mrkdwn: mrkdwn text objects, and a message's fallback text."""
    if isinstance(surface, Message):
        yield surface.text
        surface = {"blocks": surface.blocks}

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
                yield value["text"]
            for v in value.values():
                yield from walk(v)
        elif isinstance(value, list):
            for v in value:
                yield from walk(v)

    yield from walk(surface)


def sections(surface: Message | Mapping[str, Any]) -> list[str]:
    """The text of each section, in order (what a long text is split over)."""
    blocks = surface.blocks if isinstance(surface, Message) else surface["blocks"]
    return [b["text"]["text"] for b in blocks if b["type"] == "section" and "text" in b]


def entry(
    reason: str | None = None,
    files: tuple[AttachedFile, ...] = (),
    action: Action = Action.REJECT_APPROVAL,
    actor: str = "U0ANA",
    at: datetime = NOW - timedelta(hours=1),
) -> TimelineEntry:
    """A merchant's rejection of an approval (reason required, files allowed)."""
    return TimelineEntry(
        id=1,
        seq=1,
        action=action,
        actor_user_id=actor,
        actor_party=Party.MERCHANT,
        from_status=OrderStatus.UNDER_APPROVAL,
        to_status=OrderStatus.IN_DEVELOPMENT,
        reason=reason,
        source=EventSource.SLACK,
        created_at=at,
        files=files,
    )


def caller(party_name: str = "Acme Coffee") -> Caller:
    """A merchant member."""
    return Caller(1, "T0TEST", "U0ANA", 1, Party.MERCHANT, party_name, "C0ACME")


def policy(party_name: str = "Acme Coffee") -> PolicyView:
    """A merchant's weekday digest."""
    return PolicyView(
        id=1,
        workspace_id=1,
        team_id="T0TEST",
        party_id=1,
        party=Party.MERCHANT,
        party_name=party_name,
        channel_id="C0ACME",
        days=(0, 1, 2, 3, 4),
        times=("09:30",),
        time_zone="UTC",
        statuses=(OrderStatus.PENDING_CONFIRMATION, OrderStatus.UNDER_APPROVAL),
        custom_statuses=False,
        min_age=timedelta(hours=24),
        working_days_only=False,
        escalate_after=None,
        enabled=True,
        created_by="U0ANA",
    )


def file(name: str = "screen.png", permalink: str | None = None) -> AttachedFile:
    """A Slack file as a file_input hands it over."""
    url = permalink if permalink is not None else f"https://test.slack.com/files/U0ANA/F1/{name}"
    return AttachedFile("F1", name, "image/png", 20_480, url)


# -- 19: users' words echoed back are escaped ---------------------------------------------------


def surfaces_quoting(typed: str) -> dict[str, Message | Mapping[str, Any]]:
    """Everything that quotes what a user typed (or a payload carried), drawn by the real renderers."""
    o = order(
        status=OrderStatus.UNDER_APPROVAL,
        mini_program=typed,
        service_name=typed,
        merchant_name=typed,
        provider_name=typed,
        contact_name=typed,
        contact=typed,
        requirements=typed,
    )
    rejected = entry(reason=typed, files=(file(name=typed),))
    detail = OrderDetail(o, (rejected,))
    due = DueOrder(o.id, o.number, o.status, o.status_changed_at)
    return {
        "no such order": render_error(errors.OrderNotFound(typed).render(SLACK_FORMAT)),
        "not a number": render_error(
            errors.InvalidInput({"number": f"{typed!r} is not an order number"}).render(
                SLACK_FORMAT
            )
        ),
        "no such service": render_error(errors.ServiceNotFound(typed).render(SLACK_FORMAT)),
        "service offline": render_error(
            errors.ServiceNotOrderable(typed, ServiceStatus.WITHDRAWN).render(SLACK_FORMAT)
        ),
        "wrong party": render_error(
            errors.WrongParty(o.code, "approve", Party.MERCHANT, typed).render(SLACK_FORMAT)
        ),
        "not found": render_error(errors.NotFound(typed).render(SLACK_FORMAT)),
        "workspace": render_error(errors.WorkspaceNotFound(typed).render(SLACK_FORMAT)),
        "card": render_order_card(
            o, viewer=Party.PROVIDER, last=rejected, now=NOW, notice=action_notice(o, rejected)
        ),
        "search": render_order_list(
            OrderPage((o,), None),
            viewer=Party.MERCHANT,
            party_name=typed,
            spec=ListSpec(query=typed),
            last_entries={o.id: rejected},
            now=NOW,
        ),
        "detail": render_detail_message(detail, Party.MERCHANT, NOW),
        "detail modal": render_detail_modal(detail, Party.MERCHANT, NOW),
        "home": render_home(caller(typed), {o.status: 1}, [o], 1, [(o, rejected)], {}, NOW),
        "digest": render_digest(
            policy(typed), [due], {o.id: o}, {o.id: timedelta(days=2)}, {}, NOW, run_id=1
        ),
        "reminders modal": render_remind_list([], typed, 1),
    }


@pytest.mark.parametrize("typed", CONTROL_SEQUENCES)
def test_control_sequences_typed_by_users_stay_text(typed: str) -> None:
    """`<!channel>`, a mention, a channel or a link typed by a user reach Slack escaped, everywhere."""
    for name, surface in surfaces_quoting(typed).items():
        texts = list(mrkdwn_of(surface))
        assert not any(typed in t for t in texts), name
        assert any(escape(typed) in t for t in texts), name
    # Escaping is Slack's: the CLI's plain rendering quotes the words as they were typed.
    assert f"There is no order {typed} among" in str(errors.OrderNotFound(typed))


def test_file_names_and_urls_cannot_break_their_link() -> None:
    """`<`, `>`, `|` and `&` in a file's name or URL: one link, to that URL, showing that name."""
    url = "https://test.slack.com/files/U0ANA/F1/a<b>|c.png?x=1&y=<2>"
    detail = OrderDetail(
        order(), (entry(reason="See the file", files=(file("a<b>|c&d.png", url),)),)
    )
    for surface in (
        render_detail_message(detail, Party.MERCHANT, NOW),
        render_detail_modal(detail, Party.MERCHANT, NOW),
    ):
        text = "\n".join(mrkdwn_of(surface))
        links = re.findall(r"<(https://[^<>|]*)\|([^<>|]*)>", text)
        assert [(unquote(unescape(u)), unescape(label)) for u, label in links] == [
            (url, "a<b>¦c&d.png")
        ]
        # Every `<…>` is a whole token of ours: dates, mentions and that one link.
        tokens = re.findall(r"<([^<>]*)>", text)
        assert text.count("<") == text.count(">") == len(tokens)
        assert [t for t in tokens if not t.startswith(("!date^", "@U0"))] == ["|".join(links[0])]
    # A URL that is not https (a payload could say `javascript:`) is not linked; the file stays.
    detail = OrderDetail(order(), (entry(files=(file("x.png", "javascript:alert(1)"),)),))
    text = "\n".join(mrkdwn_of(render_detail_modal(detail, Party.MERCHANT, NOW)))
    assert ":paperclip: x.png (20 KB)" in text and "javascript" not in text


# -- 10: a long reason never hides the files ----------------------------------------------------

LONG_REASON = ("The stamp <card> & the café's 🎉 reward — 生日快乐 — are wrong. " * 60)[
    :2996
] + " END"


@pytest.mark.parametrize("reason", [LONG_REASON, "&" * 2999 + "."], ids=["mixed", "ampersands"])
def test_the_detail_modal_shows_a_long_reason_whole_and_its_files(reason: str) -> None:
    """3,000 characters (five times as many once escaped): split over sections, files after."""
    detail = OrderDetail(order(), (entry(reason=reason, files=(file(), file("notes.pdf"))),))
    modal = render_detail_modal(detail, Party.MERCHANT, NOW)
    check_view(modal)
    joined = "".join(sections(modal))
    assert escape(reason) in joined
    assert "<https://test.slack.com/files/U0ANA/F1/screen.png|screen.png> (20 KB)" in joined
    assert "<https://test.slack.com/files/U0ANA/F1/notes.pdf|notes.pdf> (20 KB)" in joined
    assert joined.index(escape(reason)) < joined.index("screen.png")


def test_the_detail_message_shows_a_long_reason_whole_when_it_fits() -> None:
    """A 3,000-character reason with `<&>` and unicode fits a message: all of it, and the file."""
    detail = OrderDetail(order(), (entry(reason=LONG_REASON, files=(file(),)),))
    message = render_detail_message(detail, Party.MERCHANT, NOW)
    check_message(message)
    joined = "".join(sections(message))
    assert escape(LONG_REASON) in joined and "|screen.png> (20 KB)" in joined


def test_a_reason_too_long_for_a_message_shows_its_start_its_files_and_a_way_to_read_it() -> None:
    """3,000 `&` escape to 15,000 characters, more than a message holds: the message shows the
    start, every file, and a button that opens the whole detail."""
    reason = "&" * 3000
    detail = OrderDetail(order(), (entry(reason=reason, files=(file(), file("notes.pdf"))),))
    message = render_detail_message(detail, Party.MERCHANT, NOW)
    check_message(message)
    texts = sections(message)
    joined = "".join(texts)
    assert "&amp;" * 100 in joined and escape(reason) not in joined
    assert "|screen.png>" in joined and "|notes.pdf>" in joined
    note = next(b for b in message.blocks if "more characters of this reason" in str(b))
    assert "open the order to read it whole" in note["text"]["text"]
    assert note["accessory"]["action_id"] == OPEN_ACTION
    assert note["accessory"]["text"]["text"] == "Open SO-000123"


def test_long_requirements_are_whole_in_the_modal_and_open_from_the_message() -> None:
    """Requirements of 3,000 `<` (12,000 escaped): all of them in the modal; the message shows
    the start and a button to read them."""
    detail = OrderDetail(order(requirements="<" * 2999 + "!"), ())
    modal = render_detail_modal(detail, Party.MERCHANT, NOW)
    check_view(modal)
    assert escape("<" * 2999 + "!") in "".join(sections(modal))
    message = render_detail_message(detail, Party.MERCHANT, NOW)
    check_message(message)
    assert any(
        b.get("accessory", {}).get("action_id") == OPEN_ACTION
        and "requirements go on" in b["text"]["text"]
        for b in message.blocks
    )


@given(text=st.text(), first=st.integers(5, 60), rest=st.integers(5, 60))
def test_long_text_is_split_without_losing_or_breaking_anything(
    text: str, first: int, rest: int
) -> None:
    """Joined, the pieces are the escaped text; each fits its room, counted in UTF-16 units."""
    pieces = escaped_pieces(text, first, rest)
    assert "".join(pieces) == escape(text)
    assert all(text_units(p) <= (first if i == 0 else rest) for i, p in enumerate(pieces))
    assert all(p for p in pieces)


def test_earlier_entries_left_out_of_a_message_can_be_opened() -> None:
    """A timeline too long for a message says how many entries it leaves out, with the button."""
    timeline = tuple(entry(reason=f"reason {i} " + "x" * 2990) for i in range(30))
    message = render_detail_message(OrderDetail(order(), timeline), Party.MERCHANT, NOW)
    check_message(message)
    more = next(b for b in message.blocks if "earlier entries not shown" in str(b))
    assert more["accessory"]["action_id"] == OPEN_ACTION


# -- 9: what stays in a channel says when -------------------------------------------------------

CHANGED = NOW - timedelta(hours=5)
RELATIVE_AGE = re.compile(r"\b(for|waited) \d+ (min|h|days)\b")


def date_token(at: datetime) -> str:
    """The start of Slack's date token for `at`."""
    return f"<!date^{int(at.timestamp())}^"


def test_what_stays_says_when_and_what_is_drawn_for_a_reader_says_how_long() -> None:
    """A card (channel or direct message), the Home tab and a folded digest drawn at NOW say
    since when, as a date token each reader's Slack renders, with no age that would freeze; an
    ephemeral list, the detail and a digest as it is posted say "for 5 h", true as drawn."""
    o = order(status=OrderStatus.PENDING_CONFIRMATION, status_changed_at=CHANGED)
    accepted = entry(at=CHANGED)
    card = render_order_card(o, viewer=Party.MERCHANT, last=accepted, now=NOW, notice="*Hi*")
    home = render_home(caller(), {o.status: 1}, [o], 1, [(o, accepted)], {o.id: accepted}, NOW)
    collapsed = render_collapsed("https://test.slack.com/archives/C0ACME/p1", CHANGED)
    for surface in (card, home, collapsed):
        text = "\n".join(mrkdwn_of(surface))
        assert date_token(CHANGED) in text
        assert not RELATIVE_AGE.search(text), text
    for surface in (card, home):
        text = "\n".join(mrkdwn_of(surface))
        assert f":hourglass_flowing_sand: Pending Confirmation since {date_token(CHANGED)}" in text

    listed = render_order_list(
        OrderPage((o,), None),
        viewer=Party.MERCHANT,
        party_name="Acme Coffee",
        spec=ListSpec(),
        last_entries={},
        now=NOW,
    )
    detail = render_detail_modal(OrderDetail(o, ()), Party.MERCHANT, NOW)
    due = DueOrder(o.id, o.number, o.status, o.status_changed_at)
    digest = render_digest(policy(), [due], {o.id: o}, {o.id: NOW - CHANGED}, {}, NOW, run_id=1)
    for surface in (listed, detail, digest):
        assert "Pending Confirmation for 5 h" in "\n".join(mrkdwn_of(surface))
