"""Block Kit for the Service Market: the services, the order form, and the confirmation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.ui.format import clip, escape
from bot.ui.orders import Block, Message, plain_text
from orders_core.catalog import ServiceView
from orders_core.orders import FIELD_LIMITS, OrderView

ORDER_SERVICE_ACTION = "service:order"
FORM_CALLBACK = "order_place"
FORM_SERVICE = "service"
FORM_APPS = "apps"
FORM_FIELDS = ("mini_program", "contact_name", "contact", "requirements")
MAX_SERVICE_CARDS = 15
MAX_OPTIONS = 100


def render_services(services: Sequence[ServiceView], *, can_order: bool) -> Message:
    """The Service Market: one card per Online service, each with an Order button."""
    blocks: list[Block] = [
        {"type": "header", "text": plain_text("Service Market", 150)},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Mini program development services you can order. "
                    + ("Press *Order* to start one." if can_order else "Only merchants can order."),
                }
            ],
        },
    ]
    if not services:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "No service is Online right now."},
            }
        )
    for service in services[:MAX_SERVICE_CARDS]:
        section: Block = {
            "type": "section",
            "block_id": f"service:{service.id}",
            "text": {
                "type": "mrkdwn",
                "text": clip(
                    f"*{escape(service.name)}*\n{escape(service.provider_name)} · {escape(service.industry or 'Any industry')}"
                    f" · {escape(service.type_label)}\n{escape(service.description)}",
                    3000,
                ),
            },
        }
        if can_order:
            section["accessory"] = {
                "type": "button",
                "action_id": ORDER_SERVICE_ACTION,
                "text": plain_text("Order"),
                "style": "primary",
                "value": str(service.id),
            }
        blocks.append(section)
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": clip(
                            f"*Applicable apps*\n{escape(', '.join(service.apps) or '—')}", 2000
                        ),
                    },
                    {
                        "type": "mrkdwn",
                        "text": clip(
                            f"*Payment terms*\n{escape(service.payment_terms or '—')}", 2000
                        ),
                    },
                ],
            }
        )
        blocks.append({"type": "divider"})
    hidden = len(services) - MAX_SERVICE_CARDS
    if hidden > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"+{hidden} more: `/orders new SERVICE NAME` orders any of them.",
                    }
                ],
            }
        )
    return Message(f"Service Market: {len(services)} services", blocks)


def _service_option(service: ServiceView) -> dict[str, Any]:
    return {
        "text": plain_text(f"{service.name} — {service.provider_name}"),
        "value": str(service.id),
    }


def apps_block_id(service_id: int) -> str:
    """The apps block is named after its service, so switching service clears the old choice."""
    return f"{FORM_APPS}:{service_id}"


def render_order_form(
    services: Sequence[ServiceView], chosen: ServiceView, metadata: Mapping[str, Any]
) -> dict[str, Any]:
    """The order modal: service, mini program, apps, contact name, contact, requirements."""
    options = [_service_option(s) for s in services[:MAX_OPTIONS]]
    blocks: list[Block] = [
        {
            "type": "input",
            "block_id": FORM_SERVICE,
            "dispatch_action": True,  # choosing another service redraws the apps
            "label": plain_text("Service"),
            "element": {
                "type": "static_select",
                "action_id": FORM_SERVICE,
                "options": options,
                "initial_option": _service_option(chosen),
            },
            "hint": plain_text(
                clip(f"{chosen.provider_name} · {chosen.payment_terms or 'terms on request'}", 150),
                2000,
            ),
        },
        _text_input(
            "mini_program", "Mini program name", "Acme Rewards", FIELD_LIMITS["mini_program"]
        ),
    ]
    if chosen.apps:
        blocks.append(
            {
                "type": "input",
                "block_id": apps_block_id(chosen.id),
                "label": plain_text("Applicable apps"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": FORM_APPS,
                    "placeholder": plain_text("Choose the apps"),
                    "options": [
                        {"text": plain_text(a), "value": a[:150]} for a in chosen.apps[:MAX_OPTIONS]
                    ],
                },
            }
        )
    blocks += [
        _text_input("contact_name", "Contact name", "Ana Lim", FIELD_LIMITS["contact_name"]),
        _text_input(
            "contact",
            "Contact (phone or email)",
            "+65 6123 4567 or ana@acme.test",
            FIELD_LIMITS["contact"],
        ),
        _text_input(
            "requirements",
            "Requirements",
            "What the mini program should do",
            FIELD_LIMITS["requirements"],
            multiline=True,
            optional=True,
        ),
    ]
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": plain_text("Order a service", 24),
        "submit": plain_text("Place order", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": json.dumps(dict(metadata), separators=(",", ":")),
        "blocks": blocks,
    }


def _text_input(
    block_id: str,
    label: str,
    placeholder: str,
    limit: int,
    *,
    multiline: bool = False,
    optional: bool = False,
) -> Block:
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain_text(label),
        "element": {
            "type": "plain_text_input",
            "action_id": block_id,
            "multiline": multiline,
            "max_length": limit,
            "placeholder": plain_text(placeholder, 150),
        },
    }


def render_order_placed(order: OrderView) -> dict[str, Any]:
    """What the order modal turns into once the order is placed."""
    return {
        "type": "modal",
        "title": plain_text("Order placed", 24),
        "close": plain_text("Done", 24),
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":white_check_mark: *{order.code}* is placed: {escape(order.service_name)} for "
                    f"_{escape(order.mini_program)}_.\n{escape(order.provider_name)} has been notified and will accept or reject it.",
                },
            }
        ],
    }


def placed_message(order: OrderView) -> Message:
    """The merchant's ephemeral confirmation."""
    text = (
        f":white_check_mark: Order *{order.code}* placed: {escape(order.service_name)} for _{escape(order.mini_program)}_. "
        f"{escape(order.provider_name)} has been asked to accept it. `/orders view {order.code}` shows it."
    )
    return Message(
        text.replace("*", ""), [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    )
