"""The outbox: in order per lane, collapsed redraws, leases across workers, Slack's errors."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.clock import MovableClock
from bot.console.localslack import LocalSlack
from bot.delivery.outbox import (
    DONE,
    FAILED,
    PENDING,
    SET_ASIDE_AFTER,
    Claimed,
    Failure,
    Kind,
    Lane,
    Outbox,
    OutboxWorker,
    Permanent,
    Retry,
    classify,
    enqueue,
)
from orders_core.db import Database
from orders_core.models import OutboxItem

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def add(db: Database, clock: MovableClock, *items: tuple[str, str, dict[str, object]]) -> None:
    """Queue (kind, lane, payload) items in one transaction."""
    with db.transaction() as s:
        for kind, lane, payload in items:
            enqueue(s, kind=Kind(kind), lane=Lane.parse(lane), payload=payload, now=clock.now())


def statuses(db: Database) -> list[tuple[int, str]]:
    """(id, status) of every item."""
    with db.read() as s:
        return [(i.id, i.status) for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]


def test_one_lane_in_order_and_redraws_collapse(db: Database) -> None:
    """Posts of one channel go in order; three pending redraws of one message are one delivery."""
    clock = MovableClock(T0)
    add(
        db,
        clock,
        ("post_card", "chan:C1", {"n": 1}),
        ("post_card", "chan:C1", {"n": 2}),
        ("refresh_message", "msg:7", {"message_id": 7}),
        ("refresh_message", "msg:7", {"message_id": 7}),
        ("refresh_message", "msg:7", {"message_id": 7}),
        ("post_card", "chan:C1", {"n": 3}),
    )
    delivered: list[tuple[str, object]] = []
    worker = OutboxWorker(
        Outbox(db, clock),
        lambda item: delivered.append((str(item.lane), item.payload.get("n", "redraw"))),
    )
    for _ in range(3):  # a channel gets a message a second at most: let the seconds pass
        worker.drain(5)
        clock.advance(timedelta(seconds=1))
    assert delivered == [("chan:C1", 1), ("msg:7", "redraw"), ("chan:C1", 2), ("chan:C1", 3)]
    assert {status for _, status in statuses(db)} == {DONE}


def test_a_failing_item_holds_its_lane_but_not_the_others(db: Database) -> None:
    """Order per message: the second update of a message waits for the first; other lanes go on."""
    clock = MovableClock(T0)
    add(
        db,
        clock,
        ("post_card", "chan:C1", {"n": 1}),
        ("post_card", "chan:C1", {"n": 2}),
        ("post_card", "chan:C2", {"n": 3}),
    )
    attempts: list[object] = []

    def deliver(item: Claimed) -> None:
        attempts.append(item.payload["n"])
        if item.payload["n"] == 1 and item.attempts == 0:
            raise Retry("slack 503", Failure.REFUSED, 30)

    worker = OutboxWorker(Outbox(db, clock), deliver)
    worker.drain(5)
    assert attempts == [1, 3]
    clock.advance(timedelta(seconds=31))
    worker.drain(5)
    assert attempts == [1, 3, 1]  # the next post in that channel waits a second (rate limit)
    clock.advance(timedelta(seconds=1))
    worker.drain(5)
    assert attempts == [1, 3, 1, 2]


def test_retry_after_and_backoff_and_giving_up(db: Database) -> None:
    """Retry-After is honoured exactly; other retries back off; a permanent error is kept, failed."""
    clock = MovableClock(T0)
    add(
        db,
        clock,
        ("post_card", "chan:a", {}),
        ("post_card", "chan:b", {}),
        ("post_card", "chan:c", {}),
    )
    errors = {
        "chan:a": Retry("rate limited", Failure.RATE_LIMITED, 42.0),
        "chan:b": Retry("slack 500", Failure.REFUSED),
        "chan:c": Permanent("channel_not_found"),
    }

    def deliver(item: Claimed) -> None:
        raise errors[str(item.lane)]

    OutboxWorker(Outbox(db, clock), deliver).drain(5)
    with db.read() as s:
        items = {i.lane: i for i in s.scalars(select(OutboxItem))}
    a, b, c = items["chan:a"], items["chan:b"], items["chan:c"]
    assert a.status == PENDING and a.next_attempt_at == T0 + timedelta(seconds=42)
    assert a.last_failure == Failure.RATE_LIMITED
    assert b.status == PENDING and T0 < b.next_attempt_at <= T0 + timedelta(seconds=2)
    assert b.last_failure == Failure.REFUSED
    assert c.status == FAILED and c.last_error == "channel_not_found"


def test_a_lease_keeps_other_workers_off_until_it_lapses(db: Database) -> None:
    """A worker that died mid-delivery holds its item for the lease only."""
    clock = MovableClock(T0)
    add(db, clock, ("post_card", "chan:C1", {"n": 1}))
    crashed = Outbox(db, clock).claim("crashed-worker")
    assert len(crashed) == 1
    assert Outbox(db, clock).claim("other") == []
    clock.advance(timedelta(seconds=61))
    again = Outbox(db, clock).claim("other")
    assert [c.id for c in again] == [crashed[0].id]


@pytest.mark.postgres
def test_concurrent_workers_never_share_a_lane(pg_db: Database) -> None:
    """Four workers on PostgreSQL (FOR UPDATE SKIP LOCKED): each item once, each lane in order."""
    clock = MovableClock(T0)
    lanes = [f"msg:{i}" for i in range(10)]
    add(pg_db, clock, *[("post_card", lane, {"n": n}) for n in range(5) for lane in lanes])
    seen: dict[str, list[object]] = {lane: [] for lane in lanes}
    busy: set[str] = set()
    lock = threading.Lock()
    overlaps: list[str] = []

    def deliver(item: Claimed) -> None:
        with lock:
            if str(item.lane) in busy:
                overlaps.append(str(item.lane))
            busy.add(str(item.lane))
        seen[str(item.lane)].append(item.payload["n"])
        with lock:
            busy.discard(str(item.lane))

    workers = [OutboxWorker(Outbox(pg_db, clock), deliver, batch=3) for _ in range(4)]
    threads = [threading.Thread(target=w.drain, args=(20,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert all(seen[lane] == [0, 1, 2, 3, 4] for lane in lanes), seen


def test_slack_errors_are_classified_from_real_answers() -> None:
    """429 carries Retry-After; 5xx and timeouts are retried; a Slack error like not_in_channel is final."""
    with LocalSlack() as slack:
        client = WebClient(token="xoxb-x", base_url=slack.base_url, timeout=1, retry_handlers=[])
        slack.fail("chat.postMessage", error="ratelimited", retry_after=7)
        slack.fail("chat.update", status=503)
        slack.fail("chat.delete", error="not_in_channel")
        slack.delay("views.publish", 3)
        verdicts = []
        for call in (
            lambda: client.chat_postMessage(channel="C1", text="x"),
            lambda: client.chat_update(channel="C1", ts="1.2", text="x"),
            lambda: client.chat_delete(channel="C1", ts="1.2"),
            lambda: client.views_publish(user_id="U1", view={"type": "home", "blocks": []}),
        ):
            with pytest.raises(Exception) as raised:
                call()
            verdicts.append(classify(raised.value))
    assert isinstance(verdicts[0], Retry) and verdicts[0].delay == 7.0
    assert isinstance(verdicts[1], Retry) and verdicts[1].delay is None
    assert verdicts[1].failure is Failure.REFUSED
    assert isinstance(verdicts[2], Permanent) and str(verdicts[2]) == "not_in_channel"
    assert isinstance(verdicts[3], Retry)


def test_an_item_failing_every_time_is_set_aside_and_its_lane_moves_on(db: Database) -> None:
    """One notice Slack refuses with 500 every time: after a few tries (seconds, not hours) it
    is set aside, marked failed with why, and the channel's next notice goes."""
    clock = MovableClock(T0)
    add(db, clock, ("post_card", "chan:C1", {"n": 1}), ("post_card", "chan:C1", {"n": 2}))
    tried: list[object] = []

    def deliver(item: Claimed) -> None:
        tried.append(item.payload["n"])
        if item.payload["n"] == 1:
            raise Retry("slack 500 internal_error", Failure.REFUSED)

    worker = OutboxWorker(Outbox(db, clock), deliver)
    for _ in range(40):
        worker.drain(5)
        clock.advance(timedelta(seconds=30))
    assert tried == [1] * SET_ASIDE_AFTER + [2]
    with db.read() as s:
        first, second = s.scalars(select(OutboxItem).order_by(OutboxItem.id)).all()
    assert first.status == FAILED and first.last_error == "slack 500 internal_error"
    assert second.status == DONE


