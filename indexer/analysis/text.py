"""Vietnamese text normalisation: one spelling per word, whatever the source wrote.

Real text arrives in NFC and NFD, with the tone mark of oa/oe/uy syllables placed in
either of two styles (hòa/hoà, thủy/thuỷ), in any case, and typed without diacritics.
Everything that compares words goes through these functions.
"""

from __future__ import annotations

import re
import unicodedata

# New style (mark on the second vowel) -> old style (mark on the first), for a syllable
# that ends in oa/oe/uy. With a final consonant (hoàn, thuyết) both styles agree.
_TONED = {
    "a": "àáảãạ",
    "e": "èéẻẽẹ",
    "y": "ỳýỷỹỵ",
}
_PLAIN_TONED = {
    "o": "òóỏõọ",
    "u": "ùúủũụ",
}
_NEW_TO_OLD: dict[str, str] = {}
_OLD_TO_NEW: dict[str, str] = {}
for _first, _second in (("o", "a"), ("o", "e"), ("u", "y")):
    for _i in range(5):
        _new = _first + _TONED[_second][_i]
        _old = _PLAIN_TONED[_first][_i] + _second
        _NEW_TO_OLD[_new] = _old
        _OLD_TO_NEW[_old] = _new

_NEW_STYLE_RE = re.compile(r"(?<!q)(o[àáảãạèéẻẽẹ]|u[ỳýỷỹỵ])(?![^\W_])", re.IGNORECASE)
_OLD_STYLE_RE = re.compile(r"(?<!q)([òóỏõọ][ae]|[ùúủũụ]y)(?![^\W_])", re.IGNORECASE)

_DIACRITIC_RE = re.compile(r"[\u0300-\u036f]")


def nfc(text: str) -> str:
    """Compose characters, so that NFD input compares equal to NFC input."""
    return unicodedata.normalize("NFC", text)


def _swap_case_aware(pair: str, table: dict[str, str]) -> str:
    swapped = table[pair.lower()]
    return "".join(s.upper() if c.isupper() else s for c, s in zip(pair, swapped, strict=True))


def old_tone_style(text: str) -> str:
    """Move tone marks to the first vowel of a final oa/oe/uy: hoà -> hòa, thuỷ -> thủy."""
    return _NEW_STYLE_RE.sub(lambda m: _swap_case_aware(m.group(1), _NEW_TO_OLD), text)


def new_tone_style(text: str) -> str:
    """Move tone marks to the second vowel of a final oa/oe/uy: hòa -> hoà, thủy -> thuỷ."""
    return _OLD_STYLE_RE.sub(lambda m: _swap_case_aware(m.group(1), _OLD_TO_NEW), text)


def canonical(text: str) -> str:
    """The one form a word is indexed and searched under: NFC, lower case, old tone style.

    NFC again at the end: moving a mark can leave a stray combining mark after a vowel it
    now composes with ("uỳ" + grave -> "ù" "y" + grave), and the result must be NFC too.
    """
    return nfc(old_tone_style(nfc(text).lower()))


def strip_diacritics(text: str) -> str:
    """What a plain keyboard types, case kept: every mark removed, đ -> d."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", _DIACRITIC_RE.sub("", unicodedata.normalize("NFD", text)))


def fold(text: str) -> str:
    """Remove every diacritic (đ -> d) and lower-case: what a user types on a plain keyboard."""
    return strip_diacritics(text.lower())


def has_diacritics(text: str) -> bool:
    """True when the text carries any Vietnamese mark, i.e. the user typed accents."""
    return fold(text) != nfc(text).lower()


# Lower-case letters frequent in Vietnamese: counted first, they settle most texts at once.
_COMMON_LOWER = "nhtcgiaou"


def is_mostly_upper(text: str) -> bool:
    """True for headline-style text in capitals (over 70 % of its letters), which pyvi
    segments badly."""
    # Running text, in one pass of str.count per letter: when these lower-case letters
    # alone are 30 % of the characters that are not spaces, capitals are at most 70 % of
    # the letters (the same answer as counting, five times as fast).
    if 10 * sum(map(text.count, _COMMON_LOWER)) >= 3 * (len(text) - text.count(" ")):
        return False
    letters = sum(map(str.isalpha, text))  # map over C methods: no Python loop per letter
    if letters < 4:
        return False
    return sum(map(str.isupper, filter(str.isalpha, text))) / letters > 0.7
