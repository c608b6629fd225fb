"""What typed text may be stored, and when it counts as blank.

Two rules, used by every path that takes text from a person (Slack's modals, the CLI):

- `clean` removes what no database can store and no person typed: NUL (PostgreSQL refuses it
  in text) and lone UTF-16 surrogates (a JSON escape such as `\\ud800` with no partner; no
  UTF-8 encoder accepts them, so SQLite and PostgreSQL both fail on them). Nothing else is
  touched.
- `is_blank` is True when nothing visible is left once every invisible character is removed
  (see `is_invisible`): a required reason or name made only of spaces, zero-width characters
  or direction marks is missing, not given.
"""

from __future__ import annotations

import re
import unicodedata

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL and surrogates. A str from json.loads holds a surrogate only when it was lone: a valid
pair (`\\ud83d\\ude00`) is decoded to the one character it encodes."""

# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, Unicode 15):
# characters a renderer shows as nothing at all. Besides the format characters (Cf) it holds a
# few letters drawn as blanks (the Hangul fillers) and the variation selectors.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero width space, non-joiner, joiner; LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # zero width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned, reserved as ignorable
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
_BLANK_LOOKING = frozenset({0x2800})
"""Characters that are not ignorable but are drawn as empty space: the blank Braille pattern,
a favourite for names that look empty."""
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"})
"""Controls, format characters, surrogates, and every kind of space and line break."""


def clean(text: str) -> str:
    """The text without NUL and lone surrogates (what no database stores); all else as typed.

    Zero-width joiners and non-joiners, variation selectors and direction marks are kept
    inside text: they are part of how it reads (ZWJ makes one emoji of 👩‍💻 and picks
    conjunct forms in Devanagari and Malayalam; ZWNJ is spelling in Persian and Hindi), so
    removing them would change what a person wrote. They only make text blank when they are
    all there is (`is_blank`).
    """
    return _UNSTORABLE.sub("", text)


def is_invisible(char: str) -> bool:
    """True for a character that shows nothing: whitespace, a control, format or surrogate
    character, a default-ignorable code point, or a character drawn as empty space."""
    code = ord(char)
    if code in _BLANK_LOOKING or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return True
    return any(low <= code <= high for low, high in _DEFAULT_IGNORABLE)


def is_blank(text: str | None) -> bool:
    """True when `text` is None or shows nothing once every invisible character is removed."""
    return text is None or all(is_invisible(c) for c in text)


def trim(text: str) -> str:
    """`clean` text with the invisible characters at either end removed (for names and contacts).

    Inside the text nothing is removed (see `clean`). At the ends, a joiner joins nothing and a
    space or mark only makes two equal names look different, except a variation selector or a
    tag that completes the character before it (❤️, 🏴 flags): those stay.
    """
    text = clean(text)
    start, end = 0, len(text)
    while start < end and is_invisible(text[start]):
        start += 1
    while end > start and is_invisible(text[end - 1]) and not _completes_previous(text[end - 1]):
        end -= 1
    return text[start:end]


def _completes_previous(char: str) -> bool:
    """A variation selector or tag character: part of the visible character before it."""
    code = ord(char)
    return 0xFE00 <= code <= 0xFE0F or 0xE0000 <= code <= 0xE0FFF
