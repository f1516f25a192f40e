"""What re-ranking knows of a candidate passage besides its BM25 score.

BM25 scores each syllable on its own, anywhere in the passage. The better answer also
has the query's syllables side by side ("lạng sơn", not "làng ... sơn"), most of them
within one sentence, early, in the query's order; its article title is about the query;
it misses no rare word of the query; and it resembles the other good candidates (pseudo-
relevance feedback: the passages of the right story share its vocabulary). All of this is
measured on the folded syllables stored with each of the first fifty candidates, so that a
query typed without accents is compared as one typed with them.

The features and their order are those the ranking model (``ranking.rerank``) was trained
on: changing them means training it again (``benchmarks/train_ranker.py``).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.analysis.analyzers import folded_syllables

FEATURES = (
    "base",  # BM25 of the first stage, over the best candidate's
    "pair",  # IDF-weighted share of the query's adjacent pairs found adjacent
    "window",  # IDF-weighted share of the query's syllables within one window (a sentence)
    "title",  # IDF-weighted share of the query's syllables in the article title
    "run",  # the longest run of the query's syllables in the query's order, IDF-weighted
    "coverage",  # IDF-weighted share of the query's syllables in the passage
    "count",  # share of the query's distinct syllables in the passage
    "phrase",  # the passage holds the query's quoted phrases as written
    "length",  # log of the passage's length in syllables
    "feedback",  # similarity to the other best candidates (pseudo-relevance feedback)
    "feedback_new",  # the same over syllables the query does not hold
    "query_length",  # distinct syllables in the query
    "first",  # where the first of the query's syllables stands, as a share of the passage
    "density",  # share of the passage's syllables that are the query's
    "bm25_b09",  # BM25 over the folded syllables, b = 0.9 (long passages penalised more)
    "bm25_b05",  # the same, b = 0.5
    "missing",  # the IDF of the rarest syllable of the query the passage lacks
    "log_bm25",  # log of the first stage's BM25
)
WINDOW_SYLLABLES = 20  # about a sentence
FEEDBACK_DOCUMENTS = 10  # the best candidates that make up the feedback centroid
_K1 = 1.2  # of the two folded BM25 features; the first stage has its own


@dataclass(frozen=True)
class QueryTerms:
    """The query as re-ranking compares passages to it: its folded syllables in order,
    each with its IDF."""

    syllables: tuple[str, ...]
    weights: dict[str, float]

    @classmethod
    def of(cls, syllables: Sequence[str], idf: Callable[[str], float]) -> QueryTerms:
        return cls(tuple(syllables), {s: idf(s) for s in dict.fromkeys(syllables)})


@dataclass(frozen=True)
class Candidate:
    """A passage from the first stage: its number, BM25 score and stored fields."""

    docnum: int
    score: float
    fields: dict
    in_phrase: bool = False

    @property
    def syllables(self) -> list[str]:
        """The passage's folded syllables, stored with it at indexing time."""
        return self.fields.get("folded", "").split()


@lru_cache(maxsize=16_384)
def _title_syllables(title: str) -> frozenset[str]:
    # The passages of one article share its title: fold it once.
    return frozenset(folded_syllables(title))


class _Query:
    """What scoring candidates needs of the query, computed once for all of them.

    Weights are summed in the query's order, never a set's: a set's order changes with
    each process's string hashing, and with it the last bit of a sum, so that two server
    workers could order tied passages differently and a page repeat its neighbour's.
    """

    def __init__(self, terms: QueryTerms) -> None:
        weights = terms.weights
        self.weights = weights
        self.order = terms.syllables
        self.distinct = list(dict.fromkeys(terms.syllables))
        self.total = sum(weights[t] for t in self.distinct) or 1.0
        pairs = list(itertools.pairwise(terms.syllables))
        self.pairs = [(a, b, min(weights[a], weights[b])) for a, b in pairs]
        self.pair_total = sum(w for _, _, w in self.pairs)
        self.wanted = set(self.distinct)

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

    def best_window(self, hits: list[tuple[int, str]]) -> float:
        """IDF-weighted share of the query's syllables found together within
        ``WINDOW_SYLLABLES`` consecutive syllables, at the densest place."""
        if not hits:
            return 0.0
        weights = self.weights
        inside: Counter[str] = Counter()
        best = current = 0.0
        first = 0
        for i, syllable in hits:
            inside[syllable] += 1
            if inside[syllable] == 1:
                current += weights[syllable]
            while hits[first][0] <= i - WINDOW_SYLLABLES:
                leaving = hits[first][1]
                inside[leaving] -= 1
                if not inside[leaving]:
                    current -= weights[leaving]
                first += 1
            best = max(best, current)
        return best / self.total

    def longest_run(self, syls: list[str], hits: list[tuple[int, str]]) -> float:
        """IDF-weighted share of the query held by its longest stretch of two or more
        syllables that the passage also has side by side, in that order."""
        order, weights = self.order, self.weights
        starts: dict[str, list[int]] = {}
        for i, s in enumerate(order):
            starts.setdefault(s, []).append(i)
        best = 0.0
        n, length = len(order), len(syls)
        for p, s in hits:
            for i in starts[s]:
                j = 1
                while i + j < n and p + j < length and syls[p + j] == order[i + j]:
                    j += 1
                if j > 1:
                    best = max(best, sum(weights[t] for t in order[i : i + j]))
        return best / self.total

    def share(self, present: set[str] | frozenset[str]) -> float:
        return sum(self.weights[t] for t in self.distinct if t in present) / self.total


