"""Reminders as the teams see them: digests, their buttons, snooze, collapse, escalation DMs,
`/orders remind`, and exactly-once delivery — with a controlled clock, against the local Slack."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.scheduling.reminders import Reminders
from orders_core.db import Database
from orders_core.lifecycle import Note, OrderStatus
from orders_core.models import OutboxItem, ReminderRun
from orders_core.reminders import CLAIMED, PolicySpec, save_policy
from tests.support.slackbot import Bot, buttons, running_bot
from tests.support.world import TEAM, World, build_world

MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # the slot below is 09:30 UTC, weekdays


@pytest.fixture
def world(db: Database) -> World:
    """The test world (defined here so the bot below can start after it)."""
    return build_world(db)


@pytest.fixture
def bot(db: Database, world: World) -> Iterator[Bot]:
    """The bot with its clock stopped on Monday 30 November 2026, 09:00 UTC."""
    with running_bot(db, start=MONDAY_0900) as running:
        yield running


def add_policy(world: World, user: str = "U0ANA", channel: str = "C0ACME", **spec: Any) -> Any:
    """A weekday 09:30 UTC policy for the user's party."""
    fields: dict[str, Any] = {"channel_id": channel, "time_zone": "UTC", "times": ("09:30",)}
    fields.update(spec)
    with world.db.transaction() as s:
        return save_policy(s, world.caller(user), PolicySpec(**fields), now=MONDAY_0900)


def pass_slot(bot: Bot, to: datetime) -> list[Any]:
    """Move the clock to `to`, run the slots passed, deliver; the outcomes."""
    before = bot.clock.now()
    bot.clock.set(to)
    outcomes = Reminders(bot.runtime.deps).catch_up(before, to)
    bot.settle()
    return outcomes


def digests(bot: Bot, channel: str = "C0ACME") -> list[dict[str, Any]]:
    """The digest messages of a channel, as they look now."""
    return [
        m
        for m in bot.channel(channel)
        if "waiting on" in json.dumps(m) or "replaced by" in json.dumps(m)
    ]


def test_a_digest_lists_what_is_due_oldest_first_with_buttons(bot: Bot, world: World) -> None:
    """Counts, groups by status, ages, who it waits on, the action buttons and a Snooze menu."""
    old = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=4))
    newer = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    review = world.order_in(OrderStatus.UNDER_APPROVAL, now=MONDAY_0900 - timedelta(days=3))
    world.order_in(
        OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(hours=2)
    )  # too young
    world.order_in(OrderStatus.NEW, now=MONDAY_0900 - timedelta(days=9))  # waits on the provider
    add_policy(world)
    outcomes = pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    assert [o.result for o in outcomes] == ["queued"]
    [digest] = digests(bot)
    text = json.dumps(digest)
    assert "3 orders waiting on Acme Coffee" in text
    assert "Pending Confirmation 2" in text and "Under Approval 1" in text
    assert text.index(old) < text.index(newer) < text.index(review)
    assert "Waiting on you for 4 days" in text
    assert buttons(digest).count(("order:confirm", "Confirm")) == 2 and (
        "order:approve",
        "Approve",
    ) in buttons(digest)
    overflow = [
        e for b in digest["blocks"] for e in b.get("elements", []) if e.get("type") == "overflow"
    ]
    assert len(overflow) == 3 and [o["text"]["text"] for o in overflow[0]["options"]] == [
        "Snooze 1 hour",
        "Snooze 1 day",
        "Snooze until Monday",
    ]


def test_nothing_due_posts_nothing(bot: Bot, world: World) -> None:
    """One message per policy per slot, only when something is due."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(hours=1))
    add_policy(world)
    assert [o.result for o in pass_slot(bot, MONDAY_0900 + timedelta(hours=1))] == ["empty"]
    assert bot.channel("C0ACME") == []


def test_a_button_in_a_digest_works_and_the_digest_is_redrawn(bot: Bot, world: World) -> None:
    """Confirm from the digest: In Development in the database; the digest row redrawn in place."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world)
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    [digest] = digests(bot)
    bot.click_posted("U0BEN", "C0ACME", digest["ts"], "order:confirm")
    bot.settle()
    assert bot.status_of(number) is OrderStatus.IN_DEVELOPMENT
    redrawn = bot.slack.message("C0ACME", digest["ts"])
    assert redrawn is not None and "In Development" in json.dumps(redrawn)
    assert ("order:confirm", "Confirm") not in buttons(redrawn)


