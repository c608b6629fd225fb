"""How names of parties and services are matched: case-insensitively, in every script.

SQLite's `lower()` folds ASCII only (`Łódź` and `łódź` would be two names, and a lookup of
either misses the other), so each name is stored with its key and looked up by it.
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
