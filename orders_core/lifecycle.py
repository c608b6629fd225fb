"""The order lifecycle as data: statuses, parties, actions and THE table of transitions.

Everything that needs to know what may happen to an order (the actions, the buttons, the
reminders, the docs) reads `TRANSITIONS`; there is no second copy of these rules.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass


class OrderStatus(enum.StrEnum):
    """Where a service order is in its life."""

    NEW = "new"
    PENDING_CONFIRMATION = "pending_confirmation"
    IN_DEVELOPMENT = "in_development"
    UNDER_APPROVAL = "under_approval"
    COMPLETED = "completed"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        """The name people read: "Pending Confirmation"."""
        return self.value.replace("_", " ").title()

    @property
    def is_terminal(self) -> bool:
        """True when no action can move the order any more."""
        return not transitions_from(self)

    @property
    def waiting_on(self) -> Party | None:
        """The party whose action the order waits for, or None when it is finished."""
        parties = {t.party for t in transitions_from(self)}
        return parties.pop() if len(parties) == 1 else None


class Party(enum.StrEnum):
    """The two sides of an order."""

    MERCHANT = "merchant"
    PROVIDER = "provider"

    @property
    def label(self) -> str:
        """ "merchant" / "service provider"."""
        return "service provider" if self is Party.PROVIDER else "merchant"

    @property
    def other(self) -> Party:
        """The other side of the order."""
        return Party.PROVIDER if self is Party.MERCHANT else Party.MERCHANT


class Action(enum.StrEnum):
    """Everything a party can do to an order."""

    PLACE = "place"
    ACCEPT = "accept"
    DECLINE = "decline"
    CONFIRM = "confirm"
    REJECT = "reject"
    SUBMIT_FOR_APPROVAL = "submit_for_approval"
    APPROVE = "approve"
    REJECT_APPROVAL = "reject_approval"
    CANCEL = "cancel"


class Note(enum.StrEnum):
    """Timeline entries that are not status changes (the status stays as it was)."""

    SNOOZE = "snooze"
    MESSAGE = "message"
    """A message from one party to the other about the order (issue 20: 3)."""
    SLACK_MESSAGE = "slack_message"
    """A Slack message added to the order by the *Add to an order…* shortcut (issue 20: 2)."""

    @property
    def past(self) -> str:
        """What the timeline says: "snoozed reminders of", "sent a message"."""
        return {
            Note.SNOOZE: "snoozed reminders of",
            Note.MESSAGE: "sent a message",
            Note.SLACK_MESSAGE: "added a Slack message",
        }[self]


class ReasonRule(enum.StrEnum):
    """Whether an action takes a reason (or note) from the person acting."""

    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


class ServiceStatus(enum.StrEnum):
    """Where a service is in the Service Market; only Online services can be ordered."""

    DRAFT = "draft"
    PENDING_REVIEW = "pending_review"
    ONLINE = "online"
    WITHDRAWN = "withdrawn"
    TURNED_DOWN = "turned_down"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """The name people read: "Pending Review"."""
        return self.value.replace("_", " ").title()


class EventSource(enum.StrEnum):
    """Where an action came from, kept on the timeline."""

    SLACK = "slack"
    CLI = "cli"
    SCHEDULER = "scheduler"


@dataclass(frozen=True)
class Transition:
    """One row of the lifecycle: in `source`, `party` may `action`, and the order moves to `target`."""

    source: OrderStatus | None
    action: Action
    target: OrderStatus
    party: Party
    reason: ReasonRule
    files_allowed: bool
    label: str
    """The button's text."""
    past: str
    """What the timeline says: "confirmed"."""


# fmt: off
TRANSITIONS: tuple[Transition, ...] = (
    # source                            action                      target                          party            reason               files  label                 past
    Transition(None,                     Action.PLACE,               OrderStatus.NEW,                 Party.MERCHANT, ReasonRule.NONE,     False, "Order",              "placed"),
    Transition(OrderStatus.NEW,          Action.ACCEPT,              OrderStatus.PENDING_CONFIRMATION, Party.PROVIDER, ReasonRule.NONE,     False, "Accept",             "accepted"),
    Transition(OrderStatus.NEW,          Action.DECLINE,             OrderStatus.CANCELED,            Party.PROVIDER, ReasonRule.OPTIONAL, False, "Reject",             "rejected"),
    Transition(OrderStatus.PENDING_CONFIRMATION, Action.CONFIRM,     OrderStatus.IN_DEVELOPMENT,      Party.MERCHANT, ReasonRule.NONE,     False, "Confirm",            "confirmed"),
    Transition(OrderStatus.PENDING_CONFIRMATION, Action.REJECT,      OrderStatus.CANCELED,            Party.MERCHANT, ReasonRule.OPTIONAL, False, "Reject",             "rejected"),
    Transition(OrderStatus.IN_DEVELOPMENT, Action.SUBMIT_FOR_APPROVAL, OrderStatus.UNDER_APPROVAL,    Party.PROVIDER, ReasonRule.OPTIONAL, True,  "Submit for approval", "submitted for approval"),
    Transition(OrderStatus.IN_DEVELOPMENT, Action.CANCEL,            OrderStatus.CANCELED,            Party.PROVIDER, ReasonRule.REQUIRED, False, "Cancel",             "canceled"),
    Transition(OrderStatus.UNDER_APPROVAL, Action.APPROVE,           OrderStatus.COMPLETED,           Party.MERCHANT, ReasonRule.NONE,     False, "Approve",            "approved"),
    Transition(OrderStatus.UNDER_APPROVAL, Action.REJECT_APPROVAL,   OrderStatus.IN_DEVELOPMENT,      Party.MERCHANT, ReasonRule.REQUIRED, True,  "Reject",             "rejected"),
)
# fmt: on

