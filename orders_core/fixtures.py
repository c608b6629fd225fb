"""Loading a YAML fixture: a workspace, its parties, members, services and orders.

Orders reach their listed status through the real actions, each done by a member of the party
the lifecycle table names, so their timelines are true. Loading is all-or-nothing and may be
repeated: nothing named (a party, a member, a service, a numbered order) is created twice.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
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
from orders_core.slack_ids import SlackId, check_slack_id

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


# -- the schema: every entry is checked, whole file first, before anything is written ----------


def _slack_id(kind: SlackId) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the type check below names it
        try:
            return check_slack_id(kind, value, "id")
        except errors.InvalidInput as exc:
            raise ValueError(exc.fields["id"]) from None

    return BeforeValidator(check)


def _text_list(value: Any) -> Any:
    """`times: "09:30, 14:00"` or `times: [09:30]`; YAML reads an unquoted 09:30 as a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'{value} is not a time: write times in quotes, like "09:30"')
    return value


UserId = Annotated[str, _slack_id(SlackId.USER)]
ChannelId = Annotated[str, _slack_id(SlackId.CHANNEL)]
Age = str | int | float
"""`90m`, `36h`, `3d`, `2w`, or a number of hours."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class WorkspaceEntry(_Entry):
    """`workspace:` — the Slack workspace the fixture fills."""

    team_id: Annotated[str, _slack_id(SlackId.TEAM)]
    name: str | None = None
    enterprise_id: Annotated[str, _slack_id(SlackId.ENTERPRISE)] | None = None
    time_zone: str | None = None


class PartyEntry(_Entry):
    """An entry of `merchants:` or `providers:`."""

    name: str
    channel: ChannelId | None = None
    members: list[UserId] = []


class ServiceEntry(_Entry):
    """An entry of `services:`."""

    name: str
    provider: str
    status: str = "Online"
    industry: str | None = None
    description: str | None = None
    apps: list[str] = []
    payment_terms: str | None = None


class StepEntry(_Entry):
    """One step of an order's `steps:` written out: the action and its reason or note."""

    action: str
    reason: str | None = None
    note: str | None = None


class OrderEntry(_Entry):
    """An entry of `orders:`."""

    service: str
    merchant: str
    mini_program: str
    contact_name: str
    contact: str
    number: str | int | None = None
    placed_by: UserId | None = None
    apps: list[str] | None = None
    requirements: str = ""
    status: str = "New"
    age: Age = "1h"
    reason: str | None = None
    steps: list[str | StepEntry] = []


class ReminderEntry(_Entry):
    """An entry of `reminders:`: the party is named by `merchant:`, `provider:` or `party:`."""

    party: str | None = None
    merchant: str | None = None
    provider: str | None = None
    channel: ChannelId | None = None
    days: str = "weekdays"
    times: Annotated[str | list[str], BeforeValidator(_text_list)] = "09:30"
    time_zone: str | None = None
    min_age: Age = "24h"
    working_days: bool = False
    escalate_after: Age = "72h"

    @model_validator(mode="after")
    def _one_party(self) -> ReminderEntry:
        named = [k for k in ("party", "merchant", "provider") if getattr(self, k)]
        if len(named) != 1:
            raise ValueError("name the party once: merchant: NAME, provider: NAME or party: NAME")
        return self


class Fixture(_Entry):
    """A whole fixture file."""

    workspace: WorkspaceEntry
    merchants: list[PartyEntry] = []
    providers: list[PartyEntry] = []
    services: list[ServiceEntry] = []
    orders: list[OrderEntry] = []
    reminders: list[ReminderEntry] = []


