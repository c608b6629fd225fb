"""Onboarding: workspaces, their merchants and service providers, and the members of each.

Every function is idempotent by name, so loading the same fixture twice, or an admin repeating a
command, never creates a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders_core import errors
from orders_core.lifecycle import Party
from orders_core.models import Member, PartyOrg, Workspace
from orders_core.names import clean_name, name_key
from orders_core.orders import Caller, PartyRef, find_workspace
from orders_core.slack_ids import SlackId, check_slack_id


class AmbiguousParty(errors.Conflict):
    """A merchant and a service provider share the name given: the caller must say which."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Both a merchant and a service provider are named {name!r}: say which one "
            "(--merchant NAME or --provider NAME; in a fixture, `merchant:` or `provider:`)."
        )
        self.name = name


@dataclass(frozen=True)
class PartyInfo:
    """A merchant or provider as an admin sees it."""

    id: int
    kind: Party
    name: str
    channel_id: str | None
    members: tuple[str, ...]
    workspace_id: int

    @property
    def ref(self) -> PartyRef:
        """The party, for scoping order queries."""
        return PartyRef(self.id, self.kind, self.workspace_id)


def add_workspace(
    session: Session,
    team_id: str,
    name: str | None = None,
    *,
    enterprise_id: str | None = None,
    time_zone: str | None = None,
) -> Workspace:
    """The workspace of `team_id`, created if new; given details are updated."""
    team_id = check_slack_id(SlackId.TEAM, team_id, "team_id")
    if enterprise_id:
        enterprise_id = check_slack_id(SlackId.ENTERPRISE, enterprise_id, "enterprise_id")
    workspace = session.scalar(select(Workspace).where(Workspace.team_id == team_id))
    if workspace is None:
        workspace = Workspace(team_id=team_id, name=name or team_id, last_order_number=0)
        session.add(workspace)
    elif name:
        workspace.name = name
    if enterprise_id is not None:
        workspace.enterprise_id = enterprise_id or None
    if time_zone is not None:
        workspace.time_zone = time_zone or None
    session.flush()
    return workspace


def list_workspaces(session: Session) -> list[Workspace]:
    """Every onboarded workspace."""
    return list(session.scalars(select(Workspace).order_by(Workspace.id)))


def find_party(
    session: Session, workspace_id: int, name: str, kind: Party | None = None
) -> PartyOrg:
    """A merchant or provider by name, in any case and any script (`name_key`)."""
    query = select(PartyOrg).where(
        PartyOrg.workspace_id == workspace_id, PartyOrg.name_key == name_key(name)
    )
    if kind is not None:
        query = query.where(PartyOrg.kind == kind)
    found = list(session.scalars(query.order_by(PartyOrg.kind)))
    if not found:
        what = kind.label if kind else "merchant or service provider"
        raise errors.NotFound(f"There is no {what} named {name!r} in this workspace.")
    if len(found) > 1:
        raise AmbiguousParty(found[0].name)
    return found[0]


def add_party(
    session: Session,
    workspace: Workspace,
    kind: Party,
    name: str,
    *,
    channel_id: str | None = None,
) -> PartyOrg:
    """The merchant or provider `name`, created if new; a given channel replaces the old one."""
    name = clean_name(name)
    if not name:
        raise errors.InvalidInput({"name": f"A {kind.label} needs a name."})
    if channel_id:
        channel_id = check_slack_id(SlackId.CHANNEL, channel_id, "channel")
    party = session.scalar(
        select(PartyOrg).where(
            PartyOrg.workspace_id == workspace.id,
            PartyOrg.kind == kind,
            PartyOrg.name_key == name_key(name),
        )
    )
    if party is None:
        party = PartyOrg(workspace_id=workspace.id, kind=kind, name=name)
        session.add(party)
    if channel_id is not None:
        party.channel_id = channel_id or None
    session.flush()
    return party


def add_member(session: Session, party: PartyOrg, user_id: str) -> Member:
    """Register a Slack user as a member of `party` (a user belongs to one party per workspace)."""
    user_id = check_slack_id(SlackId.USER, user_id, "user_id")
    member = session.scalar(
        select(Member).where(Member.workspace_id == party.workspace_id, Member.user_id == user_id)
    )
    if member is not None:
        if member.party_id != party.id:
            other = session.get(PartyOrg, member.party_id)
            assert other is not None
            raise errors.Conflict(
                f"{user_id} is already a member of {other.name} ({other.kind.label}); "
                "a user acts for one party per workspace."
            )
        return member
    member = Member(workspace_id=party.workspace_id, party_id=party.id, user_id=user_id)
    session.add(member)
    session.flush()
    return member


def list_parties(session: Session, workspace_id: int, kind: Party | None = None) -> list[PartyInfo]:
    """The merchants and/or providers of a workspace with their members."""
    query = select(PartyOrg).where(PartyOrg.workspace_id == workspace_id)
    if kind is not None:
        query = query.where(PartyOrg.kind == kind)
    parties = list(session.scalars(query.order_by(PartyOrg.kind, PartyOrg.name)))
    members: dict[int, list[str]] = {}
    for party_id, user_id in session.execute(
        select(Member.party_id, Member.user_id)
        .where(Member.workspace_id == workspace_id)
        .order_by(Member.id)
    ):
        members.setdefault(party_id, []).append(user_id)
    return [
        PartyInfo(p.id, p.kind, p.name, p.channel_id, tuple(members.get(p.id, ())), workspace_id)
        for p in parties
    ]


def party_members(session: Session, party_id: int) -> list[str]:
    """The Slack user ids of a party's members, in the order they were added."""
    return list(
        session.scalars(
            select(Member.user_id).where(Member.party_id == party_id).order_by(Member.id)
        )
    )


def caller_for(session: Session, team_id: str, party: PartyOrg, user_id: str) -> Caller:
    """A Caller for a member of `party` (for the CLI and fixtures, which name the party)."""
    workspace = find_workspace(session, team_id)
    member = session.scalar(
        select(Member).where(Member.workspace_id == workspace.id, Member.user_id == user_id)
    )
    if member is None or member.party_id != party.id:
        raise errors.InvalidInput(
            {"user_id": f"{user_id} is not a member of {party.name} ({party.kind.label})."}
        )
    return Caller(
        workspace.id, team_id, user_id, party.id, party.kind, party.name, party.channel_id
    )
