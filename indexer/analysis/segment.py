"""Syllables and pyvi words, each with its character offsets in the text.

pyvi's own ``tokenize`` returns a rewritten string (``26-6`` becomes ``26 - 6``), which
loses the way back to the original text. Here pyvi's segmentation (``crf``: its model and
rules, exactly, over batches of texts) gives the tokens and which ones form a word, and
every syllable and word keeps its ``start``/``end`` in the (NFC) input, so that
highlights point into the text as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from indexer.analysis import crf
from indexer.analysis.text import is_mostly_upper

# A number with separators (16.000, 3,5) is one syllable; otherwise letters and digits.
SYLLABLE_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+")


class Span(NamedTuple):
    """A piece of text and where it stands: ``text == source[start:end]``."""

    text: str
    start: int
    end: int


def syllables(text: str) -> list[Span]:
    """The syllables (and numbers, and foreign words) of ``text`` with their offsets."""
    return [Span(m.group(), m.start(), m.end()) for m in SYLLABLE_RE.finditer(text)]


def word_spans(text: str) -> list[Span]:
    """pyvi's multi-syllable words in ``text`` (NFC), with offsets.

    Text mostly in capitals is segmented in lower case: pyvi's features use case, and it
    glues headlines in capitals differently from the same words in running text.
    """
    return word_spans_many([text])[0]


def word_spans_many(texts: Sequence[str]) -> list[list[Span]]:
    """``word_spans`` of each text, segmented in batches (many times faster per text)."""
    out = []
    for seg in segment_many(texts):
        spans: list[Span] = []
        out.append(spans)
        ranges = word_ranges(seg.joins)
        if ranges:
            text, offsets = seg.text, seg.offsets()
            for first, after in ranges:
                start, end = offsets[first][0], offsets[after - 1][1]
                spans.append(Span(text[start:end], start, end))
    return out


def segment_many(texts: Sequence[str]) -> list[crf.Segmentation]:
    """pyvi's segmentation of each text, those mostly in capitals labelled in lower case."""
    return crf.segment_many(texts, lowercase=map(is_mostly_upper, texts))


def word_ranges(joins: list[bool]) -> list[tuple[int, int]]:
    """(first, after) of each run of two tokens or more glued together: pyvi's words of
    more than one token, from a segmentation's ``joins``."""
    if True not in joins:
        return []
    out = []
    glued = joins.index(True)
    while True:
        # A word: the token before the first glued one, to the last glued in a row.
        try:
            after = joins.index(False, glued)
        except ValueError:
            after = len(joins)
        out.append((glued - 1, after))
        try:
            glued = joins.index(True, after)
        except ValueError:
            return out
