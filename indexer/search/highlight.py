"""Marking matched syllables in a passage, with offsets into the text as written.

The passage is cut into syllables again (a regular expression, no pyvi), so the marks
land exactly on the original characters whatever pyvi did to spacing, and everything
outside the marks is HTML-escaped: ``<mark>`` is the only markup that can come out.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from indexer.analysis.segment import SYLLABLE_RE, syllables
from indexer.analysis.text import canonical, fold, has_diacritics
from indexer.ranking.syntax import ParsedQuery


@lru_cache(maxsize=200_000)
def _forms(syllable: str) -> tuple[str, str]:
    form = canonical(syllable)
    return form, fold(form)


def match_spans(text: str, exact: set[str], folded: set[str]) -> list[tuple[int, int]]:
    """(start, end) of each syllable of ``text`` matching the query, runs merged."""
    spans: list[tuple[int, int]] = []
    for match in SYLLABLE_RE.finditer(text):  # ``syllables``, without a Span per syllable
        form, folded_form = _forms(match.group())
        if form in exact or folded_form in folded:
            start, end = match.span()
            if spans and text[spans[-1][1] : start].isspace():
                spans[-1] = (spans[-1][0], end)  # "Lạng Sơn" is one mark, not two
            else:
                spans.append((start, end))
    return spans


def highlight(text: str, exact: set[str], folded: set[str]) -> str:
    """``text`` HTML-escaped, with each match wrapped in ``<mark>``."""
    out = []
    last = 0
    for start, end in match_spans(text, exact, folded):
        out.append(escape(text[last:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def marked_terms(parsed: ParsedQuery) -> tuple[set[str], set[str]]:
    """(canonical syllables, folded syllables) to mark for a query: a syllable typed with
    accents in a part typed with accents is marked only in that form, any other in all."""
    exact: set[str] = set()
    folded: set[str] = set()
    for part in (parsed.words, *parsed.phrases, *parsed.title):
        part_accented = has_diacritics(part)
        for s in syllables(part):
            if part_accented and has_diacritics(s.text):
                exact.add(canonical(s.text))
            else:
                folded.add(fold(s.text))
    return exact, folded
