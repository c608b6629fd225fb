"""Loading a YAML fixture: a workspace, its parties, members, services and orders.

Orders reach their listed status through the real actions, each done by a member of the party
the lifecycle table names, so their timelines are true. Loading is all-or-nothing and may be
repeated: nothing named (a party, a member, a service, a numbered order) is created twice.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from orders_core import errors
from orders_core.catalog import add_service, find_service
from orders_core.lifecycle import (
    TRANSITIONS,
    Action,
    EventSource,
    OrderStatus,
    Party,
    ReasonRule,
    parse_service_status,
    parse_status,
)
from orders_core.models import Order, PartyOrg, Workspace, utcnow
from orders_core.onboarding import (
    add_member,
    add_party,
    add_workspace,
    caller_for,
    find_party,
    party_members,
)
from orders_core.orders import OrderDraft, act, parse_order_number, place_order
from orders_core.reminders import PolicySpec, list_policies, parse_days, parse_times, save_policy

DEMO_FIXTURE = "demo.yml"


class FixtureError(errors.OrdersError):
    """A fixture that cannot be loaded: which file, which entry, and why."""


@dataclass
class LoadReport:
    """What a fixture load did."""

    workspace: str
    parties: int = 0
    members: int = 0
    services: int = 0
    orders_created: list[str] = field(default_factory=list)
    orders_skipped: list[str] = field(default_factory=list)
    reminders: int = 0


def demo_fixture_path() -> Path:
    """The demo fixture shipped with the project."""
    return Path(str(resources.files("orders_core") / "fixtures" / DEMO_FIXTURE))


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_age(text: str | int | float) -> timedelta:
    """`90m`, `36h`, `3d`, `2w` (or a number of hours) → a timedelta."""
    if isinstance(text, int | float):
        return timedelta(hours=text)
    match = _AGE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not an age like 90m, 36h, 3d or 2w")
    return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})


def path_to(status: OrderStatus) -> list[Action]:
    """The shortest sequence of actions, from nothing, that reaches `status` (read off the table)."""
    queue: deque[tuple[OrderStatus | None, list[Action]]] = deque([(None, [])])
    seen: set[OrderStatus | None] = {None}
    while queue:
        current, actions = queue.popleft()
        if current is status:
            return actions
        for t in TRANSITIONS:
            if t.source is current and t.target not in seen:
                seen.add(t.target)
                queue.append((t.target, [*actions, t.action]))
    raise ValueError(f"{status} cannot be reached")


def load_fixture(session: Session, path: str | Path, *, now: datetime | None = None) -> LoadReport:
    """Load a fixture file into the session's transaction; raises FixtureError on a bad one."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read it ({exc.strerror}).") from exc
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from exc
    return _Loader(session, str(path), now or utcnow()).load(data)


