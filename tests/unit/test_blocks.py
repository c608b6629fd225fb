"""Rendering: every status and party, inside Block Kit's limits, with the right buttons."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ui.check import check_message, check_view
from bot.ui.format import escape
from bot.ui.orders import (
    ButtonValue,
    ListSpec,
    action_id,
    needs_modal,
    render_detail_message,
    render_detail_modal,
    render_error,
    render_help,
    render_order_card,
    render_order_list,
    render_reason_modal,
)
from orders_core.lifecycle import TRANSITIONS, Action, EventSource, OrderStatus, Party, actions_for
from orders_core.orders import AttachedFile, OrderDetail, OrderPage, OrderView, TimelineEntry

NOW = datetime(2026, 11, 27, 10, 42, tzinfo=UTC)
NASTY = "<!channel> & <b>bold</b> *stars* _under_ ~strike~ `code` \u202e"


def order(
    number: int = 123, status: OrderStatus = OrderStatus.PENDING_CONFIRMATION, **kw: object
) -> OrderView:
    """An order as the database would give it."""
    fields: dict[str, object] = {
        "id": number,
        "workspace_id": 1,
        "number": number,
        "service_id": 1,
        "service_name": "Loyalty mini program",
        "merchant_id": 1,
        "merchant_name": "Acme Coffee",
        "merchant_channel_id": "C0ACME",
        "provider_id": 2,
        "provider_name": "Blue Pixel Studio",
        "provider_channel_id": "C0PIXEL",
        "mini_program": "Acme Rewards",
        "apps": ("Alipay+", "GCash"),
        "contact_name": "Ana",
        "contact": "ana@acme.test",
        "requirements": "Stamp card",
        "status": status,
        "version": 3,
        "placed_by": "U0ANA",
        "created_at": NOW - timedelta(days=3),
        "updated_at": NOW - timedelta(hours=5),
        "status_changed_at": NOW - timedelta(hours=5),
    }
    fields.update(kw)
    return OrderView(**fields)  # type: ignore[arg-type]


def entry(
    seq: int = 2, reason: str | None = None, files: tuple[AttachedFile, ...] = ()
) -> TimelineEntry:
    """A timeline entry."""
    return TimelineEntry(
        id=seq,
        seq=seq,
        action=Action.ACCEPT,
        actor_user_id="U0PIA",
        actor_party=Party.PROVIDER,
        from_status=OrderStatus.NEW,
        to_status=OrderStatus.PENDING_CONFIRMATION,
        reason=reason,
        source=EventSource.SLACK,
        created_at=NOW - timedelta(hours=5),
        files=files,
    )


def button_ids(blocks: list[dict[str, object]]) -> list[str]:
    """The action_ids of the order-action buttons, in order."""
    ids = []
    for b in blocks:
        for e in b.get("elements", []) or []:  # type: ignore[union-attr]
            if (
                isinstance(e, dict)
                and e.get("type") == "button"
                and str(e["action_id"]).startswith("order:")
            ):
                ids.append(e["action_id"])
    return ids


@pytest.mark.parametrize(("status", "viewer"), list(itertools.product(OrderStatus, Party)), ids=str)
def test_cards_show_exactly_the_viewers_actions(status: OrderStatus, viewer: Party) -> None:
    """The buttons are the table's actions for that status and party; the card is valid Block Kit."""
    card = render_order_card(
        order(status=status), viewer=viewer, last=entry(), now=NOW, notice="*Acme Coffee* confirmed"
    )
    check_message(card)
    assert button_ids(card.blocks) == [action_id(t.action) for t in actions_for(status, viewer)]
    text = json.dumps(card.blocks)
    assert "SO-000123" in text and status.label in text


@pytest.mark.parametrize(("status", "viewer"), list(itertools.product(OrderStatus, Party)), ids=str)
def test_details_as_message_and_modal(status: OrderStatus, viewer: Party) -> None:
    """Every field, the buttons at the top, the timeline; within 50 (message) and 100 (modal) blocks."""
    detail = OrderDetail(order(status=status), (entry(1), entry(2, reason="Fine")))
    message = render_detail_message(detail, viewer, NOW)
    modal = render_detail_modal(detail, viewer, NOW)
    check_message(message)
    check_view(modal)
    for blocks in (message.blocks, modal["blocks"]):
        text = json.dumps(blocks)
        for value in (
            "Acme Coffee",
            "Blue Pixel Studio",
            "Acme Rewards",
            "Alipay+, GCash",
            "ana@acme.test",
            "Stamp card",
            "Fine",
        ):
            assert value in text
        assert button_ids(blocks) == [action_id(t.action) for t in actions_for(status, viewer)]
        fields_at = next(i for i, b in enumerate(blocks) if "fields" in b)
        actions_at = [i for i, b in enumerate(blocks) if b["type"] == "actions"]
        assert all(i < fields_at for i in actions_at)  # the seed's "upper-right corner"


def test_a_full_page_of_long_orders_stays_within_limits() -> None:
    """Ten rows with every text at its longest: at most 50 blocks, under the size limit."""
    orders = tuple(
        order(
            n,
            OrderStatus.UNDER_APPROVAL,
            mini_program="m" * 100,
            service_name="s" * 200,
            provider_name="p" * 200,
        )
        for n in range(10, 0, -1)
    )
    last = {o.id: entry(reason="r" * 3000) for o in orders}
    message = render_order_list(
        OrderPage(orders, "o1"),
        viewer=Party.MERCHANT,
        party_name="Acme",
        spec=ListSpec(cursor="o20"),
        last_entries=last,
        now=NOW,
    )
    check_message(message)
    labels = [
        e["text"]["text"]
        for b in message.blocks
        for e in b.get("elements", [])
        if e.get("type") == "button"
    ]
    assert labels[-2:] == ["First page", "Next page"]


