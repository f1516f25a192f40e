"""pyvi's own segmentation, as the indexer used it before it had a segmenter of its own:
the reference the tests hold ``indexer.analysis.segment`` and ``analyzers`` to.

Everything pyvi decides comes from pyvi itself: ``sylabelize`` for the tokens,
``sent2features`` and its model's ``predict`` for the labels, and the joining rule of
``ViTokenizer.tokenize``, copied. Only the lower-casing of text mostly in capitals is the
product's rule.
"""

from __future__ import annotations

import string
from bisect import bisect_left
from functools import cache

from indexer.analysis.segment import Span, syllables
from indexer.analysis.text import canonical, fold, is_mostly_upper, nfc


@cache
def tokenizer():
    """pyvi's ``ViTokenizer``, imported on first use (it loads its model, ~2 s)."""
    from pyvi.ViTokenizer import ViTokenizer

    return ViTokenizer


def labels(tokens: list[str]) -> list[str]:
    """pyvi's B_W/I_W label for each token, as ``ViTokenizer.tokenize`` computes them."""
    vi = tokenizer()
    return list(vi.model.predict([vi.sent2features(tokens, False)])[0])


def joins(tokens: list[str]) -> list[bool]:
    """Whether token i is glued to token i-1: ``ViTokenizer.tokenize``'s rule."""
    tags = labels(tokens)
    punct = string.punctuation
    out = [False]
    for i in range(1, len(tokens)):
        out.append(
            tags[i] == "I_W"
            and tokens[i] not in punct
            and tokens[i - 1] not in punct
            and not tokens[i][0].isdigit()
            and not tokens[i - 1][0].isdigit()
            and not (tokens[i][0].istitle() and not tokens[i - 1][0].istitle())
        )
    return out


def word_spans(text: str) -> list[Span]:
    """pyvi's multi-syllable words in ``text`` (NFC) with their offsets; text mostly in
    capitals is labelled in lower case."""
    _, tokens = tokenizer().sylabelize(text)
    if not tokens:
        return []
    glued = joins([t.lower() for t in tokens] if is_mostly_upper(text) else tokens)
    offsets = []
    pos = 0
    for token in tokens:
        start = text.index(token, pos)
        pos = start + len(token)
        offsets.append((start, pos))
    spans = []
    first = 0
    for i in range(1, len(tokens) + 1):
        if i < len(tokens) and glued[i]:
            continue
        if i - first > 1:
            start, end = offsets[first][0], offsets[i - 1][1]
            spans.append(Span(text[start:end], start, end))
        first = i
    return spans


def analyse_passage(text: str) -> dict[str, list[str]]:
    """A passage's indexed views as the indexer computed them with pyvi's tagger: the
    canonical syllables, the words (the syllables that start within each of pyvi's
    multi-syllable words, if two or more) and the folded syllables."""
    text = nfc(text)
    found = syllables(text)
    exact = [canonical(s.text) for s in found]
    starts = [s.start for s in found]
    words = []
    for span in word_spans(text):
        first = bisect_left(starts, span.start)
        last = bisect_left(starts, span.end)
        if last - first > 1:
            words.append("_".join(exact[first:last]))
    return {"text": exact, "word": words, "folded": [fold(s.text) for s in found]}
