"""What re-ranking knows of a candidate passage besides its BM25 score.

BM25 scores each syllable on its own, anywhere in the passage. The better answer also
has the query's syllables side by side ("lạng sơn", not "làng ... sơn"), most of them
within one sentence, early, in the query's order; its article title is about the query;
it misses no rare word of the query; and it resembles the other good candidates (pseudo-
relevance feedback: the passages of the right story share its vocabulary). All of this is
measured on the folded syllables stored with each candidate, so that a query typed
without accents is compared as one typed with them, and with the other forms of the
query's abbreviations read as the query wrote them (``QueryTerms.read``).

The features and their order are those the ranking model (``ranking.rerank``) was trained
on: changing them means training it again (``benchmarks/train_ranker.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from indexer.analysis.abbreviations import Form
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
    each with its IDF, and the other forms of its abbreviations, each with the query's
    form (folded syllables), which a passage's syllables are read as."""

    syllables: tuple[str, ...]
    weights: dict[str, float]
    equivalents: tuple[tuple[Form, Form], ...] = ()

    @classmethod
    def of(
        cls,
        syllables: Sequence[str],
        idf: Callable[[str], float],
        equivalents: Sequence[tuple[Form, Form]] = (),
    ) -> QueryTerms:
        weights = {s: idf(s) for s in dict.fromkeys(syllables)}
        return cls(tuple(syllables), weights, tuple(equivalents))

    def read(self, passage: list[str]) -> list[str]:
        """``passage``'s folded syllables with every other form of the query's
        abbreviations written as the query wrote it: for "sẵn sàng chiến đấu", a passage's
        "SSCĐ" holds those four syllables side by side, as the first stage found them."""
        if not self.equivalents:
            return passage
        forms = _forms_by_first(self.equivalents)
        out: list[str] = []
        i = 0
        while i < len(passage):
            for other, own in forms.get(passage[i], ()):
                if tuple(passage[i : i + len(other)]) == other:
                    out += own
                    i += len(other)
                    break
            else:
                out.append(passage[i])
                i += 1
        return out


@lru_cache(maxsize=1024)
def _forms_by_first(
    equivalents: tuple[tuple[Form, Form], ...],
) -> dict[str, list[tuple[Form, Form]]]:
    """(form, query's form) by the form's first syllable, longest first; the query's own
    forms among them, read as they are: a passage's "covid 19" stays so for a query's
    "covid 19", though "covid" alone is read as it."""
    pairs = {*equivalents, *((own, own) for _, own in equivalents)}
    forms: dict[str, list] = {}
    for other, own in sorted(pairs, key=lambda pair: (-len(pair[0]), pair)):
        forms.setdefault(other[0], []).append((other, own))
    return forms


@dataclass(frozen=True)
class Candidate:
    """A passage from the first stage: its place in the first stage's list (not a document
    number: the passages of several shards are in that list), BM25 score and stored
    fields."""

    place: int
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


class _Tokens:
    """The candidates' syllables as numbers, for measuring all of them at once: each
    distinct syllable numbered in order of first appearance (never a set's order, which
    changes with each process's string hashing, and with it the last bit of a sum, so
    that two server workers could order tied passages differently), each token with its
    passage, its place in the passage, and which of the query's syllables it is (-1:
    none)."""

    def __init__(self, passages: list[list[str]], query: list[str]) -> None:
        flat = list(itertools.chain.from_iterable(passages))
        numbers = dict(zip(dict.fromkeys(flat), itertools.count()))
        self.lengths = np.fromiter(map(len, passages), dtype=np.intp, count=len(passages))
        self.column = np.fromiter(map(numbers.__getitem__, flat), dtype=np.intp, count=len(flat))
        self.vocabulary = list(numbers)
        self.row = np.repeat(np.arange(len(passages)), self.lengths)
        starts = np.concatenate(([0], np.cumsum(self.lengths)[:-1]))
        self.start = starts[self.row]  # where each token's passage starts
        self.position = np.arange(len(flat)) - self.start
        which = np.full(len(numbers) + 1, -1, dtype=np.intp)  # the last: a syllable not seen
        self.query_columns = np.array([numbers.get(t, len(numbers)) for t in query], dtype=np.intp)
        which[self.query_columns] = np.arange(len(query))
        which[len(numbers)] = -1
        self.term = which[self.column]


