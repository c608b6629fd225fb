"""Exporting orders with their timelines (CSV or JSON), in batches, whatever their number."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders_core.models import EventFile, Order, OrderEvent, Workspace
from orders_core.orders import OrderView, TimelineEntry, _to_entry, _to_file, get_orders_by_id

BATCH = 500

CSV_COLUMNS = [
    "workspace", "number", "service", "merchant", "provider", "mini_program", "apps", "contact_name",
    "contact", "requirements", "status", "version", "created_at", "updated_at", "status_changed_at",
    "event_seq", "event_action", "event_actor", "event_party", "event_from", "event_to",
    "event_reason", "event_files", "event_source", "event_at",
]  # fmt: skip


def orders_with_timelines(
    session: Session, workspace_id: int | None = None
) -> Iterator[tuple[str, OrderView, tuple[TimelineEntry, ...]]]:
    """Every order (of one workspace, or all) with its team id and timeline, oldest first."""
    teams: dict[int, str] = {
        i: t for i, t in session.execute(select(Workspace.id, Workspace.team_id))
    }
    after = 0
    while True:
        query = select(Order.id).where(Order.id > after).order_by(Order.id).limit(BATCH)
        if workspace_id is not None:
            query = query.where(Order.workspace_id == workspace_id)
        ids = list(session.scalars(query))
        if not ids:
            return
        after = ids[-1]
        events = list(
            session.scalars(
                select(OrderEvent)
                .where(OrderEvent.order_id.in_(ids))
                .order_by(OrderEvent.order_id, OrderEvent.seq)
            )
        )
        files: dict[int, list[Any]] = {}
        for f in session.scalars(
            select(EventFile)
            .where(EventFile.event_id.in_([e.id for e in events]))
            .order_by(EventFile.id)
        ):
            files.setdefault(f.event_id, []).append(_to_file(f))
        by_order: dict[int, list[TimelineEntry]] = {}
        for e in events:
            by_order.setdefault(e.order_id, []).append(_to_entry(e, files.get(e.id, [])))
        for order in sorted(get_orders_by_id(session, ids), key=lambda o: o.id):
            yield teams[order.workspace_id], order, tuple(by_order.get(order.id, []))


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def write_csv(session: Session, out: IO[str], workspace_id: int | None = None) -> int:
    """One row per timeline entry, with its order's fields; returns the number of orders."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for team, o, timeline in orders_with_timelines(session, workspace_id):
        count += 1
        base = [
            team, o.code, o.service_name, o.merchant_name, o.provider_name, o.mini_program, ";".join(o.apps),
            o.contact_name, o.contact, o.requirements, o.status.value, o.version, _iso(o.created_at),
            _iso(o.updated_at), _iso(o.status_changed_at),
        ]  # fmt: skip
        for e in timeline:
            writer.writerow(
                [
                    *base,
                    e.seq,
                    e.action.value,
                    e.actor_user_id or "",
                    e.actor_party.value if e.actor_party else "",
                    e.from_status.value if e.from_status else "",
                    e.to_status.value,
                    e.reason or "",
                    json.dumps([asdict(f) for f in e.files]) if e.files else "",
                    e.source.value,
                    _iso(e.created_at),
                ]
            )
    return count


def write_json(session: Session, out: IO[str], workspace_id: int | None = None) -> int:
    """A JSON array of orders, each with its timeline and files; returns the number of orders."""
    out.write("[")
    count = 0
    for team, order, timeline in orders_with_timelines(session, workspace_id):
        fields = {
            k: _jsonable(v)
            for k, v in asdict(order).items()
            if not k.endswith("id") or k == "placed_by"
        }
        data = {
            "workspace": team,
            **fields,
            "number": order.code,
            "timeline": [
                {k: _jsonable(v) for k, v in asdict(e).items() if k != "id"} for e in timeline
            ],
        }
        out.write(("," if count else "") + "\n" + json.dumps(data, ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