def test_snooze_keeps_an_order_out_and_is_on_the_timeline(bot: Bot, world: World) -> None:
    """Snooze 1 day from the digest: noted with who; the next day's digest leaves it out."""
    snoozed = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=3))
    kept = world.order_in(OrderStatus.UNDER_APPROVAL, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world)
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    [digest] = digests(bot)
    value = f"{int(snoozed[3:])}:1d"
    bot.sender.click(
        team_id=TEAM,
        user_id="U0ANA",
        channel_id="C0ACME",
        ts=digest["ts"],
        action_id="remind:snooze",
        choice=value,
    )
    bot.settle()
    note = bot.timeline(snoozed)[-1]
    assert (
        note.action is Note.SNOOZE
        and note.actor_user_id == "U0ANA"
        and "1 day" in (note.reason or "")
    )
    assert "Snoozed until" in json.dumps(bot.slack.message("C0ACME", digest["ts"]))
    pass_slot(bot, MONDAY_0900 + timedelta(days=1, minutes=31))
    latest = digests(bot)[-1]
    assert kept in json.dumps(latest) and snoozed not in json.dumps(latest)


def test_the_previous_digest_collapses_to_one_line(bot: Bot, world: World) -> None:
    """When the next digest is posted, the last one becomes a line pointing to it."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world)
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    first = digests(bot)[0]
    pass_slot(bot, MONDAY_0900 + timedelta(days=1, minutes=31))
    collapsed = bot.slack.message("C0ACME", first["ts"])
    assert collapsed is not None and len(collapsed["blocks"]) == 1
    second = digests(bot)[-1]
    assert "replaced by" in json.dumps(collapsed) and second["ts"].replace(".", "") in json.dumps(
        collapsed
    )
    assert "waiting on Acme Coffee" in json.dumps(second)


def test_more_than_fit_gives_a_button_that_lists_them_all(bot: Bot, world: World) -> None:
    """Past Block Kit's limit: "+N more", which opens the whole list."""
    for i in range(25):
        world.order_in(
            OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2, minutes=i)
        )
    add_policy(world)
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    [digest] = digests(bot)
    assert len(digest["blocks"]) <= 50
    assert ("digest:more", "+5 more: list them all") in buttons(digest)
    bot.click_posted("U0ANA", "C0ACME", digest["ts"], "digest:more")
    listing = bot.modal("U0ANA")
    assert json.dumps(listing).count("SO-0000") >= 25


def test_an_order_waiting_past_the_threshold_is_sent_to_each_member_once_a_day(
    bot: Bot, world: World
) -> None:
    """Escalation: a DM with the buttons to Ana and Ben; not again the same day; again the next."""
    number = world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=4))
    add_policy(world, times=("09:30", "15:00"))
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    for user in ("U0ANA", "U0BEN"):
        [dm] = bot.channel(bot.slack.dm_channel(user))
        since = int((MONDAY_0900 - timedelta(days=4)).timestamp())
        text = json.dumps(dm)
        assert number in text and "has been waiting on *Acme Coffee*" in text
        assert f"since <!date^{since}^" in text  # says when: still true tomorrow
        assert ("order:confirm", "Confirm") in buttons(dm)
    pass_slot(bot, MONDAY_0900 + timedelta(hours=6, minutes=1))
    assert len(bot.channel(bot.slack.dm_channel("U0ANA"))) == 1
    pass_slot(bot, MONDAY_0900 + timedelta(days=1, minutes=31))
    assert len(bot.channel(bot.slack.dm_channel("U0ANA"))) == 2


