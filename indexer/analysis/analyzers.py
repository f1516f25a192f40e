"""Vietnamese analysis as Whoosh pipelines: syllables for matching, pyvi words for ranking.

A passage is indexed two ways:

- ``text``: its syllables in canonical form (NFC, lower case, one tone-mark style), with
  positions for phrases. Syllables do not depend on pyvi, so pyvi's mistakes
  (``tăng_cường_quốc_phòng``) never lose a match.
- ``word``: pyvi's multi-syllable words, which reward a passage that contains the query's
  words as words, not just its syllables.

Diacritics are not folded in the index: a query typed without them is expanded to the
accented forms that exist in the index (see ``indexer.ranking.vocabulary``), so an exact query
keeps its precision and an unaccented one still finds everything.

Word segmentation is the costly part. ``analyse_passages`` segments many passages at once
(pyvi's segmentation, batched: ``indexer.analysis.crf``) and returns plain lists of terms,
which Whoosh indexes as they are; so analysis runs in the indexing workers and the writer
receives only lists.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import lru_cache

from whoosh.analysis import Filter, Token, Tokenizer

from indexer.analysis.segment import SYLLABLE_RE, Span, syllables, word_spans, word_spans_many
from indexer.analysis.text import canonical, fold, nfc

# Canonical forms of the few hundred thousand distinct syllables are worth remembering.
canonical_syllable = lru_cache(maxsize=200_000)(canonical)


class _FoldedSyllables(dict):
    """Syllable as written -> folded, filled on first sight.

    A dict rather than ``lru_cache``: a passage's syllables then map through it in C
    (``map(table.__getitem__, ...)``), 3–4 times faster than folding the passage.
    """

    limit = 500_000  # distinct syllables, numbers and names; emptied when full

    def __missing__(self, syllable: str) -> str:
        if len(self) >= self.limit:
            self.clear()
        folded = self[syllable] = fold(syllable)
        return folded


_FOLDED = _FoldedSyllables()


def folded_syllables(text: str) -> list[str]:
    """The folded syllables of ``text`` in order (NFD text is composed first, so that a
    mark never splits a syllable)."""
    return list(map(_FOLDED.__getitem__, SYLLABLE_RE.findall(nfc(text))))


class SyllableTokenizer(Tokenizer):
    """Splits text into syllables, numbers and foreign words, keeping offsets."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, match in enumerate(SYLLABLE_RE.finditer(nfc(value))):
            token.text = match.group()
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


class PyviWordTokenizer(Tokenizer):
    """pyvi's multi-syllable words, as ``syllable_syllable``."""

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        mode: str = "",
        **kwargs,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for pos, span in enumerate(word_spans(nfc(value))):
            token.text = "_".join(s.text for s in syllables(span.text))
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + span.start
                token.endchar = start_char + span.end
            yield token


class CanonicalFilter(Filter):
    """Lower case, NFC and one tone-mark style (hoà -> hòa), syllable by syllable."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for token in tokens:
            token.text = "_".join(canonical_syllable(s) for s in token.text.split("_"))
            yield token


def syllable_analyzer():
    return SyllableTokenizer() | CanonicalFilter()


def word_analyzer():
    return PyviWordTokenizer() | CanonicalFilter()


def analyse_syllables(text: str) -> list[str]:
    """Canonical syllables of ``text``: what the ``text`` and ``title`` fields index."""
    return [canonical_syllable(m.group()) for m in SYLLABLE_RE.finditer(nfc(text))]


def analyse_passage(text: str) -> dict[str, list[str]]:
    """Both indexed views of a passage and its folded syllables (``analyse_passages``)."""
    return analyse_passages([text])[0]


def analyse_passages(texts: Sequence[str]) -> list[dict[str, list[str]]]:
    """Both indexed views of each passage, and its folded syllables (stored for
    re-ranking), the passages segmented together: what an indexing worker computes.

    Equal to running each field's analyzer on each text and to ``folded_syllables``
    (a test checks it).
    """
    texts = [nfc(text) for text in texts]
    return [_views(text, spans) for text, spans in zip(texts, word_spans_many(texts), strict=True)]


def _views(text: str, spans: list[Span]) -> dict[str, list[str]]:
    matches = list(SYLLABLE_RE.finditer(text))
    written = list(map(re.Match.group, matches))
    exact = list(map(canonical_syllable, written))
    words = []
    if spans:
        starts = list(map(re.Match.start, matches))
        for span in spans:
            # The syllables that start within the word: those of its tokens.
            first = bisect_left(starts, span.start)
            last = bisect_left(starts, span.end, first)
            if last - first > 1:
                words.append("_".join(exact[first:last]))
    return {"text": exact, "word": words, "folded": list(map(_FOLDED.__getitem__, written))}
