"""A small world to act in: two workspaces, their parties, members and services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orders_core.catalog import add_service
from orders_core.db import Database
from orders_core.fixtures import path_to
from orders_core.lifecycle import (
    Action,
    OrderStatus,
    Party,
    ReasonRule,
    ServiceStatus,
    rule_for_action,
)
from orders_core.onboarding import add_member, add_party, add_workspace
from orders_core.orders import (
    ActionOutcome,
    Caller,
    OrderDraft,
    act,
    place_order,
    resolve_caller,
)

TEAM = "T0TEST"
OTHER_TEAM = "T0OTHER"
MERCHANT = ("Acme Coffee", "C0ACME", ["U0ANA", "U0BEN"])
OTHER_MERCHANT = ("Bolt Bakery", "C0BOLT", ["U0BOB"])
PROVIDER = ("Blue Pixel Studio", "C0PIXEL", ["U0PIA"])
OTHER_PROVIDER = ("Nimbus Apps", "C0NIMBUS", ["U0RAJ"])
STRANGER_WORKSPACE_MEMBER = "U0ZED"  # a merchant member, but of OTHER_TEAM
NOBODY = "U0NOBODY"


@dataclass
class World:
    """Handles on what build_world made."""

    db: Database
    online_service_id: int
    withdrawn_service_id: int
    other_team_service_id: int

    def caller(self, user_id: str, team: str = TEAM) -> Caller:
        """The member `user_id` as a Caller."""
        with self.db.read() as s:
            return resolve_caller(s, team, user_id)

    def place(
        self, user_id: str = "U0ANA", *, now: datetime | None = None, **draft: object
    ) -> ActionOutcome:
        """A merchant member places an order for the Online service."""
        fields: dict[str, object] = {
            "service_id": self.online_service_id,
            "mini_program": "Acme Rewards",
            "contact_name": "Ana",
            "contact": "ana@acme.test",
            "apps": ("Alipay+",),
            "requirements": "Stamp card",
        }
        fields.update(draft)
        with self.db.transaction() as s:
            return place_order(s, resolve_caller(s, TEAM, user_id), OrderDraft(**fields), now=now)  # type: ignore[arg-type]

    def order_in(self, status: OrderStatus, *, now: datetime | None = None) -> str:
        """A new order walked to `status` by the right members; its number."""
        outcome = self.place(now=now)
        for action in path_to(status)[1:]:
            rule = rule_for_action(action)
            user = "U0ANA" if rule.party is Party.MERCHANT else "U0PIA"
            reason = "because" if rule.reason is ReasonRule.REQUIRED else None
            outcome = self.act(user, outcome.order.code, action, reason=reason, now=now)
        assert outcome.order.status is status
        return outcome.order.code

    def act(
        self, user_id: str, number: str, action: Action, team: str = TEAM, **kw: object
    ) -> ActionOutcome:
        """`user_id` takes `action` on `number`, in its own transaction."""
        with self.db.transaction() as s:
            return act(s, resolve_caller(s, team, user_id), number, action, **kw)  # type: ignore[arg-type]


def build_world(db: Database) -> World:
    """Onboard the test workspaces on `db`."""
    with db.transaction() as s:
        ws = add_workspace(s, TEAM, "Test")
        for kind, (name, channel, members) in (
            (Party.MERCHANT, MERCHANT),
            (Party.MERCHANT, OTHER_MERCHANT),
            (Party.PROVIDER, PROVIDER),
            (Party.PROVIDER, OTHER_PROVIDER),
        ):
            party = add_party(s, ws, kind, name, channel_id=channel)
            for user in members:
                add_member(s, party, user)
        online = add_service(
            s,
            ws,
            provider_name=PROVIDER[0],
            name="Loyalty",
            status=ServiceStatus.ONLINE,
            apps=["Alipay+", "GCash"],
            industry="F&B",
            description="Stamps",
            payment_terms="30/70",
        )
        withdrawn = add_service(
            s,
            ws,
            provider_name=OTHER_PROVIDER[0],
            name="Coupons",
            status=ServiceStatus.WITHDRAWN,
            apps=["Alipay+"],
        )
        other = add_workspace(s, OTHER_TEAM, "Other")
        other_merchant = add_party(s, other, Party.MERCHANT, "Zed Shop", channel_id="C0ZED")
        add_member(s, other_merchant, STRANGER_WORKSPACE_MEMBER)
        other_provider = add_party(s, other, Party.PROVIDER, "Zed Dev", channel_id="C0ZDEV")
        add_member(s, other_provider, "U0ZDEV")
        other_service = add_service(
            s,
            other,
            provider_name="Zed Dev",
            name="Loyalty",
            status=ServiceStatus.ONLINE,
            apps=["Alipay+"],
        )
        return World(db, online.id, withdrawn.id, other_service.id)