MAX_REASON_LENGTH = 3000
"""Slack's plain_text_input limit; a longer reason could not have come from a modal."""

_BY_KEY: dict[tuple[OrderStatus | None, Action], Transition] = {
    (t.source, t.action): t for t in TRANSITIONS
}


def transition_for(status: OrderStatus | None, action: Action) -> Transition | None:
    """The row for `action` in `status`, or None when the action is not possible there."""
    return _BY_KEY.get((status, action))


def transitions_from(status: OrderStatus) -> tuple[Transition, ...]:
    """Every action possible in `status`, in table order."""
    return tuple(t for t in TRANSITIONS if t.source is status)


def actions_for(status: OrderStatus, party: Party) -> tuple[Transition, ...]:
    """The actions `party` may take on an order in `status` (the buttons it sees)."""
    return tuple(t for t in transitions_from(status) if t.party is party)


def rule_for_action(action: Action) -> Transition:
    """Any row of `action` (an action's party, reason rule and label do not depend on the status)."""
    for t in TRANSITIONS:
        if t.action is action:
            return t
    raise KeyError(action)


def action_named(word: str, status: OrderStatus | None = None) -> Action | None:
    """An action by its name (`reject_approval`) or its button's label (`Reject`).

    Several actions share a label, as Reject does in three statuses: the one `status` allows
    is meant, as on the button a person would press; None when no action has that name.
    """
    key = _SEPARATORS.sub("_", word.strip().lower())
    named = [
        t
        for t in TRANSITIONS
        if t.action is not Action.PLACE
        and key in (t.action.value, _SEPARATORS.sub("_", t.label.lower()))
    ]
    for t in named:
        if t.source is status:
            return t.action
    exact = [t.action for t in named if t.action.value == key]
    found = exact or [t.action for t in named]
    return found[0] if found else None


def replay(actions: Iterable[Action | Note]) -> OrderStatus:
    """The status reached by applying `actions` from nothing (notes change nothing);
    raises ValueError on an impossible step."""
    status: OrderStatus | None = None
    for action in actions:
        if isinstance(action, Note):
            continue
        t = transition_for(status, action)
        if t is None:
            raise ValueError(f"{action} is not possible in {status}")
        status = t.target
    if status is None:
        raise ValueError("an order starts by being placed")
    return status


_SEPARATORS = re.compile(r"[\s_\-]+")


def parse_status(text: str) -> OrderStatus | None:
    """`Pending confirmation`, `under-approval`, `IN_DEVELOPMENT` → the status; None if unknown."""
    key = _SEPARATORS.sub("_", text.strip().lower())
    try:
        return OrderStatus(key)
    except ValueError:
        return None


def parse_service_status(text: str) -> ServiceStatus | None:
    """`Online`, `pending review`, `turned-down` → the service status; None if unknown."""
    key = _SEPARATORS.sub("_", text.strip().lower())
    try:
        return ServiceStatus(key)
    except ValueError:
        return None


OPEN_STATUSES = frozenset(s for s in OrderStatus if not s.is_terminal)


def parse_status_list(text: str) -> tuple[frozenset[OrderStatus] | None, str | None]:
    """Status names in free text → (the statuses, None), or (None, None) for all of them.

    Names are case-insensitive with spaces, hyphens or underscores, several at once, commas
    allowed: `pending confirmation, under-approval`. `open` means every unfinished status and
    `all` (or nothing) every status. An unknown word comes back second: (None, "shipped").
    """
    words = [w for w in re.split(r"[\s,]+", text.strip().lower()) if w]
    found: set[OrderStatus] = set()
    everything = not words
    i = 0
    while i < len(words):
        pair = " ".join(words[i : i + 2]) if i + 1 < len(words) else None
        if pair is not None and (status := parse_status(pair)) is not None:
            found.add(status)
            i += 2
            continue
        word = words[i]
        if word == "all":
            everything = True
        elif word == "open":
            found |= OPEN_STATUSES
        elif (status := parse_status(word)) is not None:
            found.add(status)
        else:
            return None, word
        i += 1
    if everything or len(found) == len(OrderStatus):
        return None, None
    return frozenset(found), None


def lifecycle_markdown() -> str:
    """The table as Markdown, for docs/lifecycle.md (a test keeps the two the same)."""
    lines = [
        "| status | action (button) | party | reason | files | next status |",
        "|---|---|---|---|---|---|",
    ]
    for t in TRANSITIONS:
        lines.append(
            f"| {t.source.label if t.source else '(none)'} | {t.action.value} ({t.label}) "
            f"| {t.party.label} | {t.reason.value} | {'yes' if t.files_allowed else 'no'} "
            f"| {t.target.label} |"
        )
    return "\n".join(lines) + "\n"
