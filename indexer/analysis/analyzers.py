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

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import accumulate

from whoosh.analysis import Filter, Token, Tokenizer

from indexer.analysis.segment import (
    SYLLABLE_RE,
    segment_many,
    syllables,
    word_ranges,
    word_spans,
)
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


class _PieceTokenizer(Tokenizer):
    """Whoosh's token protocol over the (text, start, end) pieces ``pieces`` cuts from a
    value: one ``Token`` reused, as Whoosh's own tokenizers do."""

    def pieces(self, value: str) -> Iterable[tuple[str, int, int]]:
        raise NotImplementedError

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
        for pos, (text, start, end) in enumerate(self.pieces(value)):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


class SyllableTokenizer(_PieceTokenizer):
    """Splits text into syllables, numbers and foreign words, keeping offsets."""

    def pieces(self, value: str) -> Iterable[tuple[str, int, int]]:
        return ((m.group(), m.start(), m.end()) for m in SYLLABLE_RE.finditer(nfc(value)))


class PyviWordTokenizer(_PieceTokenizer):
    """pyvi's multi-syllable words, as ``syllable_syllable`` (from ``indexer.analysis.crf``;
    the class keeps its name, which every index records in its schema)."""

    def pieces(self, value: str) -> Iterable[tuple[str, int, int]]:
        return (
            ("_".join(s.text for s in syllables(span.text)), span.start, span.end)
            for span in word_spans(nfc(value))
        )


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
    return [_views(seg) for seg in segment_many(texts)]


class _SyllableCounts(dict):
    """pyvi token -> how many syllables (``SYLLABLE_RE``) it holds, filled on first sight."""

    limit = 500_000  # distinct tokens; emptied when full

    def __missing__(self, token: str) -> int:
        if len(self) >= self.limit:
            self.clear()
        count = self[token] = len(SYLLABLE_RE.findall(token))
        return count


_COUNTS = _SyllableCounts()


def _views(seg) -> dict[str, list[str]]:
    text = seg.text
    written = SYLLABLE_RE.findall(text)
    exact = list(map(canonical_syllable, written))
    words = []
    ranges = word_ranges(seg.joins)
    if ranges:
        # A word's syllables: those of its tokens. No syllable crosses from one token to
        # the next (then the tokens' counts add up to the text's), except where a number
        # runs on from a word ("x_1.5": pyvi's "x_1", ".", "5"; one syllable "1.5").
        ends = [0, *accumulate(map(_COUNTS.__getitem__, seg.tokens))]
        if ends[-1] == len(written):
            spans = [(ends[first], ends[after]) for first, after in ranges]
        else:
            spans = _syllable_ranges(text, seg.offsets(), ranges)
        words = ["_".join(exact[first:last]) for first, last in spans if last - first > 1]
    return {"text": exact, "word": words, "folded": list(map(_FOLDED.__getitem__, written))}


def _syllable_ranges(text, offsets, ranges) -> list[tuple[int, int]]:
    """The syllables of each word, by offsets: those that start within it."""
    starts = [m.start() for m in SYLLABLE_RE.finditer(text)]
    out = []
    for first, after in ranges:
        low = bisect_left(starts, offsets[first][0])
        out.append((low, bisect_left(starts, offsets[after - 1][1], low)))
    return out