def test_a_refused_token_holds_items_without_ever_dropping_them(db: Database) -> None:
    """invalid_auth (a token being rotated): the workspace's items wait, tried again every
    half minute, never set aside, and go once the token works."""
    clock = MovableClock(T0)
    add(db, clock, ("post_card", "chan:C1", {"n": 1}))
    refused = {"on": True}
    delivered: list[object] = []

    def deliver(item: Claimed) -> None:
        if refused["on"]:
            raise Retry("slack refused the token: invalid_auth", Failure.AUTH)
        delivered.append(item.payload["n"])

    worker = OutboxWorker(Outbox(db, clock), deliver)
    for _ in range(3 * SET_ASIDE_AFTER):
        worker.drain(5)
        clock.advance(timedelta(seconds=31))
    with db.read() as s:
        held = s.scalars(select(OutboxItem)).one()
    assert held.status == PENDING and held.last_failure == Failure.AUTH
    refused["on"] = False
    clock.advance(timedelta(seconds=31))
    worker.drain(5)
    assert delivered == [1]


def test_no_answer_waits_before_looking_again() -> None:
    """A timeout is unclear (the post may have landed); a token error holds; a 429 waits."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    def answer(status: int, error: str) -> SlackApiError:
        response = SlackResponse(
            client=None, http_verb="POST", api_url="x", req_args={},
            data={"ok": False, "error": error}, headers={}, status_code=status,
        )  # fmt: skip
        return SlackApiError("refused", response)

    assert classify(TimeoutError("timed out")).failure is Failure.UNCLEAR  # type: ignore[union-attr]
    assert classify(answer(200, "token_revoked")).failure is Failure.AUTH  # type: ignore[union-attr]
    assert classify(answer(200, "invalid_auth")).failure is Failure.AUTH  # type: ignore[union-attr]
    assert classify(answer(500, "internal_error")).failure is Failure.REFUSED  # type: ignore[union-attr]
    assert isinstance(classify(answer(200, "channel_not_found")), Permanent)
