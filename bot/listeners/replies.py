"""Telling the person who clicked: an ephemeral answer wherever they clicked from."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery.deliveries import post_response_url
from bot.delivery.outbox import Permanent, Retry
from bot.ui.format import SLACK_FORMAT
from bot.ui.orders import Message, render_error
from orders_core.errors import OrdersError

log = logging.getLogger(__name__)


def error_modal(message: Message) -> dict[str, Any]:
    """A small modal carrying a refusal (for clicks inside modals and the Home tab)."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Not possible"},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": message.blocks,
    }


def tell(client: WebClient, body: dict[str, Any], message: Message) -> None:
    """Answer the clicker only: through the response_url, as an ephemeral, or in a modal."""
    try:
        if body.get("response_url"):
            post_response_url(body["response_url"], message, replace_original=False)
            return
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        if container.get("type") == "view" and body.get("trigger_id"):
            try:
                open_error_modal(client, body, message)
            except SlackApiError as exc:
                if not user:
                    raise
                # The trigger lapsed (its 3 s ran out behind a backlog) or Slack refused the
                # modal: the refusal goes to the clicker's direct messages instead.
                log.info("no modal for a refusal (%s): telling %s directly", exc, user)
                client.chat_postMessage(channel=user, **message.as_kwargs())
        elif channel and user:
            client.chat_postEphemeral(channel=channel, user=user, **message.as_kwargs())
    except (SlackApiError, Retry, Permanent, OSError) as exc:
        # Nothing changed, and Slack is not listening: the log is all we can do.
        log.warning("could not tell %s: %s", (body.get("user") or {}).get("id"), exc)


def open_error_modal(client: WebClient, body: dict[str, Any], message: Message) -> None:
    """The refusal in a modal: pushed over the modal clicked in, or opened over the Home tab."""
    if (body.get("view") or {}).get("type") == "modal":
        client.views_push(trigger_id=body["trigger_id"], view=error_modal(message))
    else:
        client.views_open(trigger_id=body["trigger_id"], view=error_modal(message))


def refuse(client: WebClient, body: dict[str, Any], exc: Exception) -> None:
    """Tell the clicker why nothing happened: a domain error's own words, or a stale button."""
    text = (
        exc.render(SLACK_FORMAT)
        if isinstance(exc, OrdersError)
        else "That button is out of date or not one of ours: open the list again."
    )
    tell(client, body, render_error(text))
