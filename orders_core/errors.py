"""Domain errors, each carrying what a person needs to read to understand what happened.

The messages mention people by their Slack user id and times as datetimes; `render()` lets each
adapter (Slack mrkdwn, the CLI) format them its own way, and quote what users wrote (a number
they typed, a name, a reason) safely: every render passes such text through `fmt.text`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from orders_core.lifecycle import OrderStatus, Party, ServiceStatus


def plain_user(user_id: str) -> str:
    """A user as the CLI shows them."""
    return user_id


def plain_text(text: str) -> str:
    """User text as the CLI shows it: as it was written."""
    return text


def plain_time(at: datetime) -> str:
    """A time as the CLI shows it, to follow a verb: `on 2026-11-27 at 10:42 UTC`."""
    return at.strftime("on %Y-%m-%d at %H:%M UTC")


CLI_COMMANDS = {
    "search": "orders-bot orders search {arg} --as {user}",
    "list": "orders-bot orders list --as {user}",
    "services": "orders-bot service list --status Online",
}
"""What the command line offers for each `/orders` subcommand a message may suggest."""


def cli_command(name: str, arg: str = "", user: str = "USER_ID") -> str:
    """`/orders search 12` as the command line spells it, for the member acting (`--as`)."""
    return "`" + CLI_COMMANDS[name].format(arg=arg, user=user).replace("  ", " ") + "`"


@dataclass(frozen=True)
class Formatter:
    """How an adapter shows people, times, commands and user text inside error messages."""

    user: Callable[[str], str] = plain_user
    time: Callable[[datetime], str] = plain_time
    code: Callable[[str], str] = lambda text: f"`{text}`"
    text: Callable[[str], str] = plain_text
    """What a user typed or a payload carried, made safe for the adapter (Slack escapes it)."""
    command: Callable[[str, str], str] = cli_command
    """One of the adapter's own commands by name (`search`, `list`, `services`) and argument:
    Slack suggests `/orders search 12`, the command line `orders-bot orders search 12 --as …`."""


PLAIN = Formatter()


class OrdersError(Exception):
    """Anything a user can cause that stops an action; nothing was written."""

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message, with people and times shown by `fmt`."""
        # The message may quote a name or what was typed (NotFound, Conflict, FixtureError).
        return fmt.text(str(self.args[0])) if self.args else self.__class__.__name__

    def __str__(self) -> str:
        return self.render(PLAIN)


class WorkspaceNotFound(OrdersError):
    """The Slack workspace has not been onboarded."""

    def __init__(self, team_id: str) -> None:
        super().__init__(team_id)
        self.team_id = team_id

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"This Slack workspace ({fmt.text(self.team_id)}) is not onboarded yet. "
            f"An admin can add it with {fmt.code(f'orders-bot workspace add {self.team_id}')}."
        )


class NotAMember(OrdersError):
    """The user belongs to no merchant or service provider of the workspace."""

    def __init__(self, user_id: str, team_id: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id
        self.team_id = team_id

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        cmd = f"orders-bot member add --workspace {self.team_id} --party NAME {self.user_id}"
        return (
            f"{fmt.user(self.user_id)} is not a member of any merchant or service provider "
            f"in this workspace. Ask an admin to add you: {fmt.code(cmd)}."
        )


class WrongParty(OrdersError):
    """The user's party may not take this action on this order."""

    def __init__(self, number: str, verb: str, party: Party, party_name: str) -> None:
        super().__init__(number)
        self.number = number
        self.verb = verb
        self.party = party
        self.party_name = party_name

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"Only {fmt.text(self.party_name)} (the {self.party.label}) can {self.verb} {self.number}; "
            "you are not one of its members."
        )


class OnlyMerchantsOrder(OrdersError):
    """A service provider's member tried to order a service."""

    def __init__(self, party_name: str) -> None:
        super().__init__(party_name)
        self.party_name = party_name

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"Only merchants can order services; you are a member of {fmt.text(self.party_name)}, "
            "a service provider."
        )


class OrderNotFound(OrdersError):
    """No order with that number is visible to the user."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"There is no order {fmt.text(self.text)} among your orders. "
            f"Try {fmt.command('search', self.text)} or {fmt.command('list', '')}."
        )


class StaleAction(OrdersError):
    """The order has moved on: the action no longer applies to its status.

    Also what the loser of two simultaneous actions gets, naming who acted first.
    """

    def __init__(
        self,
        number: str,
        attempted: str,
        status: OrderStatus,
        last_actor: str | None,
        last_past: str,
        last_at: datetime,
        needs: OrderStatus | None = None,
    ) -> None:
        super().__init__(number)
        self.needs = needs
        self.number = number
        self.attempted = attempted
        self.status = status
        self.last_actor = last_actor
        self.last_past = last_past
        self.last_at = last_at

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        who = fmt.user(self.last_actor) if self.last_actor else "the system"
        what = f"{self.number} is {self.status.label}: it was {self.last_past} by {who} {fmt.time(self.last_at)}"
        if self.needs is not None:
            return f"{what}; it can be {self.attempted} once it is {self.needs.label}."
        return f"{what}, so it can no longer be {self.attempted}."


class ReasonRequired(OrdersError):
    """A required reason is missing or blank."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return f"A reason is required to {self.what}: please say why."


class ReasonTooLong(OrdersError):
    """A reason or note is over Slack's 3,000-character input limit."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(length)
        self.length = length
        self.limit = limit

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"The reason is {self.length:,} characters long; the limit is {self.limit:,}. "
            "Please shorten it."
        )


class ReasonNotAccepted(OrdersError):
    """The action takes no reason or no files."""

    def __init__(self, what: str, verb: str) -> None:
        super().__init__(what)
        self.what = what
        self.verb = verb

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return f"You cannot attach {self.what} when you {self.verb} an order."


class ServiceNotFound(OrdersError):
    """No service with that name or id in the workspace."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"There is no service {fmt.text(repr(self.name))} in the Service Market. "
            f"See {fmt.command('services', '')} for what can be ordered."
        )


class ServiceNotOrderable(OrdersError):
    """The service exists but is not Online."""

    def __init__(self, name: str, status: ServiceStatus) -> None:
        super().__init__(name)
        self.name = name
        self.status = status

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        return (
            f"{fmt.text(self.name)} is {self.status.label}: only Online services can be ordered. "
            f"See {fmt.command('services', '')} for what can be ordered."
        )


class InvalidInput(OrdersError):
    """One or more fields are invalid; `fields` maps each field to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(dict(fields))
        self.fields = dict(fields)

    def render(self, fmt: Formatter = PLAIN) -> str:
        """The message."""
        # Each field's message may quote what was typed ("'<x>' is not an order number").
        return " ".join(fmt.text(message) for message in self.fields.values())


class NotFound(OrdersError):
    """An admin named something (a party, a member) that does not exist."""


class Conflict(OrdersError):
    """An admin asked for something that contradicts what exists (a member of two parties)."""