def test_a_slack_500_mid_sweep_delivers_once_after_recovery(bot: Bot, world: World) -> None:
    """The post fails, is retried, and lands once."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world, escalate_after=None)
    bot.slack.fail("chat.postMessage", status=500, times=3)
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    bot.clock.advance(timedelta(minutes=10))
    bot.settle()
    assert len(digests(bot)) == 1
    assert len([c for c in bot.slack.calls("chat.postMessage") if c.ok]) == 1
    assert len(bot.slack.calls("chat.postMessage")) == 4


def test_a_sweep_killed_between_claim_and_post_is_finished_once(bot: Bot, world: World) -> None:
    """A claim left by a dead worker is taken over after its lease; running again posts nothing more."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    p = add_policy(world, escalate_after=None)
    slot = MONDAY_0900 + timedelta(minutes=30)
    with bot.db.transaction() as s:  # what a worker that died right after claiming leaves behind
        s.add(
            ReminderRun(
                policy_id=p.id,
                slot=slot,
                kind="scheduled",
                status=CLAIMED,
                claimed_by="dead",
                claimed_at=slot,
                order_ids=[],
            )
        )
    bot.clock.set(slot + timedelta(minutes=1))
    reminders = Reminders(bot.runtime.deps)
    assert reminders.run_slot(p.id, slot).result == "already"  # the lease still holds
    bot.clock.set(slot + timedelta(minutes=12))
    assert [o.result for o in reminders.retry_failed(timedelta(hours=1))] == ["queued"]
    bot.settle()
    assert reminders.run_slot(p.id, slot).result == "already"
    assert reminders.retry_failed(timedelta(hours=1)) == []
    bot.settle()
    assert len(digests(bot)) == 1


