"""Syllables and pyvi words, each with its character offsets in the text.

pyvi's own ``tokenize`` returns a rewritten string (``26-6`` becomes ``26 - 6``), which
loses the way back to the original text. Here the same model labels the same syllables,
and every syllable and word keeps its ``start``/``end`` in the (NFC) input, so that
highlights point into the text as written.
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import Any, NamedTuple

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


@cache
def _pyvi() -> Any:
    """pyvi's tokenizer with its model loaded, imported on first use (it costs ~2 s).

    Unpickling the model writes it to a temporary file (sklearn-crfsuite's way), which is
    removed only if the process exits normally: an indexing worker ended by
    ``Pool.terminate`` left 640 KB in the temporary folder on every run. crfsuite reads
    the whole file when the tagger opens, so the file is removed right after.
    """
    from pyvi.ViTokenizer import ViTokenizer

    model = ViTokenizer.model
    tagger = model.tagger_  # opens the model: crfsuite reads the file into memory
    if tagger is not None and getattr(model, "modelfile", None) is not None:
        model.modelfile.cleanup()
    return ViTokenizer


def _joins(labels: list[str], tokens: list[str]) -> list[bool]:
    """pyvi's own rule for gluing token i to token i-1 (copied from ``ViTokenizer.tokenize``)."""
    punct = string.punctuation
    out = [False]
    for i in range(1, len(labels)):
        out.append(
            labels[i] == "I_W"
            and tokens[i] not in punct
            and tokens[i - 1] not in punct
            and not tokens[i][0].isdigit()
            and not tokens[i - 1][0].isdigit()
            and not (tokens[i][0].istitle() and not tokens[i - 1][0].istitle())
        )
    return out


def features(tokens: list[str]) -> list[list[str]]:
    """pyvi's CRF features for ``tokens``, as crfsuite attribute names.

    The same features as ``ViTokenizer.sent2features``, built in a third of the time:
    each token's case tests and each n-gram lookup are done once instead of up to three
    times, and features whose value is False are left out instead of being sent with
    weight 0 (they add exactly nothing to a label's score). Attribute order is pyvi's, so
    the sums, and the labels, are identical (a test checks them on the gold corpus).
    """
    bi_grams, tri_grams = _pyvi().bi_grams, _pyvi().tri_grams
    n = len(tokens)
    lower = [t.lower() for t in tokens]
    title = [t.istitle() for t in tokens]
    upper = [t.isupper() for t in tokens]
    # pair[i]: tokens i-1, i form a known bigram; triple[i]: tokens i-2..i a trigram.
    pair = [False] + [" ".join([tokens[i - 1], tokens[i]]).lower() in bi_grams for i in range(1, n)]
    triple = [False, False] + [
        " ".join([tokens[i - 2], tokens[i - 1], tokens[i]]).lower() in tri_grams
        for i in range(2, n)
    ]
    out = []
    for i in range(n):
        f = ["bias", "word.lower():" + lower[i]]
        if upper[i]:
            f.append("word.isupper()")
        if title[i]:
            f.append("word.istitle()")
        if tokens[i].isdigit():
            f.append("word.isdigit()")
        if i > 0:
            f.append("-1:word.lower():" + lower[i - 1])
            if title[i - 1]:
                f.append("-1:word.istitle()")
            if upper[i - 1]:
                f.append("-1:word.isupper()")
            if pair[i]:
                f.append("-1:word.bi_gram()")
            if i > 1 and triple[i]:
                f.append("-2:word.tri_gram()")
        if i < n - 1:
            f.append("+1:word.lower():" + lower[i + 1])
            if title[i + 1]:
                f.append("+1:word.istitle()")
            if upper[i + 1]:
                f.append("+1:word.isupper()")
            if pair[i + 1]:
                f.append("+1:word.bi_gram()")
            if i < n - 2 and triple[i + 2]:
                f.append("+2:word.tri_gram()")
        out.append(f)
    return out


def labels(tokens: list[str]) -> list[str]:
    """pyvi's B_W/I_W label for each token (its model, our faster features)."""
    return _pyvi().model.tagger_.tag(features(tokens))


def word_spans(text: str) -> list[Span]:
    """pyvi's multi-syllable words in ``text`` (NFC), with offsets.

    Text mostly in capitals is segmented in lower case: pyvi's features use case, and it
    glues headlines in capitals differently from the same words in running text.
    """
    tokenizer = _pyvi()
    _, tokens = tokenizer.sylabelize(text)
    if not tokens:
        return []
    model_tokens = [t.lower() for t in tokens] if is_mostly_upper(text) else tokens
    joins = _joins(labels(model_tokens), model_tokens)

    offsets: list[tuple[int, int]] = []
    pos = 0
    for token in tokens:
        start = text.find(token, pos)
        if start < 0:  # sylabelize only ever returns substrings; guard anyway
            offsets.append((pos, pos))
            continue
        pos = start + len(token)
        offsets.append((start, pos))

    spans: list[Span] = []
    first = 0
    for i in range(1, len(tokens) + 1):
        if i < len(tokens) and joins[i]:
            continue
        if i - first > 1:
            start, end = offsets[first][0], offsets[i - 1][1]
            spans.append(Span(text[start:end], start, end))
        first = i
    return spans


def pyvi_tokenize(text: str) -> str:
    """pyvi's own output, for comparison in tests and benchmarks."""
    return _pyvi().tokenize(text)