def test_a_long_timeline_gives_way_oldest_first() -> None:
    """100 entries with 3,000-character reasons: the newest fit, the rest are counted."""
    timeline = tuple(entry(i, reason=f"reason {i} " + "x" * 2990) for i in range(1, 101))
    detail = OrderDetail(order(), timeline)
    message = render_detail_message(detail, Party.MERCHANT, NOW)
    check_message(message)
    text = json.dumps(message.blocks)
    assert "reason 100 " in text and "reason 1 " not in text
    assert "earlier entries not shown" in text
    check_view(render_detail_modal(detail, Party.MERCHANT, NOW))


def test_user_text_is_escaped_everywhere() -> None:
    """Names, requirements and reasons cannot mention @channel or inject links."""
    nasty = order(mini_program=NASTY, requirements=NASTY, contact_name=NASTY, service_name=NASTY)
    detail = OrderDetail(
        nasty,
        (
            entry(
                reason=NASTY,
                files=(AttachedFile("F1", NASTY, "text/plain", 10, "https://x.slack.com/f"),),
            ),
        ),
    )
    for blocks in (
        render_detail_message(detail, Party.MERCHANT, NOW).blocks,
        render_order_card(nasty, viewer=Party.MERCHANT, last=detail.timeline[0], now=NOW).blocks,
    ):
        mrkdwn = " ".join(
            t["text"]
            for b in blocks
            for t in [
                b.get("text") or {},
                *b.get("fields", []),
                *[e for e in b.get("elements", []) if e.get("type") == "mrkdwn"],
            ]
            if t.get("type") == "mrkdwn"
        )
        assert "<!channel>" not in mrkdwn and "<b>" not in mrkdwn
        assert escape(NASTY) in mrkdwn


@pytest.mark.parametrize(
    "t",
    [t for t in TRANSITIONS if t.source is not None and needs_modal(t.action)],
    ids=lambda t: t.action.value,
)
def test_reason_modals(t: object) -> None:
    """Required reasons are not optional; files only where the table allows them; titles fit."""
    from orders_core.lifecycle import ReasonRule, Transition

    assert isinstance(t, Transition)
    modal = render_reason_modal(order(status=t.source or OrderStatus.NEW), t.action, "{}")
    check_view(modal)
    reason = next(b for b in modal["blocks"] if b.get("block_id") == "reason")
    assert reason["optional"] is (t.reason is not ReasonRule.REQUIRED)
    assert reason["element"]["max_length"] == 3000 and reason["element"]["multiline"]
    assert any(b.get("block_id") == "files" for b in modal["blocks"]) is t.files_allowed


def test_one_click_actions_ask_for_confirmation() -> None:
    """Confirm and Approve carry a Slack confirm dialog; Reject opens a modal instead."""
    pc = render_order_card(
        order(status=OrderStatus.PENDING_CONFIRMATION), viewer=Party.MERCHANT, last=None, now=NOW
    )
    buttons = {
        e["action_id"]: e
        for b in pc.blocks
        for e in b.get("elements", [])
        if e.get("type") == "button"
    }
    assert "confirm" in buttons["order:confirm"] and "confirm" not in buttons["order:reject"]
    ua = render_order_card(
        order(status=OrderStatus.UNDER_APPROVAL), viewer=Party.MERCHANT, last=None, now=NOW
    )
    buttons = {
        e["action_id"]: e
        for b in ua.blocks
        for e in b.get("elements", [])
        if e.get("type") == "button"
    }
    assert "confirm" in buttons["order:approve"]


def test_button_values_round_trip_and_refuse_garbage() -> None:
    """What we put in a button comes back; anything else is None, not a crash."""
    value = ButtonValue(123, 4, ListSpec((OrderStatus.NEW,), "o9", window=(2, 3)).to_json())
    back = ButtonValue.decode(value.encode())
    assert back == value and ListSpec.from_json(back.where).window == (2, 3)
    for junk in (None, "", "{", '{"n": "x"}', "[]", '{"n": 1}'):
        assert ButtonValue.decode(junk) is None


_JSON_LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_WHERE = st.dictionaries(
    st.text(max_size=4),
    st.recursive(_JSON_LEAF, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=3,
)


@given(number=st.integers(0, 10**12), version=st.integers(0, 10**6), where=_WHERE)
def test_button_values_read_back_as_drawn(
    number: int, version: int, where: dict[str, object]
) -> None:
    """Whatever a button carries comes back whole, and within Slack's 2,000 characters here."""
    value = ButtonValue(number, version, where)
    assert ButtonValue.decode(value.encode()) == value


def test_help_and_errors_are_valid_messages() -> None:
    """Help shows the counts; an error says what was wrong."""
    counts = dict.fromkeys(OrderStatus, 2)
    check_message(render_help("Acme", Party.MERCHANT, counts))
    check_message(render_error("x" * 5000))


def test_button_values_name_their_keys_and_old_ones_still_read() -> None:
    """Values say `order`, `version`, `where`; a button drawn before (single letters) still works."""
    import json

    from bot.ui.orders import ButtonValue, ListSpec

    value = ButtonValue(12, 3, ListSpec(cursor="o9", window=(4, 9)).to_json())
    assert json.loads(value.encode()) == {
        "order": 12,
        "version": 3,
        "where": {"kind": "list", "cursor": "o9", "window": [4, 9]},
    }
    assert ButtonValue.decode(value.encode()) == value
    old = ButtonValue.decode('{"n":12,"v":3,"w":{"k":"list","c":"o9","r":[4,9]}}')
    assert old is not None and (old.number, old.version) == (12, 3)
    assert ListSpec.from_json(old.where) == ListSpec(cursor="o9", window=(4, 9))
