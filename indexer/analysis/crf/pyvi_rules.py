"""What pyvi 0.1.1 decides outside its CRF, reproduced from ``pyvi/ViTokenizer.py``.

Its syllable split (``ViTokenizer.sylabelize``), its bigram and trigram lists (read from
``models/words.txt`` as ``ViTokenizer`` reads them), and the per-token tests of its
joining rule (``ViTokenizer.tokenize``). The tests compare each piece with pyvi itself.
"""

from __future__ import annotations

import re
import string
from importlib.util import find_spec
from itertools import chain
from pathlib import Path

# sylabelize's pattern, piece for piece and in its order (first alternative wins). pyvi
# builds it on every call; here it is compiled once, and its inner groups do not capture
# (findall then returns the tokens themselves; matching is the same).
_ABBREVIATIONS = [r"[A-ZĐ]+\.", r"Tp\.", r"Mr\.", r"Mrs\.", r"Ms\.", r"Dr\.", r"ThS\."]
_SPECIALS = ["==>", "->", r"\.\.\.", ">>", "\n"]
_WEB = r"\w+://[^\s]+"
_EMAIL = r"(?:[a-zA-Z0-9_.+-]+@(?:[a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+)"
_DIGIT = r"\d+(?:[\.,_]\d+)+"
_NON_WORD = r"[^\w\s]"
_WORD = r"\w+"
SYLLABLE_RE = re.compile(
    "(" + "|".join([*_ABBREVIATIONS, *_SPECIALS, _WEB, _EMAIL, _DIGIT, _NON_WORD, _WORD]) + ")"
)

# No token holds whitespace other than the "\n" token itself: every alternative above
# excludes it. A tab can therefore separate texts in one joined string (see segmenter).
TOKEN_FREE_SEPARATOR = "\t"


class TokenSplitter:
    r"""``sylabelize``'s tokens of an NFC text, found chunk by chunk, chunks cached.

    A text without "\n" has no token that crosses whitespace, and whitespace starts no
    token (the regular expression's only whitespace is its "\n" alternative), so its
    tokens are those of each whitespace-separated chunk in turn (``str.split`` and the
    regular expression's ``\s`` both use ``str.isspace``). A chunk of letters and digits
    only is one token (``\w+``: every earlier alternative needs some other character).
    Other chunks go through the regular expression, once per distinct chunk: "Trang,"
    or "16.000" recur. The cache is emptied when it holds ``max_chunks``.
    """

    def __init__(self, max_chunks: int = 200_000) -> None:
        self.max_chunks = max_chunks
        self._chunks = _ChunkTokens()
        self._findall = SYLLABLE_RE.findall

    def split_many(self, texts: list[str]) -> list[list[str]]:
        """The tokens of each (NFC) text."""
        if len(self._chunks) > self.max_chunks:
            self._chunks = _ChunkTokens()
        tokens = self._chunks.__getitem__
        return [
            self._findall(text)
            if "\n" in text
            else list(chain.from_iterable(map(tokens, text.split())))
            for text in texts
        ]


class _ChunkTokens(dict):
    def __missing__(self, chunk: str) -> tuple[str, ...]:
        tokens = (chunk,) if chunk.isalnum() else tuple(SYLLABLE_RE.findall(chunk))
        self[chunk] = tokens
        return tokens


def pyvi_dir() -> Path:
    """pyvi's package folder, found without importing ``pyvi.ViTokenizer`` (it loads its
    model at import, two seconds)."""
    spec = find_spec("pyvi")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyvi is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def read_ngrams(path: Path) -> tuple[set[str], set[str]]:
    """pyvi's bigrams and trigrams: the lines of ``words.txt`` with exactly one or two spaces."""
    bi_grams: set[str] = set()
    tri_grams: set[str] = set()
    for entry in path.read_bytes().decode("utf-8").split("\n"):
        parts = entry.split(" ")
        if len(parts) == 2:
            bi_grams.add(entry)
        elif len(parts) == 3:
            tri_grams.add(entry)
    return bi_grams, tri_grams


def is_punctuation(token: str) -> bool:
    """pyvi's ``tmp[i] in string.punctuation``: a substring test, kept as such."""
    return token in string.punctuation


def starts_with_digit(token: str) -> bool:
    """pyvi's ``tmp[i][0].isdigit()``."""
    return token[0].isdigit()


def starts_title(token: str) -> bool:
    """pyvi's ``tmp[i][0].istitle()``."""
    return token[0].istitle()
