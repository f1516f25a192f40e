"""Second-stage ranking of the best candidates: proximity and title, which BM25 ignores.

Whoosh scores each syllable on its own. A passage where the query's syllables stand next
to each other ("lạng sơn", not "làng ... sơn") and whose article title is about the query
is the better answer; both are cheap to check on the stored text of a hundred candidates.
"""

from __future__ import annotations

import itertools

from indexer.segment import SYLLABLE_RE
from indexer.text import fold

DEPTH = 100  # candidates re-scored; deeper results keep their BM25 order
PAIR = 1.0  # weight of the share of the query's adjacent pairs found adjacent
TITLE = 0.5  # weight of the share of the query's syllables found in the title


def folded_syllables(text: str) -> list[str]:
    # Folding the whole text at once: the marks go, the syllables stay where they were.
    return SYLLABLE_RE.findall(fold(text))


def proximity(text: str, pairs: list[tuple[str, str]], weights: dict[str, float]) -> float:
    """Share of the query's adjacent syllable pairs that stand adjacent in ``text``, each
    pair weighted by its rarer syllable's IDF ("người ta" counts less than "lạng sơn")."""
    total = sum(min(weights.get(a, 0.0), weights.get(b, 0.0)) for a, b in pairs)
    if not total:
        return 0.0
    syls = folded_syllables(text)
    present = set(itertools.pairwise(syls))
    found = sum(
        min(weights.get(a, 0.0), weights.get(b, 0.0)) for a, b in pairs if (a, b) in present
    )
    return found / total


def title_overlap(title: str, terms: list[str], weights: dict[str, float]) -> float:
    """IDF-weighted share of the query's distinct syllables that occur in the title."""
    wanted = set(terms)
    total = sum(weights.get(t, 0.0) for t in wanted)
    if not total or not title:
        return 0.0
    return sum(weights.get(t, 0.0) for t in wanted.intersection(folded_syllables(title))) / total


def final_score(bm25: float, best: float, text: str, title: str, plan) -> float:
    """BM25 scaled to the best candidate, plus the proximity and title bonuses."""
    base = bm25 / best if best > 0 else 0.0
    return (
        base
        + PAIR * proximity(text, plan.pairs, plan.weights)
        + TITLE * title_overlap(title, plan.terms, plan.weights)
    )