class _Loader:
    def __init__(self, session: Session, source: str, now: datetime) -> None:
        self.session = session
        self.source = source
        self.now = now

    def fail(self, where: str, why: str) -> FixtureError:
        return FixtureError(f"{self.source}: {where}: {why}")

    def load(self, data: Any) -> LoadReport:
        if not isinstance(data, dict) or not isinstance(data.get("workspace"), dict):
            raise self.fail("workspace", "a fixture starts with `workspace: {team_id: T…}`.")
        ws = data["workspace"]
        if not ws.get("team_id"):
            raise self.fail("workspace", "team_id is required.")
        workspace = add_workspace(
            self.session,
            str(ws["team_id"]),
            ws.get("name"),
            enterprise_id=ws.get("enterprise_id"),
            time_zone=ws.get("time_zone"),
        )
        report = LoadReport(workspace.team_id)
        for kind, key in ((Party.MERCHANT, "merchants"), (Party.PROVIDER, "providers")):
            for i, entry in enumerate(self._list(data, key)):
                self._party(workspace, kind, f"{key}[{i}]", entry, report)
        for i, entry in enumerate(self._list(data, "services")):
            self._service(workspace, f"services[{i}]", entry)
            report.services += 1
        for i, entry in enumerate(self._list(data, "orders")):
            self._order(workspace, f"orders[{i}]", entry, report)
        for i, entry in enumerate(self._list(data, "reminders")):
            self._reminder(workspace, f"reminders[{i}]", entry, report)
        return report

    def _reminder(
        self, workspace: Workspace, where: str, entry: dict[str, Any], report: LoadReport
    ) -> None:
        """A reminder policy for a party; one per (party, channel), so reloading duplicates nothing."""
        try:
            party = find_party(self.session, workspace.id, str(entry.get("party", "")))
            channel = str(entry.get("channel") or party.channel_id or "")
            existing = [
                p
                for p in list_policies(self.session, workspace_id=workspace.id, channel_id=channel)
                if p.party_id == party.id
            ]
            escalate = entry.get("escalate_after", "72h")
            spec = PolicySpec(
                channel_id=channel,
                days=parse_days(str(entry.get("days", "weekdays"))),
                times=parse_times(str(entry.get("times", "09:30"))),
                time_zone=entry.get("time_zone"),
                min_age=parse_age(entry.get("min_age", "24h")),
                working_days_only=bool(entry.get("working_days", False)),
                escalate_after=None if str(escalate).lower() == "never" else parse_age(escalate),
            )
            caller = caller_for(self.session, workspace.team_id, party, self._first_member(party))
            save_policy(
                self.session,
                caller,
                spec,
                policy_id=existing[0].id if existing else None,
                now=self.now,
            )
        except (errors.OrdersError, ValueError) as exc:
            raise self.fail(f"{where} ({entry.get('party')})", str(exc)) from exc
        report.reminders += 1

    def _list(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        items = data.get(key) or []
        if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
            raise self.fail(key, "expected a list of mappings.")
        return items

    def _party(
        self,
        workspace: Workspace,
        kind: Party,
        where: str,
        entry: dict[str, Any],
        report: LoadReport,
    ) -> None:
        name = entry.get("name")
        if not name:
            raise self.fail(where, "name is required.")
        try:
            party = add_party(
                self.session, workspace, kind, str(name), channel_id=entry.get("channel")
            )
            for user_id in entry.get("members") or []:
                add_member(self.session, party, str(user_id))
                report.members += 1
        except errors.OrdersError as exc:
            raise self.fail(f"{where} ({name})", str(exc)) from exc
        report.parties += 1

    def _service(self, workspace: Workspace, where: str, entry: dict[str, Any]) -> None:
        name = entry.get("name")
        if not name or not entry.get("provider"):
            raise self.fail(where, "name and provider are required.")
        status = parse_service_status(str(entry.get("status", "Online")))
        if status is None:
            raise self.fail(
                f"{where} ({name})",
                f"unknown status {entry.get('status')!r}: use Draft, Pending Review, Online, "
                "Withdrawn, Turned Down or Archived.",
            )
        try:
            add_service(
                self.session,
                workspace,
                provider_name=str(entry["provider"]),
                name=str(name),
                status=status,
                industry=entry.get("industry"),
                description=entry.get("description"),
                apps=[str(a) for a in entry.get("apps") or []],
                payment_terms=entry.get("payment_terms"),
            )
        except errors.OrdersError as exc:
            raise self.fail(f"{where} ({name})", str(exc)) from exc

    def _order(
        self, workspace: Workspace, where: str, entry: dict[str, Any], report: LoadReport
    ) -> None:
        label = f"{where} ({entry.get('number') or entry.get('mini_program') or 'order'})"
        status = parse_status(str(entry.get("status", "New")))
        if status is None:
            names = ", ".join(s.label for s in OrderStatus)
            raise self.fail(label, f"unknown status {entry.get('status')!r}: use one of {names}.")
        number: int | None = None
        if entry.get("number") is not None:
            number = parse_order_number(str(entry["number"]))
            if number is None:
                raise self.fail(label, f"{entry['number']!r} is not an order number (SO-000123).")
            exists = self.session.scalar(
                select(Order.id).where(Order.workspace_id == workspace.id, Order.number == number)
            )
            if exists is not None:
                report.orders_skipped.append(str(entry["number"]))
                return
        try:
            code = self._walk(workspace, entry, status, number)
        except (errors.OrdersError, ValueError) as exc:
            raise self.fail(label, str(exc)) from exc
        report.orders_created.append(code)

    def _walk(
        self,
        workspace: Workspace,
        entry: dict[str, Any],
        status: OrderStatus,
        number: int | None,
    ) -> str:
        service = find_service(self.session, workspace.id, str(entry.get("service", "")))
        merchant = find_party(
            self.session, workspace.id, str(entry.get("merchant", "")), Party.MERCHANT
        )
        provider = self.session.get(PartyOrg, service.provider_id)
        assert provider is not None
        steps = self._steps(entry, status)
        age = parse_age(entry.get("age", "1h"))
        placed_at = self.now - age
        # The later steps share the order's age evenly, so the timeline reads naturally.
        step = age / (len(steps) + 1) if steps else timedelta(0)

        placed_by = str(entry.get("placed_by") or self._first_member(merchant))
        outcome = place_order(
            self.session,
            caller_for(self.session, workspace.team_id, merchant, placed_by),
            OrderDraft(
                service_id=service.id,
                mini_program=str(entry.get("mini_program", "")),
                contact_name=str(entry.get("contact_name", "")),
                contact=str(entry.get("contact", "")),
                apps=tuple(str(a) for a in entry.get("apps") or service.apps or ()),
                requirements=str(entry.get("requirements", "")),
                number=number,
            ),
            source=EventSource.CLI,
            now=placed_at,
        )
        code = outcome.order.code
        for i, (action, reason) in enumerate(steps, start=1):
            rule = next(t for t in TRANSITIONS if t.action is action)
            party = merchant if rule.party is Party.MERCHANT else provider
            if reason is None and rule.reason is ReasonRule.REQUIRED:
                reason = "Loaded from a fixture."
            outcome = act(
                self.session,
                caller_for(self.session, workspace.team_id, party, self._first_member(party)),
                code,
                action,
                reason=reason,
                source=EventSource.CLI,
                now=placed_at + step * i,
            )
        if outcome.order.status is not status:
            raise ValueError(f"its steps end in {outcome.order.status.label}, not {status.label}.")
        return code

    def _steps(self, entry: dict[str, Any], status: OrderStatus) -> list[tuple[Action, str | None]]:
        """The actions after placing: the fixture's own `steps`, or the shortest path."""
        if not entry.get("steps"):
            return [(a, entry.get("reason")) for a in path_to(status)[1:]]
        steps: list[tuple[Action, str | None]] = []
        for raw in entry["steps"]:
            item = raw if isinstance(raw, dict) else {"action": raw}
            try:
                action = Action(str(item["action"]).strip().lower().replace(" ", "_"))
            except (KeyError, ValueError):
                known = ", ".join(a.value for a in Action if a is not Action.PLACE)
                raise ValueError(f"unknown step {raw!r}: use one of {known}.") from None
            steps.append((action, item.get("reason") or item.get("note")))
        return steps

    def _first_member(self, party: PartyOrg) -> str:
        members = party_members(self.session, party.id)
        if not members:
            raise ValueError(f"{party.name} has no members to act for it.")
        return members[0]
