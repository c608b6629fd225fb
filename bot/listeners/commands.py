"""`/orders`: help, list, search and view (and, in later modules, more subcommands)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners.common import COMMAND, SUBCOMMANDS, deps_of, subcommand
from bot.ui.format import SLACK_FORMAT, escape
from bot.ui.orders import SEARCH_CHARS, ListSpec, Message, render_error, render_help
from bot.ui.screens import detail_message, list_screen
from orders_core import errors
from orders_core.lifecycle import OrderStatus, parse_status_list
from orders_core.orders import (
    count_by_status,
    parse_order_number,
    resolve_caller,
    search_orders,
    search_words,
)

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """Listen to /orders."""
    app.command(COMMAND)(orders_command)


def orders_command(
    ack: Ack, command: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """`/orders TEXT`: answered in the ack itself (Slack shows it to the person alone), or a
    modal opened with the command's trigger_id before the ack."""
    message = answer(deps_of(context), command, client)
    if message is None:
        ack()
    else:
        ack(response_type="ephemeral", **message.as_kwargs())


def answer(deps: Deps, command: dict[str, Any], client: WebClient) -> Message | None:
    """What /orders TEXT answers; every mistake gets a short message, never silence."""
    text = (command.get("text") or "").strip()
    word, _, rest = text.partition(" ")
    name = word.lower()
    try:
        if name in SUBCOMMANDS:
            return SUBCOMMANDS[name](deps, command, rest.strip(), client)
        if parse_order_number(text) is not None:
            return view(deps, command, text, client)
        return render_error(
            f"I don't know `/orders {escape(clip_word(word))}`. Try `/orders list`, `/orders search 123`, "
            "`/orders view SO-000123` or `/orders help`."
        )
    except errors.OrdersError as exc:
        return render_error(exc.render(SLACK_FORMAT))


def clip_word(word: str) -> str:
    """A user's word, short enough to quote back."""
    return word if len(word) <= 40 else word[:39] + "…"


@subcommand("", "help")
def help_(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message:
    """Usage, with the caller's party and its counts."""
    with deps.db.read() as s:
        try:
            caller = resolve_caller(s, command["team_id"], command["user_id"])
        except errors.OrdersError as exc:
            message = render_help(None, None, None)
            return Message(
                message.text, [*message.blocks, *render_error(exc.render(SLACK_FORMAT)).blocks]
            )
        return render_help(caller.party_name, caller.party, count_by_status(s, caller.ref))


@subcommand("list", "ls")
def list_(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message:
    """The caller's orders, optionally only some statuses."""
    statuses, unknown = parse_status_list(rest)
    if unknown is not None:
        names = ", ".join(f"`{s.label.lower()}`" for s in OrderStatus)
        return render_error(
            f"I don't know the status `{escape(clip_word(unknown))}`. Use {names}, `open` or `all`."
        )
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        return list_screen(
            s, caller, ListSpec(tuple(sorted(statuses)) if statuses else None), deps.clock.now()
        )


@subcommand("search", "find")
def search(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message:
    """Orders found by number, the start of one, or words from them."""
    query = rest.strip()[:SEARCH_CHARS]
    if not search_words(query):
        return render_error(
            "Search by number or by words: `/orders search 123`, `/orders search SO-0001` or "
            "`/orders search cafe loyalty`."
        )
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        if not search_orders(s, caller.ref, query, limit=1).orders:
            return render_error(
                f"No order of yours matches `{escape(clip_word(query))}`: try fewer words, part of"
                " a number, or `/orders list` to see them all."
            )
        return list_screen(s, caller, ListSpec(query=query), deps.clock.now())


@subcommand("view", "show", "open")
def view(deps: Deps, command: dict[str, Any], rest: str, client: WebClient) -> Message:
    """One order and its timeline."""
    if not rest:
        return render_error("Which order? `/orders view SO-000123` (or just `/orders 123`).")
    with deps.db.read() as s:
        caller = resolve_caller(s, command["team_id"], command["user_id"])
        return detail_message(s, caller, rest, deps.clock.now())