def feature_matrix(
    terms: QueryTerms,
    candidates: Sequence[Candidate],
    idfs: Callable[[Sequence[str]], np.ndarray],
    average_length: float,
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate (candidates best first by BM25), measured on
    the tokens of all candidates at once; ``idfs``: the IDFs of many folded syllables."""
    n = len(candidates)
    rows = np.zeros((n, len(FEATURES)))
    if not n:
        return rows
    distinct = list(dict.fromkeys(terms.syllables))
    weights = np.array([terms.weights[t] for t in distinct])
    total = float(weights.sum()) or 1.0
    tokens = _Tokens([terms.read(c.syllables) for c in candidates], distinct)
    lengths = tokens.lengths
    hit = tokens.term >= 0
    q = len(distinct)
    counts = np.bincount(tokens.row[hit] * q + tokens.term[hit], minlength=n * q).reshape(n, q)
    present = counts > 0
    hits = np.bincount(tokens.row[hit], minlength=n)
    first = np.full(n, -1)
    at = np.flatnonzero(hit)
    with_hits, first_hit = np.unique(tokens.row[at], return_index=True)
    first[with_hits] = tokens.position[at[first_hit]]
    safe_lengths = np.maximum(lengths, 1)
    best = candidates[0].score or 1.0
    scores = np.array([c.score for c in candidates])
    feedback, feedback_new = _feedback(tokens, idfs)
    relative = lengths / (average_length or 1.0)
    columns = {
        "base": scores / best,
        "pair": _pairs(tokens, terms.syllables, distinct, weights, n),
        "window": _best_window(tokens, weights, n) / total,
        "title": _title_shares(candidates, distinct, weights),
        "run": _longest_run(tokens, terms, n) / total,
        "coverage": present @ weights / total,
        "count": present.sum(axis=1) / q if q else 0.0,
        "phrase": [float(c.in_phrase) for c in candidates],
        "length": np.log1p(lengths),
        "feedback": feedback,
        "feedback_new": feedback_new,
        "query_length": q,
        "first": np.where(first >= 0, first / safe_lengths, 1.0),
        "density": np.where(lengths > 0, hits / safe_lengths, 0.0),
        "bm25_b09": _bm25(counts, weights, relative, 0.9) / total,
        "bm25_b05": _bm25(counts, weights, relative, 0.5) / total,
        "missing": np.where(present, 0.0, weights).max(axis=1, initial=0.0) / total,
        "log_bm25": np.log1p(scores),
    }
    for j, name in enumerate(FEATURES):
        rows[:, j] = columns[name]
    return rows


def _title_shares(
    candidates: Sequence[Candidate], distinct: list[str], weights: np.ndarray
) -> list[float]:
    """IDF-weighted share of the query's syllables in each candidate's article title
    (passages of one article share it: each title is measured once)."""
    shares: dict[str, float] = {}
    out = []
    for c in candidates:
        title = c.fields.get("title", "")
        found = shares.get(title)
        if found is None:
            found = shares[title] = _share(distinct, weights, _title_syllables(title))
        out.append(found)
    return out


def _share(distinct: list[str], weights: np.ndarray, present: frozenset[str]) -> float:
    """IDF-weighted share of the query's syllables among ``present``."""
    total = float(weights.sum()) or 1.0
    return sum(w for t, w in zip(distinct, weights.tolist(), strict=True) if t in present) / total


def _pairs(
    tokens: _Tokens, order: Sequence[str], distinct: list[str], weights: np.ndarray, n: int
) -> np.ndarray:
    """IDF-weighted share of the query's adjacent pairs (each weighted by the lighter of
    its two syllables) that the passage has side by side, in that order."""
    index = {t: i for i, t in enumerate(distinct)}
    pairs = [(index[a], index[b]) for a, b in itertools.pairwise(order)]
    if not pairs:
        return np.zeros(n)
    q = len(distinct)
    pair_weights = np.array([min(weights[a], weights[b]) for a, b in pairs])
    term = tokens.term
    adjacent = (term[:-1] >= 0) & (term[1:] >= 0) & (tokens.row[:-1] == tokens.row[1:])
    found = np.zeros((n, q * q), dtype=bool)
    at = np.flatnonzero(adjacent)
    found[tokens.row[at], term[at] * q + term[at + 1]] = True
    codes = np.array([a * q + b for a, b in pairs])
    return found[:, codes] @ pair_weights / (float(pair_weights.sum()) or 1.0)


def _best_window(tokens: _Tokens, weights: np.ndarray, n: int) -> np.ndarray:
    """The IDF weight of the query's syllables found together within ``WINDOW_SYLLABLES``
    consecutive syllables of each passage, at its densest place: for each hit, every
    query syllable whose last occurrence up to it is less than a window behind."""
    term = tokens.term
    at = np.flatnonzero(term >= 0)
    if not len(at):
        return np.zeros(n)
    q = len(weights)
    # last[t, k]: the place of the last occurrence of syllable t up to hit k (-1: none).
    last = np.full((q, len(at)), -1)
    last[term[at], np.arange(len(at))] = at
    np.maximum.accumulate(last, axis=1, out=last)
    inside = (last > at - WINDOW_SYLLABLES) & (last >= tokens.start[at])
    window = weights @ inside
    best = np.zeros(n)
    np.maximum.at(best, tokens.row[at], window)
    return best


def _longest_run(tokens: _Tokens, terms: QueryTerms, n: int) -> np.ndarray:
    """IDF weight of the longest stretch of two or more of the query's syllables that the
    passage also has side by side, in the query's order."""
    order = terms.syllables
    if len(order) < 2 or not len(tokens.column):
        return np.zeros(n)
    cumulative = np.concatenate(([0.0], np.cumsum([terms.weights[t] for t in order])))
    columns = tokens.column
    first_of_passage = tokens.position == 0
    best = np.zeros(n)
    run = np.zeros(len(columns), dtype=np.intp)  # run[k]: the match ending at token k
    wanted = {
        t: c for t, c in zip(dict.fromkeys(order), tokens.query_columns.tolist(), strict=True)
    }
    for i, syllable in enumerate(order):
        matches = columns == wanted[syllable]
        previous = np.concatenate(([0], run[:-1]))
        previous[first_of_passage] = 0
        run = np.where(matches, previous + 1, 0)
        long = np.flatnonzero(run >= 2)
        if len(long):
            length = run[long]
            weight = cumulative[i + 1] - cumulative[i + 1 - length]
            np.maximum.at(best, tokens.row[long], weight)
    return best


def _bm25(counts: np.ndarray, weights: np.ndarray, relative: np.ndarray, b: float) -> np.ndarray:
    """BM25 over the folded syllables of each passage (``counts``: passage x query
    syllable), with this module's k1 and the given b."""
    norm = (_K1 * (1 - b + b * relative))[:, None]
    return (weights * counts * (_K1 + 1) / (counts + norm)) @ np.ones(len(weights))


def likeness(
    best: Sequence[Candidate],
    others: Sequence[Candidate],
    idfs: Callable[[Sequence[str]], np.ndarray],
) -> np.ndarray:
    """The similarity of each of ``others`` to the mean of the ``best`` passages, measured
    as the ``feedback`` feature measures it."""
    tokens = _Tokens([c.syllables for c in [*best, *others]], [])
    return _feedback(tokens, idfs, len(best))[0][len(best) :]


def _feedback(
    tokens: _Tokens,
    idfs: Callable[[Sequence[str]], np.ndarray],
    best: int = FEEDBACK_DOCUMENTS,
) -> tuple[np.ndarray, np.ndarray]:
    """Each passage's similarity to the mean of the first ``best`` others:
    cosine over the passages' distinct syllables weighted by IDF, over all syllables and
    over those not in the query. Computed over the (passage, syllable) pairs present, a
    few thousand, not over a matrix of every passage by every syllable."""
    n = len(tokens.lengths)
    if not len(tokens.column):
        return np.zeros(n), np.zeros(n)
    size = len(tokens.vocabulary)
    # Each (passage, syllable) pair once, in order of first appearance in the passage.
    key = tokens.row * size + tokens.column
    _, first = np.unique(key, return_index=True)
    first.sort()
    row, col = tokens.row[first], tokens.column[first]
    weight = np.asarray(idfs(tokens.vocabulary), dtype=float)[col]
    norm = np.sqrt(np.bincount(row, weight * weight, minlength=n))
    value = weight / np.where(norm > 0, norm, 1.0)[row]
    new = np.ones(size, dtype=bool)
    new[tokens.query_columns[tokens.query_columns < size]] = False
    new = new[col]
    m = min(best, n)
    own = row < m
    centroid = np.bincount(col[own], value[own], minlength=size)[col]
    others = np.where(np.arange(n) < m, m - 1, m).astype(float)
    others[others == 0] = 1.0
    # A passage among the best is compared with the others: its own part of the centroid
    # (its squared values) is taken out.
    every = value * np.where(own, centroid - value, centroid)
    novel = np.where(new, every, 0.0)
    similarity = np.bincount(row, every, minlength=n) / others
    return similarity, np.bincount(row, novel, minlength=n) / others