@pytest.mark.postgres
def test_two_sweepers_race_for_the_same_slot_one_digest(pg_db: Database) -> None:
    """Two sweepers on PostgreSQL, each with its own connection pool, racing for one slot: one digest."""
    world = build_world(pg_db)
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    p = add_policy(world, escalate_after=None)
    slot = MONDAY_0900 + timedelta(minutes=30)
    with running_bot(pg_db, start=slot) as bot:
        other_db = Database(pg_db.url)
        from bot.deps import Deps

        sweepers = [
            Reminders(bot.runtime.deps),
            Reminders(Deps(other_db, bot.clock, bot.runtime.worker)),
        ]
        barrier = threading.Barrier(2)
        results: list[str] = []

        def run(r: Reminders) -> None:
            barrier.wait()
            results.append(r.run_slot(p.id, slot).result)

        threads = [threading.Thread(target=run, args=(r,)) for r in sweepers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        other_db.dispose()
        bot.settle()
        assert sorted(results) == ["already", "queued"]
        assert len(digests(bot)) == 1


def test_a_channel_without_the_bot_tells_the_owner_and_stops_nothing_else(
    bot: Bot, world: World
) -> None:
    """not_in_channel: the policy's owner gets a DM; another policy still posts."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    world.order_in(OrderStatus.NEW, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world, "U0ANA", "C0LOCKED", escalate_after=None)
    add_policy(world, "U0PIA", "C0PIXEL", escalate_after=None)
    bot.slack.fail("chat.postMessage", error="not_in_channel", times=1, channel="C0LOCKED")
    pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))
    with bot.db.read() as s:
        statuses = sorted(r.status for r in s.scalars(select(ReminderRun)))
    assert statuses == ["posted", "undeliverable"]
    [dm] = bot.channel(bot.slack.dm_channel("U0ANA"))
    assert "could not post the reminder" in json.dumps(dm) and "not_in_channel" in json.dumps(dm)
    assert len(digests(bot, "C0PIXEL")) == 1


def test_posts_to_one_channel_are_a_second_apart(bot: Bot, world: World) -> None:
    """Two policies in one channel: the second digest is not sent in the same second."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    add_policy(world, escalate_after=None)
    add_policy(world, escalate_after=None, min_age=timedelta(hours=1), days=(0,))  # Mondays
    bot.clock.set(MONDAY_0900 + timedelta(minutes=31))
    Reminders(bot.runtime.deps).catch_up(MONDAY_0900, bot.clock.now())
    bot.runtime.settle(horizon=timedelta(0))  # deliver only what is due now
    assert len(digests(bot)) == 1
    with bot.db.read() as s:
        waiting = s.scalars(
            select(OutboxItem).where(OutboxItem.status == "pending", OutboxItem.kind == "digest")
        ).one()
        assert waiting.next_attempt_at >= bot.clock.now() + timedelta(milliseconds=900)
    bot.settle()
    assert len(digests(bot)) == 2


# -- /orders remind --------------------------------------------------------------------------------


def open_remind(bot: Bot, user: str = "U0ANA", channel: str = "C0ACME") -> dict[str, Any]:
    """Type `/orders remind` in a channel; the modal."""
    url = bot.slack.new_response_url(channel=channel, user=user, team_id=TEAM)
    bot.sender.slash_command(
        team_id=TEAM, user_id=user, text="remind", channel_id=channel, response_url=url
    )
    return bot.modal(user)


def test_adding_a_reminder_in_the_modal(bot: Bot, world: World) -> None:
    """Add: the form's defaults are weekdays 09:30; invalid input is refused with the reason; saving lists it."""
    listing = open_remind(bot)
    assert "No reminders here yet" in json.dumps(listing)
    bot.sender.click_in_view(team_id=TEAM, user_id="U0ANA", action_id="remind:add", view=listing)
    form = bot.slack.wait_for(
        lambda: (v := bot.slack.open_views("U0ANA")) and len(v) == 2 and v[-1]
    )
    days = next(b for b in form["blocks"] if b["block_id"] == "days")
    assert [o["value"] for o in days["element"]["initial_options"]] == ["0", "1", "2", "3", "4"]
    bad = bot.submit("U0ANA", {"times": "25:00", "time_zone": "Mars/Olympus", "days": []})
    assert bad["response_action"] == "errors"
    assert (
        "not a time of day" in bad["errors"]["times"]
        and "not an IANA time zone" in bad["errors"]["time_zone"]
    )
    ok = bot.submit(
        "U0ANA",
        {
            "times": "09:30, 14:00",
            "time_zone": "Asia/Singapore",
            "days": ["0", "2", "4"],
            "statuses": ["pending_confirmation"],
            "min_age": "12",
            "escalate_after": "48",
            "options": ["enabled"],
        },
    )
    assert ok == {}
    bot.settle()
    listing = bot.slack.wait_for(
        lambda: (
            "Saved" in json.dumps(bot.slack.open_views("U0ANA")[-1])
            and bot.slack.open_views("U0ANA")[-1]
        )
    )
    assert "Mon, Wed, Fri at 09:30, 14:00 (Asia/Singapore)" in json.dumps(listing)


def test_test_now_toggle_and_delete(bot: Bot, world: World) -> None:
    """A test reminder posts at once; off and on; delete keeps nothing running."""
    world.order_in(OrderStatus.PENDING_CONFIRMATION, now=MONDAY_0900 - timedelta(days=2))
    p = add_policy(world, escalate_after=None)
    listing = open_remind(bot)
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0ANA", action_id="remind:test", view=listing, value=str(p.id)
    )
    bot.settle()
    assert "Test reminder" in json.dumps(digests(bot)[-1])
    listing = bot.slack.open_views("U0ANA")[-1]
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0ANA", action_id="remind:toggle", view=listing, value=str(p.id)
    )
    listing = bot.slack.wait_for(
        lambda: (
            "is off" in json.dumps(bot.slack.open_views("U0ANA")[-1])
            and bot.slack.open_views("U0ANA")[-1]
        )
    )
    assert [o.result for o in pass_slot(bot, MONDAY_0900 + timedelta(minutes=31))] == []
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0ANA", action_id="remind:delete", view=listing, value=str(p.id)
    )
    listing = bot.slack.wait_for(
        lambda: (
            "deleted" in json.dumps(bot.slack.open_views("U0ANA")[-1])
            and bot.slack.open_views("U0ANA")[-1]
        )
    )
    assert "No reminders here yet" in json.dumps(listing)