_WHAT = {
    "string_type": "text",
    "int_type": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _where(data: Any, loc: Sequence[int | str]) -> tuple[str, str | None]:
    """(`orders[2] (SO-000003)`, the key within it) for an error at `loc`."""
    if len(loc) == 1 and isinstance(loc[0], str):
        return "the file", loc[0]  # a top-level key
    where, key, node = str(loc[0]), "", data.get(loc[0]) if isinstance(data, dict) else None
    rest = list(loc[1:])
    if rest and isinstance(index := rest[0], int):  # a list's entry: named by name or number
        rest.pop(0)
        node = node[index] if isinstance(node, list) and index < len(node) else None
        label = (node.get("name") or node.get("number")) if isinstance(node, dict) else None
        where += f"[{index}]" + (f" ({label})" if label else "")
    for part in rest:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return where, key or None


def _problem(error: Any, key: str | None, fields: Sequence[str]) -> str:
    """What is wrong with one key, in an operator's words."""
    kind = error["type"]
    name = f"`{key}`" if key else ""
    if kind == "extra_forbidden":
        last = str(key).rsplit(".", 1)[-1]
        close = difflib.get_close_matches(last, fields, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return f"unknown key `{last}`{hint}; the keys are {', '.join(fields)}"
    if kind == "missing":
        return f"{name or 'it'} is required"
    if kind in _WHAT or kind.endswith("_type"):
        wanted = _WHAT.get(kind, kind.removesuffix("_type"))
        return f"{name} should be {wanted}, not {error.get('input')!r}".lstrip()
    why = str(error["msg"]).removeprefix("Value error, ")
    return f"{name}: {why}" if name else why


def _model_at(loc: Sequence[int | str]) -> type[BaseModel]:
    """The model whose keys apply at `loc` (to list them for an unknown key)."""
    model: type[BaseModel] = Fixture
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = (
            model.model_fields[str(part)].annotation if part in model.model_fields else None
        )
        for candidate in (
            WorkspaceEntry,
            PartyEntry,
            ServiceEntry,
            OrderEntry,
            StepEntry,
            ReminderEntry,
        ):
            if candidate.__name__ in str(annotation):
                model = candidate
    return model


def validate_fixture(data: Any, source: str) -> Fixture:
    """The file checked against the schema as a whole; FixtureError naming each mistake."""
    if not isinstance(data, dict):
        raise FixtureError(
            f"{source}: a fixture is a mapping that starts with `workspace: {{team_id: T…}}`."
        )
    try:
        return Fixture.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = [
                p
                for p in error["loc"]
                if not (isinstance(p, str) and p.startswith(("function-", "str", "list[")))
            ]
            where, key = _where(data, loc)
            fields = list(_model_at(loc).model_fields)
            lines.append(f"{source}: {where}: {_problem(error, key, fields)}.")
        raise FixtureError("\n".join(dict.fromkeys(lines))) from None


def load_fixture(session: Session, path: str | Path, *, now: datetime | None = None) -> LoadReport:
    """Load a fixture file into the session's transaction; raises FixtureError on a bad one."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read it ({exc.strerror}).") from exc
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from exc
    fixture = validate_fixture(data, str(path))
    return _Loader(session, str(path), now or utcnow()).load(fixture)


class _Loader:
    def __init__(self, session: Session, source: str, now: datetime) -> None:
        self.session = session
        self.source = source
        self.now = now

    def fail(self, where: str, why: str) -> FixtureError:
        return FixtureError(f"{self.source}: {where}: {why}")

    def load(self, data: Fixture) -> LoadReport:
        ws = data.workspace
        try:
            workspace = add_workspace(
                self.session,
                ws.team_id,
                ws.name,
                enterprise_id=ws.enterprise_id,
                time_zone=ws.time_zone,
            )
        except errors.OrdersError as exc:
            raise self.fail("workspace", str(exc)) from exc
        report = LoadReport(workspace.team_id)
        for kind, key, parties in (
            (Party.MERCHANT, "merchants", data.merchants),
            (Party.PROVIDER, "providers", data.providers),
        ):
            for i, party in enumerate(parties):
                self._party(workspace, kind, f"{key}[{i}]", party, report)
        for i, service in enumerate(data.services):
            self._service(workspace, f"services[{i}]", service)
            report.services += 1
        for i, order in enumerate(data.orders):
            self._order(workspace, f"orders[{i}]", order, report)
        for i, reminder in enumerate(data.reminders):
            self._reminder(workspace, f"reminders[{i}]", reminder, report)
        return report

    def _reminder(
        self, workspace: Workspace, where: str, entry: ReminderEntry, report: LoadReport
    ) -> None:
        """A reminder policy for a party; one per (party, channel), so reloading duplicates nothing."""
        kind = Party.MERCHANT if entry.merchant else Party.PROVIDER if entry.provider else None
        name = entry.merchant or entry.provider or entry.party or ""
        try:
            party = find_party(self.session, workspace.id, name, kind)
            channel = entry.channel or party.channel_id or ""
            existing = [
                p
                for p in list_policies(self.session, workspace_id=workspace.id, channel_id=channel)
                if p.party_id == party.id
            ]
            times = entry.times if isinstance(entry.times, str) else ", ".join(entry.times)
            escalate = entry.escalate_after
            spec = PolicySpec(
                channel_id=channel,
                days=parse_days(entry.days),
                times=parse_times(times),
                time_zone=entry.time_zone,
                min_age=parse_age(entry.min_age),
                working_days_only=entry.working_days,
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
            raise self.fail(f"{where} ({name})", str(exc)) from exc
        report.reminders += 1

    def _party(
        self,
        workspace: Workspace,
        kind: Party,
        where: str,
        entry: PartyEntry,
        report: LoadReport,
    ) -> None:
        try:
            party = add_party(self.session, workspace, kind, entry.name, channel_id=entry.channel)
            for user_id in entry.members:
                add_member(self.session, party, user_id)
                report.members += 1
        except errors.OrdersError as exc:
            raise self.fail(f"{where} ({entry.name})", str(exc)) from exc
        report.parties += 1

    def _service(self, workspace: Workspace, where: str, entry: ServiceEntry) -> None:
        status = parse_service_status(entry.status)
        if status is None:
            raise self.fail(
                f"{where} ({entry.name})",
                f"unknown status {entry.status!r}: use Draft, Pending Review, Online, "
                "Withdrawn, Turned Down or Archived.",
            )
        try:
            add_service(
                self.session,
                workspace,
                provider_name=entry.provider,
                name=entry.name,
                status=status,
                industry=entry.industry,
                description=entry.description,
                apps=entry.apps,
                payment_terms=entry.payment_terms,
            )
        except errors.OrdersError as exc:
            raise self.fail(f"{where} ({entry.name})", str(exc)) from exc

    def _order(
        self, workspace: Workspace, where: str, entry: OrderEntry, report: LoadReport
    ) -> None:
        label = f"{where} ({entry.number or entry.mini_program or 'order'})"
        status = parse_status(entry.status)
        if status is None:
            names = ", ".join(s.label for s in OrderStatus)
            raise self.fail(label, f"unknown status {entry.status!r}: use one of {names}.")
        number: int | None = None
        if entry.number is not None:
            number = parse_order_number(str(entry.number))
            if number is None:
                raise self.fail(label, f"{entry.number!r} is not an order number (SO-000123).")
            exists = self.session.scalar(
                select(Order.id).where(Order.workspace_id == workspace.id, Order.number == number)
            )
            if exists is not None:
                report.orders_skipped.append(str(entry.number))
                return
        try:
            code = self._walk(workspace, entry, status, number)
        except (errors.OrdersError, ValueError) as exc:
            raise self.fail(label, str(exc)) from exc
        report.orders_created.append(code)

    def _walk(
        self,
        workspace: Workspace,
        entry: OrderEntry,
        status: OrderStatus,
        number: int | None,
    ) -> str:
        service = find_service(self.session, workspace.id, entry.service)
        merchant = find_party(self.session, workspace.id, entry.merchant, Party.MERCHANT)
        provider = self.session.get(PartyOrg, service.provider_id)
        assert provider is not None
        steps = self._steps(entry, status)
        age = parse_age(entry.age)
        placed_at = self.now - age
        # The later steps share the order's age evenly, so the timeline reads naturally.
        step = age / (len(steps) + 1) if steps else timedelta(0)

        placed_by = entry.placed_by or self._first_member(merchant)
        outcome = place_order(
            self.session,
            caller_for(self.session, workspace.team_id, merchant, placed_by),
            OrderDraft(
                service_id=service.id,
                mini_program=entry.mini_program,
                contact_name=entry.contact_name,
                contact=entry.contact,
                apps=tuple(entry.apps if entry.apps is not None else service.apps or ()),
                requirements=entry.requirements,
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

    def _steps(self, entry: OrderEntry, status: OrderStatus) -> list[tuple[Action, str | None]]:
        """The actions after placing: the fixture's own `steps`, or the shortest path."""
        if not entry.steps:
            return [(a, entry.reason) for a in path_to(status)[1:]]
        steps: list[tuple[Action, str | None]] = []
        for raw in entry.steps:
            item = raw if isinstance(raw, StepEntry) else StepEntry(action=raw)
            try:
                action = Action(item.action.strip().lower().replace(" ", "_"))
            except ValueError:
                known = ", ".join(a.value for a in Action if a is not Action.PLACE)
                raise ValueError(f"unknown step {item.action!r}: use one of {known}.") from None
            steps.append((action, item.reason or item.note))
        return steps

    def _first_member(self, party: PartyOrg) -> str:
        members = party_members(self.session, party.id)
        if not members:
            raise ValueError(f"{party.name} has no members to act for it.")
        return members[0]
