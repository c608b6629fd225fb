"""How names and words are matched: case-insensitively, in every script.

SQLite's `lower()` folds ASCII only (`Łódź` and `łódź` would be two names, and a lookup of
either misses the other), so each name is stored with its key and looked up by it; an order's
searchable words are stored folded further, accents dropped (`search_key`).
"""

from __future__ import annotations

import re
import unicodedata

from orders_core.text import trim

_SPACES = re.compile(r"\s+")


def clean_name(name: str) -> str:
    """A name as stored and shown: NFC-normalised, its runs of spaces made one, trimmed of
    invisible characters (`text.trim`: one made only of them is blank, "")."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", trim(name))).strip()


def name_key(name: str) -> str:
    """The key two names share when they are the same name: `Łódź Bar` and `łÓDŹ  bar`.

    Unicode case folding (`str.casefold`: `ß` matches `SS`), on NFC text both before and after,
    so composed and decomposed accents (`é` as one character or two) match too.
    """
    return unicodedata.normalize("NFC", clean_name(name).casefold())


# Latin letters that are not a base letter plus an accent, so that decomposing leaves them whole.
_BASE_LETTERS = str.maketrans(
    {
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ħ": "h",
        "\u0131": "i",
        "ŧ": "t",
    }
)


def _is_latin_accent(char: str) -> bool:
    """U+0300 to U+036F: the accents of Latin, Greek and Cyrillic letters. Other scripts' marks
    (Thai vowels, Devanagari signs, kana voicing) are part of their letters and stay."""
    return "\u0300" <= char <= "\u036f"


def search_key(text: str) -> str:
    """Text as search compares it: `Łódź` and `LODZ` → `lodz`, `Café` and `CAFE` → `cafe`.

    Compatibility-decomposed (full-width letters are ASCII), Latin accents dropped, case-folded,
    recomposed (NFC: Korean syllables and kana come back whole), runs of spaces made one.
    """
    decomposed = unicodedata.normalize("NFKD", trim(text))
    bare = "".join(c for c in decomposed if not _is_latin_accent(c))
    folded = unicodedata.normalize("NFC", bare.casefold().translate(_BASE_LETTERS))
    return _SPACES.sub(" ", folded).strip()


def search_document(*fields: str) -> str:
    """An order's searchable fields as one folded text, a line each (no word spans two)."""
    return "\n".join(search_key(f) for f in fields)