def test_another_partys_reminder_cannot_be_changed(bot: Bot, world: World) -> None:
    """Pia sees Acme Coffee's reminder in the channel list but without its buttons; a forged click is refused."""
    p = add_policy(world)
    listing = open_remind(bot, "U0PIA")
    assert "Acme Coffee" in json.dumps(listing) and ("remind:delete", "Delete") not in buttons(
        listing
    )
    forge_delete(listing, p.id)
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0PIA", action_id="remind:delete", view=listing, value=str(p.id)
    )
    bot.settle()
    refusal = bot.slack.wait_for(
        lambda: [v for v in bot.slack.open_views("U0PIA") if "Not possible" in json.dumps(v)]
    )
    assert "belongs to another party" in json.dumps(refusal)
    with bot.db.read() as s:
        from orders_core.models import ReminderPolicy

        assert s.get(ReminderPolicy, p.id).deleted_at is None  # type: ignore[union-attr]


def test_a_refusal_whose_modal_cannot_open_goes_to_direct_messages(bot: Bot, world: World) -> None:
    """The click's trigger_id lapsed (a backlog) so no modal can carry the refusal: the clicker
    gets it as a direct message instead of nothing, and nothing changes."""
    p = add_policy(world)
    listing = open_remind(bot, "U0PIA")
    forge_delete(listing, p.id)
    bot.slack.fail("views.push", error="expired_trigger_id")
    bot.sender.click_in_view(
        team_id=TEAM, user_id="U0PIA", action_id="remind:delete", view=listing, value=str(p.id)
    )
    bot.settle()
    dm = bot.slack.wait_for(
        lambda: bot.slack.channel_messages(bot.slack.dm_channel("U0PIA")),
        description="a direct message to Pia",
    )
    assert "belongs to another party" in json.dumps(dm[-1])
    assert not [v for v in bot.slack.open_views("U0PIA") if "Not possible" in json.dumps(v)]
    with bot.db.read() as s:
        from orders_core.models import ReminderPolicy

        assert s.get(ReminderPolicy, p.id).deleted_at is None  # type: ignore[union-attr]


def forge_delete(listing: dict[str, Any], policy_id: int) -> None:
    """Add a Delete button for `policy_id` to a reminders list (a forged click's view)."""
    listing["blocks"].append(
        {
            "type": "actions",
            "block_id": "forged",
            "elements": [
                {
                    "type": "button",
                    "action_id": "remind:delete",
                    "text": {"type": "plain_text", "text": "x"},
                    "value": str(policy_id),
                }
            ],
        }
    )


def test_the_same_reminder_twice_is_refused_in_the_form_in_plain_words(
    bot: Bot, world: World
) -> None:
    """Under a field Slack shows plain text: the refusal names the party as it is written
    (`&`, not `&amp;`), and nothing is saved."""
    from orders_core.models import PartyOrg, ReminderPolicy

    with world.db.transaction() as s:
        s.execute(update(PartyOrg).where(PartyOrg.name == "Acme Coffee").values(name="Acme & Sons"))
    add_policy(world)  # weekdays at 09:30, UTC
    listing = open_remind(bot)
    bot.sender.click_in_view(team_id=TEAM, user_id="U0ANA", action_id="remind:add", view=listing)
    bot.slack.wait_for(lambda: len(bot.slack.open_views("U0ANA")) == 2)
    twin = bot.submit(
        "U0ANA", {"times": "09:30", "time_zone": "UTC", "days": ["0", "1", "2", "3", "4"]}
    )
    assert twin["response_action"] == "errors"
    said = twin["errors"]["times"]
    assert "already posts here Weekdays at 09:30 (UTC) for Acme & Sons" in said, said
    assert "&amp;" not in said
    with world.db.read() as s:
        assert len(s.scalars(select(ReminderPolicy)).all()) == 1
