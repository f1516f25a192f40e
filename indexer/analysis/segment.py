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
    for seg in crf.segment_many(texts, lowercase=map(is_mostly_upper, texts)):
        joins = seg.joins
        spans: list[Span] = []
        out.append(spans)
        if True not in joins:  # no word of two syllables or more
            continue
        text = seg.text
        offsets = seg.offsets()
        glued = joins.index(True)
        while True:
            # A word: the token before the first glued one, to the last glued in a row.
            start = offsets[glued - 1][0]
            try:
                after = joins.index(False, glued)
            except ValueError:
                after = len(joins)
            end = offsets[after - 1][1]
            spans.append(Span(text[start:end], start, end))
            try:
                glued = joins.index(True, after)
            except ValueError:
                break
    return out
