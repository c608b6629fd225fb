"""Order numbers: printing, parsing in every accepted spelling, and prefix ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders_core.orders import _prefix_ranges, format_order_number, parse_order_number


@pytest.mark.parametrize("text", ["123", "so-123", "SO-000123", " So-0123 ", "SO 123", "000123"])
def test_spellings_of_one_number(text: str) -> None:
    """With or without the prefix and leading zeros, any case."""
    assert parse_order_number(text) == 123


@pytest.mark.parametrize("text", ["", "SO-", "abc", "SO-12a", "12 34", "-5"])
def test_not_numbers(text: str) -> None:
    """Anything else is not an order number."""
    assert parse_order_number(text) is None


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=9))
def test_prefix_ranges_match_exactly_the_printed_prefix(number: int, cut: int) -> None:
    """A number is in the ranges of a prefix iff its printed digits start with it."""
    digits = format_order_number(number).removeprefix("SO-")
    prefix = digits[:cut]
    assert any(lo <= number <= hi for lo, hi in _prefix_ranges(prefix))
    other = str((int(prefix[-1]) + 1) % 10)
    wrong = prefix[:-1] + other
    assert not any(lo <= number <= hi for lo, hi in _prefix_ranges(wrong)) or digits.startswith(
        wrong
    )


def test_printing() -> None:
    """Six digits, SO- prefix; wider numbers are not cut."""
    assert format_order_number(7) == "SO-000007"
    assert format_order_number(1234567) == "SO-1234567"
