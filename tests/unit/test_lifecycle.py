"""The lifecycle table against domain.md's table, restated here independently, cell by cell."""

from __future__ import annotations

import itertools

import pytest

from orders_core.lifecycle import (
    TRANSITIONS,
    Action,
    OrderStatus,
    Party,
    ReasonRule,
    actions_for,
    parse_status,
    parse_status_list,
    replay,
    transition_for,
)

S = OrderStatus
A = Action
M, P = Party.MERCHANT, Party.PROVIDER

# domain.md, "The order lifecycle": (status, action) -> (next, party, reason, files)
EXPECTED = {
    (S.NEW, A.ACCEPT): (S.PENDING_CONFIRMATION, P, ReasonRule.NONE, False),
    (S.NEW, A.DECLINE): (S.CANCELED, P, ReasonRule.OPTIONAL, False),
    (S.PENDING_CONFIRMATION, A.CONFIRM): (S.IN_DEVELOPMENT, M, ReasonRule.NONE, False),
    (S.PENDING_CONFIRMATION, A.REJECT): (S.CANCELED, M, ReasonRule.OPTIONAL, False),
    (S.IN_DEVELOPMENT, A.SUBMIT_FOR_APPROVAL): (S.UNDER_APPROVAL, P, ReasonRule.OPTIONAL, True),
    (S.IN_DEVELOPMENT, A.CANCEL): (S.CANCELED, P, ReasonRule.REQUIRED, False),
    (S.UNDER_APPROVAL, A.APPROVE): (S.COMPLETED, M, ReasonRule.NONE, False),
    (S.UNDER_APPROVAL, A.REJECT_APPROVAL): (S.IN_DEVELOPMENT, M, ReasonRule.REQUIRED, True),
}
CELLS = list(itertools.product(list(S), [a for a in A if a is not A.PLACE], list(Party)))


@pytest.mark.parametrize(("status", "action", "party"), CELLS, ids=lambda v: str(v))
def test_every_cell_matches_the_domain_table(status: S, action: A, party: Party) -> None:
    """Allowed exactly where domain.md allows it, for exactly the party it names."""
    expected = EXPECTED.get((status, action))
    t = transition_for(status, action)
    allowed_for_party = t is not None and t.party is party
    assert allowed_for_party == (expected is not None and expected[1] is party)
    if expected is not None:
        assert t is not None
        assert (t.target, t.party, t.reason, t.files_allowed) == expected
    assert (t in actions_for(status, party)) == allowed_for_party


def test_placing_starts_every_order_as_new_by_a_merchant() -> None:
    """Only a merchant places, and an order starts New."""
    t = transition_for(None, A.PLACE)
    assert t is not None and t.target is S.NEW and t.party is M
    assert len(TRANSITIONS) == len(EXPECTED) + 1


def test_terminal_statuses_and_who_is_waited_on() -> None:
    """Completed and Canceled end an order; every other status waits on one party."""
    assert {s for s in S if s.is_terminal} == {S.COMPLETED, S.CANCELED}
    assert S.NEW.waiting_on is P
    assert S.PENDING_CONFIRMATION.waiting_on is M
    assert S.IN_DEVELOPMENT.waiting_on is P
    assert S.UNDER_APPROVAL.waiting_on is M
    assert S.COMPLETED.waiting_on is None


def test_replay_follows_the_table_and_refuses_impossible_steps() -> None:
    """Replaying a timeline gives its status; an impossible step is an error."""
    assert (
        replay([A.PLACE, A.ACCEPT, A.CONFIRM, A.SUBMIT_FOR_APPROVAL, A.REJECT_APPROVAL])
        is S.IN_DEVELOPMENT
    )
    with pytest.raises(ValueError, match="approve"):
        replay([A.PLACE, A.APPROVE])


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("pending confirmation", S.PENDING_CONFIRMATION),
        ("Under-Approval", S.UNDER_APPROVAL),
        ("IN_DEVELOPMENT", S.IN_DEVELOPMENT),
        ("  new ", S.NEW),
        ("shipped", None),
    ],
)
def test_status_names_are_forgiving(text: str, status: S | None) -> None:
    """Case, spaces, hyphens and underscores do not matter."""
    assert parse_status(text) is status


def test_status_lists() -> None:
    """Several statuses, `open`, `all`, and the first unknown word."""
    assert parse_status_list("pending confirmation under-approval") == (
        frozenset({S.PENDING_CONFIRMATION, S.UNDER_APPROVAL}),
        None,
    )
    assert parse_status_list("new, canceled") == (frozenset({S.NEW, S.CANCELED}), None)
    assert parse_status_list("open")[0] == {
        S.NEW,
        S.PENDING_CONFIRMATION,
        S.IN_DEVELOPMENT,
        S.UNDER_APPROVAL,
    }
    assert parse_status_list("") == (None, None)
    assert parse_status_list("all") == (None, None)
    assert parse_status_list("new shipped") == (None, "shipped")