def feature_matrix(
    terms: QueryTerms,
    candidates: Sequence[Candidate],
    idf: Callable[[str], float],
    average_length: float,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate (candidates best first by BM25)."""
    query = _Query(terms)
    rows = np.zeros((len(candidates), len(FEATURES)))
    if not len(candidates):
        return rows
    best = candidates[0].score or 1.0
    passages = [c.syllables for c in candidates]
    feedback, feedback_new = _feedback(passages, query.wanted, idf)
    average = average_length or 1.0
    for row, candidate, syls, fb, fb_new in zip(
        rows, candidates, passages, feedback, feedback_new, strict=True
    ):
        hits = query.hits(syls)
        present = {s for _, s in hits}
        counts = Counter(s for _, s in hits)
        length = len(syls)
        missing = max((query.weights[t] for t in query.distinct if t not in present), default=0)
        row[:] = (
            candidate.score / best,
            query.proximity(hits),
            query.best_window(hits),
            query.share(_title_syllables(candidate.fields.get("title", ""))),
            query.longest_run(syls, hits),
            query.share(present),
            len(present) / len(query.distinct) if query.distinct else 0.0,
            float(candidate.in_phrase),
            math.log1p(length),
            fb,
            fb_new,
            len(query.distinct),
            hits[0][0] / length if hits else 1.0,
            len(hits) / length if length else 0.0,
            _bm25(query, counts, length / average, 0.9),
            _bm25(query, counts, length / average, 0.5),
            missing / query.total,
            math.log1p(candidate.score),
        )
    return rows


def _bm25(query: _Query, counts: Counter, relative_length: float, b: float) -> float:
    norm = _K1 * (1 - b + b * relative_length)
    weights = query.weights
    total = 0.0
    for t in query.distinct:
        f = counts.get(t, 0)
        if f:
            total += weights[t] * f * (_K1 + 1) / (f + norm)
    return total / query.total


def _feedback(
    passages: list[list[str]], query: set[str], idf: Callable[[str], float]
) -> tuple[np.ndarray, np.ndarray]:
    """Each passage's similarity to the mean of the best ``FEEDBACK_DOCUMENTS`` others:
    cosine over the passages' distinct syllables weighted by IDF, over all syllables and
    over those not in the query. Computed over the (passage, syllable) pairs present, a
    few thousand, not over a matrix of every passage by every syllable."""
    n = len(passages)
    distinct = [list(dict.fromkeys(syls)) for syls in passages]
    pairs = list(itertools.chain.from_iterable(distinct))
    if not pairs:
        return np.zeros(n), np.zeros(n)
    columns = {s: j for j, s in enumerate(dict.fromkeys(pairs))}
    row = np.repeat(np.arange(n), [len(d) for d in distinct])
    col = np.fromiter(map(columns.__getitem__, pairs), dtype=np.intp, count=len(pairs))
    weight = np.fromiter(map(idf, columns), dtype=float, count=len(columns))[col]
    norm = np.sqrt(np.bincount(row, weight * weight, minlength=n))
    value = weight / np.where(norm > 0, norm, 1.0)[row]
    new = np.array([s not in query for s in columns])[col]
    m = min(FEEDBACK_DOCUMENTS, n)
    own = row < m
    centroid = np.bincount(col[own], value[own], minlength=len(columns))[col]
    others = np.where(np.arange(n) < m, m - 1, m).astype(float)
    others[others == 0] = 1.0
    # A passage among the best is compared with the others: its own part of the centroid
    # (its squared values) is taken out.
    every = value * np.where(own, centroid - value, centroid)
    novel = np.where(new, every, 0.0)
    similarity = np.bincount(row, every, minlength=n) / others
    return similarity, np.bincount(row, novel, minlength=n) / others
