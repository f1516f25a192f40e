"""Second-stage ranking of the best candidates: proximity and title, which BM25 ignores.

BM25 scores each syllable on its own, anywhere in the passage. A passage where the query's
syllables stand next to each other ("lạng sơn", not "làng ... sơn"), where most of them
come together within one sentence, and whose article title is about the query is the
better answer; all three are cheap to check on the stored text of the first fifty candidates.
"""

from __future__ import annotations

import itertools
from collections import Counter
from functools import lru_cache

from indexer.analysis.analyzers import folded_syllables

# Candidates re-scored; deeper results keep their BM25 order. 100 scored 0.0005–0.0015
# MRR@10 more on the dev sets and took twice the re-ranking time (a quarter of a query).
DEPTH = 50
PAIR = 1.0  # weight of the share of the query's adjacent pairs found adjacent
TITLE = 0.5  # weight of the share of the query's syllables found in the title
WINDOW = 1.5  # weight of the share of the query's syllables found within one window
WINDOW_SYLLABLES = 20  # about a sentence


def passage_syllables(fields: dict) -> list[str]:
    """A passage's folded syllables, from its stored fields.

    Stored with the passage when it was indexed (``store.passage_documents``): cutting
    and folding fifty passages was two fifths of re-ranking. Passages indexed before that
    have only their text, which is cut and folded here.
    """
    stored = fields.get("folded")
    return stored.split() if stored is not None else folded_syllables(fields.get("text", ""))


def proximity(syls: list[str], pairs: list[tuple[str, str]], weights: dict[str, float]) -> float:
    """Share of the query's adjacent syllable pairs that stand adjacent in ``syls`` (a
    passage's folded syllables), each pair weighted by its rarer syllable's IDF ("người ta"
    counts less than "lạng sơn")."""
    query = _Query(pairs, [], weights)
    return query.proximity(query.hits(syls))


def best_window(
    syls: list[str], terms: list[str], weights: dict[str, float], size: int = WINDOW_SYLLABLES
) -> float:
    """IDF-weighted share of the query's distinct syllables found together within ``size``
    consecutive syllables of the passage, at the densest place.

    The answer to a question usually sits in one sentence that repeats most of the
    question's words; a long passage that has them scattered over several sentences
    scores as well in BM25 but is the weaker answer.
    """
    query = _Query([], terms, weights)
    return query.best_window(query.hits(syls), size)


@lru_cache(maxsize=16_384)
def _title_syllables(title: str) -> frozenset[str]:
    # The passages of one article share its title: fold it once.
    return frozenset(folded_syllables(title))


class _Query:
    """What re-scoring needs of the query, computed once for its fifty candidates: its
    syllables, its pairs with their weights, and the totals each share is taken of.

    Weights are summed in the query's order, never a set's: a set's order changes with
    each process's string hashing, and with it the last bit of a sum, so that two server
    workers could order tied passages differently and a page repeat its neighbour's.
    """

    def __init__(
        self, pairs: list[tuple[str, str]], terms: list[str], weights: dict[str, float]
    ) -> None:
        self.weights = weights
        self.pairs = [(a, b, min(weights.get(a, 0.0), weights.get(b, 0.0))) for a, b in pairs]
        self.pair_total = sum(w for _, _, w in self.pairs)
        self.distinct = list(dict.fromkeys(terms))
        self.term_total = sum(weights.get(t, 0.0) for t in self.distinct)
        self.wanted = set(terms) | {s for pair in pairs for s in pair}

    def hits(self, syls: list[str]) -> list[tuple[int, str]]:
        """(position, syllable) of the passage's syllables that are query terms."""
        wanted = self.wanted
        return [(i, s) for i, s in enumerate(syls) if s in wanted]

    def proximity(self, hits: list[tuple[int, str]]) -> float:
        if not self.pair_total:
            return 0.0
        # Both syllables of a query pair are query terms: adjacent hits are all that can match.
        present = {(a, b) for (i, a), (j, b) in itertools.pairwise(hits) if j == i + 1}
        return sum(w for a, b, w in self.pairs if (a, b) in present) / self.pair_total

    def best_window(self, hits: list[tuple[int, str]], size: int) -> float:
        total = self.term_total
        if not total or not hits:
            return 0.0
        weights = self.weights
        if hits[-1][0] - hits[0][0] < size:  # all within one window: the loop's sum, at once
            seen: set[str] = set()
            found = 0.0
            for _, syllable in hits:
                if syllable not in seen:
                    seen.add(syllable)
                    found += weights.get(syllable, 0.0)
            return found / total
        inside: Counter[str] = Counter()
        best = current = 0.0
        first = 0
        for i, syllable in hits:
            inside[syllable] += 1
            if inside[syllable] == 1:
                current += weights.get(syllable, 0.0)
            while hits[first][0] <= i - size:
                leaving = hits[first][1]
                inside[leaving] -= 1
                if not inside[leaving]:
                    current -= weights.get(leaving, 0.0)
                first += 1
            best = max(best, current)
        return best / total

    def title_overlap(self, title: str) -> float:
        """IDF-weighted share of the query's distinct syllables that occur in the title."""
        if not self.term_total or not title:
            return 0.0
        in_title = _title_syllables(title)
        weights = self.weights
        return sum(weights.get(t, 0.0) for t in self.distinct if t in in_title) / self.term_total


def scorer_for(plan):
    """``final_score`` for each of ``plan``'s candidates, the query's part done once."""
    query = _Query(plan.pairs, plan.terms, plan.weights)

    def final_score(bm25: float, best: float, syls: list[str], title: str) -> float:
        """BM25 scaled to the best candidate, plus the proximity, window and title
        bonuses; ``syls``: the passage's folded syllables."""
        base = bm25 / best if best > 0 else 0.0
        hits = query.hits(syls)
        return (
            base
            + PAIR * query.proximity(hits)
            + WINDOW * query.best_window(hits, WINDOW_SYLLABLES)
            + TITLE * query.title_overlap(title)
        )

    return final_score
