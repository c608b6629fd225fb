"""Block Kit for reminders: the digest, its collapsed form, and the `/orders remind` modals."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.ui.format import STATUS_ICON, channel_link, clip, duration, escape, link, when
from bot.ui.orders import Block, Message, action_buttons, order_summary, plain_text
from orders_core.lifecycle import OrderStatus, Party
from orders_core.orders import OrderView
from orders_core.reminders import (
    DAY_NAMES,
    SNOOZES,
    DueOrder,
    PolicyView,
    allowed_statuses,
    default_statuses,
)

SNOOZE_ACTION = "remind:snooze"
DIGEST_MORE_ACTION = "digest:more"
DIGEST_ROWS = 20
REMIND_LIST_CALLBACK = "remind_list"
REMIND_FORM_CALLBACK = "remind_form"
REMIND_ADD = "remind:add"
REMIND_EDIT = "remind:edit"
REMIND_TEST = "remind:test"
REMIND_TOGGLE = "remind:toggle"
REMIND_DELETE = "remind:delete"


def _snooze_menu(order: OrderView) -> Block:
    return {
        "type": "overflow",
        "action_id": SNOOZE_ACTION,
        "options": [
            {"text": plain_text(f"Snooze {label}"), "value": f"{order.number}:{key}"}
            for key, label in SNOOZES.items()
        ],
    }


def digest_row(
    order: OrderView,
    policy: PolicyView,
    now: datetime,
    age: timedelta,
    snoozed_until: datetime | None,
    run_id: int,
) -> list[Block]:
    """One order in a digest: summary with its age and who it waits on; buttons and a Snooze menu."""
    where = {"kind": "digest", "run": run_id}
    # A digest is drawn for the moment it is posted (or redrawn): its ages count at that moment;
    # the next one folds it into a line that says when it was posted.
    summary = order_summary(order, policy.party, now, where, fresh=True)
    waits = order.status.waiting_on
    if order.status in policy.statuses and waits is not None:
        who = "you" if waits is policy.party else order.party_name(waits)
        summary["text"]["text"] += f"\nWaiting on {escape(who)} for {duration(age)}"
    if snoozed_until is not None:
        summary["text"]["text"] += f"\n:zzz: Snoozed until {when(snoozed_until)}"
    elements = action_buttons(order, policy.party, where)
    if snoozed_until is None and not order.status.is_terminal:
        elements.append(_snooze_menu(order))
    blocks = [summary]
    if elements:
        blocks.append(
            {"type": "actions", "block_id": f"digest:{order.number}", "elements": elements}
        )
    return blocks


def digest_order_ids(orders: Sequence[DueOrder]) -> list[int]:
    """The orders a digest shows as rows, in its order (by status, oldest first): the rest are "+N more"."""
    ids: list[int] = []
    for status in OrderStatus:
        ids += [
            o.id
            for o in sorted(
                (o for o in orders if o.status is status), key=lambda o: (o.status_changed_at, o.id)
            )
        ]
    return ids[:DIGEST_ROWS]


def render_digest(
    policy: PolicyView,
    orders: Sequence[DueOrder],
    views: Mapping[int, OrderView],
    ages: Mapping[int, timedelta],
    snoozed: Mapping[int, datetime],
    now: datetime,
    *,
    run_id: int,
    test: bool = False,
) -> Message:
    """The digest: counts, then the orders oldest first by status, with buttons; "+N more" past the limit.

    `orders` are all the digest's orders (light: status and age); `views` the rows it shows.
    """
    by_status: dict[OrderStatus, list[DueOrder]] = {}
    for order in orders:
        by_status.setdefault(order.status, []).append(order)
    waiting = [o for o in orders if o.status in policy.statuses]
    title = f"{len(waiting)} order{'s' if len(waiting) != 1 else ''} waiting on {policy.party_name}"
    counts = " · ".join(f"{STATUS_ICON[s]} {s.label} {len(v)}" for s, v in by_status.items())
    oldest = max(ages.values(), default=timedelta(0))
    blocks: list[Block] = [
        {
            "type": "header",
            "text": plain_text(clip(("Test reminder: " if test else "") + title, 150), 150),
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": clip(
                        f"{counts or 'Nothing is due'} · oldest waited {duration(oldest)} · {escape(policy.describe())}",
                        3000,
                    ),
                }
            ],
        },
    ]
    shown = 0
    for status in sorted(by_status, key=lambda s: list(OrderStatus).index(s)):
        group = sorted(by_status[status], key=lambda o: (o.status_changed_at, o.id))
        if shown >= DIGEST_ROWS:
            break
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{status.label}* ({len(group)})"},
            }
        )
        for order in group:
            view = views.get(order.id)
            if shown >= DIGEST_ROWS or view is None:
                break
            blocks += digest_row(
                view, policy, now, ages.get(order.id, timedelta(0)), snoozed.get(order.id), run_id
            )
            shown += 1
    if len(orders) > shown:
        blocks.append(
            {
                "type": "actions",
                "block_id": "digest:more",
                "elements": [
                    {
                        "type": "button",
                        "action_id": DIGEST_MORE_ACTION,
                        "text": plain_text(f"+{len(orders) - shown} more: list them all"),
                        "value": str(run_id),
                    }
                ],
            }
        )
    text = ("Test reminder: " if test else "Reminder: ") + escape(title)
    return Message(text, blocks[:50])


def render_collapsed(permalink: str | None, posted_at: datetime | None) -> Message:
    """An older digest, folded to one line pointing to the newer one."""
    newer = link(permalink, "the newer reminder") if permalink else "the newer reminder below"
    since = f" (posted {when(posted_at)})" if posted_at else ""
    text = f":arrow_down: This reminder{since} has been replaced by {newer}."
    return Message(
        "This reminder has been replaced by a newer one.",
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}],
    )


# -- /orders remind -------------------------------------------------------------------------------


def policy_summary(policy: PolicyView) -> str:
    """One line a person can read."""
    statuses = ", ".join(s.label for s in policy.statuses)
    age = f"older than {duration(policy.min_age)}" + (
        " (working days)" if policy.working_days_only else ""
    )
    escalate = f" · DM after {duration(policy.escalate_after)}" if policy.escalate_after else ""
    state = "" if policy.enabled else " · *off*"
    return f"*{escape(policy.party_name)}*: {escape(policy.describe())} · {statuses} · {age}{escalate}{state}"


def render_remind_list(
    policies: Sequence[PolicyView], channel_id: str, party_id: int, notice: str | None = None
) -> dict[str, Any]:
    """The modal that lists a channel's reminders and adds, edits, deletes or tests them."""
    blocks: list[Block] = []
    if notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(notice, 3000)}})
    blocks += [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Reminders in {channel_link(channel_id)}*"},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "A digest of the orders still waiting on a party, posted here on schedule; only when something is due.",
                }
            ],
        },
        {"type": "divider"},
    ]
    if not policies:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "No reminders here yet."}}
        )
    for p in policies[:20]:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": clip(f"#{p.id} · " + policy_summary(p), 3000)},
            }
        )
        if p.party_id == party_id:
            value = str(p.id)
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"policy:{p.id}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": REMIND_EDIT,
                            "text": plain_text("Edit"),
                            "value": value,
                        },
                        {
                            "type": "button",
                            "action_id": REMIND_TEST,
                            "text": plain_text("Send a test now"),
                            "value": value,
                        },
                        {
                            "type": "button",
                            "action_id": REMIND_TOGGLE,
                            "text": plain_text("Turn off" if p.enabled else "Turn on"),
                            "value": value,
                        },
                        {
                            "type": "button",
                            "action_id": REMIND_DELETE,
                            "text": plain_text("Delete"),
                            "style": "danger",
                            "value": value,
                            "confirm": {
                                "title": plain_text("Delete this reminder?", 100),
                                "text": {
                                    "type": "plain_text",
                                    "text": clip(f"{p.describe()} for {p.party_name}", 300),
                                },
                                "confirm": plain_text("Delete", 30),
                                "deny": plain_text("Keep it", 30),
                            },
                        },
                    ],
                }
            )
    blocks.append(
        {
            "type": "actions",
            "block_id": "remind:controls",
            "elements": [
                {
                    "type": "button",
                    "action_id": REMIND_ADD,
                    "text": plain_text("Add a reminder"),
                    "style": "primary",
                    "value": channel_id,
                }
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": REMIND_LIST_CALLBACK,
        "title": plain_text("Reminders", 24),
        "close": plain_text("Done", 24),
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": blocks[:100],
    }


def _checkbox(value: str, label: str) -> dict[str, Any]:
    return {"text": plain_text(label), "value": value}


def render_remind_form(
    *,
    channel_id: str,
    party: Party,
    policy: PolicyView | None,
    default_zone: str,
    root_view_id: str | None,
) -> dict[str, Any]:
    """Add or edit a reminder: days, times, time zone, statuses, minimum age, escalation, on/off."""
    days = policy.days if policy else (0, 1, 2, 3, 4)
    statuses = policy.statuses if policy else None
    day_options = [_checkbox(str(i), name.capitalize()) for i, name in enumerate(DAY_NAMES)]
    status_options = [_checkbox(s.value, s.label) for s in allowed_statuses(party)]
    wanted = set(statuses or default_statuses(party))
    chosen_statuses = [o for o in status_options if OrderStatus(o["value"]) in wanted]
    options = [
        _checkbox("working_days", "Count the age in working days only (Mon to Fri)"),
        _checkbox("enabled", "On"),
    ]
    chosen_options = [
        o
        for o in options
        if (o["value"] == "enabled" and (policy is None or policy.enabled))
        or (o["value"] == "working_days" and policy is not None and policy.working_days_only)
    ]
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": "days",
            "label": plain_text("Days"),
            "element": {
                "type": "checkboxes",
                "action_id": "days",
                "options": day_options,
                "initial_options": [o for o in day_options if int(o["value"]) in days],
            },
        },
        _text(
            "times",
            "Times of day (HH:MM, several with commas)",
            ", ".join(policy.times) if policy else "09:30",
        ),
        _text("time_zone", "Time zone (IANA name)", policy.time_zone if policy else default_zone),
        {
            "type": "input",
            "block_id": "statuses",
            "label": plain_text("Include orders that are"),
            "element": {
                "type": "checkboxes",
                "action_id": "statuses",
                "options": status_options,
                **({"initial_options": chosen_statuses} if chosen_statuses else {}),
            },
        },
        _text(
            "min_age",
            "Only orders waiting at least (hours)",
            str(int(policy.min_age.total_seconds() // 3600)) if policy else "24",
        ),
        _text(
            "escalate_after",
            "Also DM the party's members after (hours; blank = never)",
            str(int(policy.escalate_after.total_seconds() // 3600))
            if policy and policy.escalate_after
            else ("" if policy else "72"),
            optional=True,
        ),
        {
            "type": "input",
            "block_id": "options",
            "optional": True,
            "label": plain_text("Options"),
            "element": {
                "type": "checkboxes",
                "action_id": "options",
                "options": options,
                **({"initial_options": chosen_options} if chosen_options else {}),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": REMIND_FORM_CALLBACK,
        "title": plain_text("Edit reminder" if policy else "Add a reminder", 24),
        "submit": plain_text("Save", 24),
        "close": plain_text("Back", 24),
        "private_metadata": json.dumps(
            {"channel": channel_id, "policy": policy.id if policy else None, "root": root_view_id}
        ),
        "blocks": blocks,
    }


def _text(block_id: str, label: str, initial: str, *, optional: bool = False) -> Block:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": block_id, "max_length": 200}
    if initial:
        element["initial_value"] = initial
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain_text(label, 2000),
        "element": element,
    }
