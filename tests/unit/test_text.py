"""The text rules: what is stored of typed text, and when it counts as blank."""

from __future__ import annotations

import pytest

from orders_core.text import clean, is_blank, is_invisible, trim

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
"""Zero width space, non-joiner, joiner, word joiner, zero width no-break space (BOM)."""


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   \n\t ",
        ZERO_WIDTH,
        "\u200b \u200b",
        "\u00a0\u3000\u2028",  # no-break space, ideographic space, line separator
        "\u200e\u200f\u202e\u2066\u2069",  # direction marks, override, isolates
        "\u00ad\u034f\u180e",  # soft hyphen, combining grapheme joiner, Mongolian vowel sep.
        "\u3164\uffa0\u115f",  # Hangul fillers
        "\ufe0f\U000e0061",  # a variation selector and a tag character, alone
        "\u2800\u2800",  # blank Braille pattern
        "\x00\x01\x1f\x7f\x85",  # controls
        "\ud800",  # a lone surrogate
    ],
)
def test_text_that_shows_nothing_is_blank(text: str | None) -> None:
    """Whitespace, controls, format and default-ignorable characters: nothing to read."""
    assert is_blank(text)


@pytest.mark.parametrize(
    "text",
    [
        "x",
        f"{ZERO_WIDTH}x{ZERO_WIDTH}",
        ".",
        "\u0301",  # a combining accent alone is drawn (on a dotted circle)
        "❤️",
        "👩\u200d💻",
        "क्\u200dष",  # Devanagari with a joiner
        "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # Scotland
    ],
)
def test_text_with_something_visible_is_not_blank(text: str) -> None:
    """One visible character is enough."""
    assert not is_blank(text)


def test_clean_removes_nul_and_lone_surrogates_only() -> None:
    """What no database stores goes; joiners, marks and emoji stay as typed."""
    assert clean("Broken\x00 build\ud800\udfff") == "Broken build"
    typed = "👩\u200d💻 क्\u200dष می\u200cخواهم ❤️ a\u200bb \t\n"  # noqa: RUF001 (Persian)
    assert clean(typed) == typed
    assert clean("\U0001f600") == "\U0001f600"  # a character beyond the BMP is no surrogate


def test_trim_removes_invisible_ends_but_keeps_what_completes_a_character() -> None:
    """Zero-width padding goes from both ends; a trailing variation selector or tag stays."""
    assert trim(f" {ZERO_WIDTH}Acme Rewards\u200b\u00a0\n") == "Acme Rewards"
    assert trim("\x00Acme\ud800") == "Acme"
    assert trim("Love ❤️") == "Love ❤️"
    flag = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert trim(f"Team {flag}\u200b") == f"Team {flag}"
    assert trim("👩\u200d💻\u200d") == "👩\u200d💻"
    assert trim(ZERO_WIDTH) == ""


@pytest.mark.parametrize("char", ["a", "1", "é", "中", "😀", "\u0301", "-", "\ue000"])
def test_visible_characters_are_not_invisible(char: str) -> None:
    """Letters, digits, marks, symbols and private-use characters are drawn."""
    assert not is_invisible(char)
