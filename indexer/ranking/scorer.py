"""The planner's queries scored over posting arrays: Whoosh's BM25F, vectorised.

Whoosh 2.7.4 scores a query by walking a tree of matchers one posting at a time in pure
Python; a question over hundreds of thousands of passages then takes seconds. The query
shapes the planner builds (terms, OR, AND, AND-MAYBE, AND-NOT, adjacent sequences) are
evaluated here with numpy over whole posting lists instead, with the same formula and the
same statistics as Whoosh's BM25F. Every segment's postings are numbered as the searcher
numbers documents (``postings.PostingsCache``), so a query is evaluated once over the
whole index, not once per segment. The ranking is Whoosh's own
(a test compares the two on many queries); any other query shape falls back to Whoosh's
matcher for that part of the tree.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from indexer.ranking import dense_sum
from indexer.ranking.postings import POSITION_BITS, PostingsCache, all_deleted, all_lengths, state
from indexer.ranking.weighting import whoosh_idf

_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0))


def _merge_runs(parts) -> tuple[np.ndarray, np.ndarray]:
    """The union of ``parts`` (each sorted), their scores summed in part order: a stable
    sort merges the sorted runs, and each document's scores are added one after the
    other (``np.add.reduceat`` adds long runs in pairs), as on every path of the scorer:
    a document's score is then the same bits however its matches were gathered, in one
    index or in shards of it."""
    all_ids = np.concatenate([p[0] for p in parts])
    order = np.argsort(all_ids, kind="stable")
    ids = all_ids[order]
    new = np.concatenate(([True], ids[1:] != ids[:-1]))
    owner = np.cumsum(new) - 1
    scores = np.bincount(owner, weights=np.concatenate([p[1] for p in parts])[order])
    return ids[new], scores


# Scoring over given documents looks each one up in a posting list (a binary search):
# worth it only for far fewer documents than postings.
WITHIN_RATIO = 8
# An OR with parts other than terms, of more postings than a fifth of the index, adds
# them into an array over every document; fewer are merged as sorted runs (measured on
# the news corpus: the array costs a pass over the whole index, the merge grows with the
# postings' logarithm).
DENSE_SHARE = 5
# An OR of terms only (a query's syllables) is added up in arrays (``_sum_dense``) from a
# hundredth of the index on: no union of its parts is built on the way.
SUM_DENSE_SHARE = 100
# A lookup of documents in a long list goes through an array over every document instead
# of a binary search when the search's steps (documents x log2 of the list) would be more
# than this many times the list's length.
DENSE_LOOKUP = 1.5


class _Scratch(threading.local):
    """Arrays over every document, reused from query to query in each thread: a fresh
    one costs its memory's page faults (a few milliseconds for the news corpus), more
    than the adding itself. Kept all zero (``at`` all -1) between uses."""

    def __init__(self) -> None:
        self.total = np.zeros(0)
        self.hit = np.zeros(0, dtype=bool)
        self.at = np.zeros(0, dtype=np.int32)
        self.extra = np.zeros(0)

    def arrays(self, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if len(self.total) < size:
            self.total = np.zeros(size)
            self.hit = np.zeros(size, dtype=bool)
            self.at = np.full(size, -1, dtype=np.int32)
        return self.total[:size], self.hit[:size], self.at[:size]

    def extra_array(self, size: int) -> np.ndarray:
        """A second array of sums, for the optional part of an AND-MAYBE."""
        if len(self.extra) < size:
            self.extra = np.zeros(size)
        return self.extra[:size]

    def drop(self) -> None:
        """Forget the arrays after a failure left them in an unknown state."""
        self.__init__()


_SCRATCH = _Scratch()


class TimeLimit(Exception):
    """Raised when a search runs past its deadline."""


@dataclass(frozen=True)
class Statistics:
    """The collection statistics of BM25F, when they are not the searcher's own: a shard
    scores with those of the whole sharded index, so that a passage gets the score it
    would get in one index holding every article.

    ``doc_count``: documents, deleted ones included (Whoosh's N); ``field_lengths``: the
    total length of each scorable field; ``doc_frequency``: (field, term bytes) -> the
    documents holding the term, for every term of the query.
    """

    doc_count: int
    field_lengths: dict[str, int]
    doc_frequency: dict[tuple[str, bytes], int]

    def average_length(self, fieldname: str) -> float:
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1)


@dataclass(frozen=True)
class Scored:
    """All matches counted, the best ``limit`` kept: (score, document number), best first;
    ``ids`` and ``scores`` are every match (sorted document numbers), for what is counted
    or ordered over all of them (facets, one result per article, newest first)."""

    total: int
    top_n: list[tuple[float, int]]
    ids: np.ndarray = field(default_factory=lambda: _EMPTY[0])
    scores: np.ndarray = field(default_factory=lambda: _EMPTY[1])

    def __len__(self) -> int:
        return self.total


def search(
    searcher: Searcher,
    query: wq.Query,
    weighting: BM25F,
    cache: PostingsCache,
    limit: int,
    filter_query: wq.Query | None = None,
    time_limit: float | None = None,
    statistics: Statistics | None = None,
    order_key: np.ndarray | None = None,
) -> Scored:
    """Score ``query`` over the whole index with ``statistics`` (default: the searcher's
    own); ties go to the lower ``order_key`` of the document (default: its number)."""
    deadline = time.monotonic() + time_limit if time_limit else None
    index = _Index(searcher, weighting, cache, deadline, statistics)
    ids, scores = index.evaluate(query)
    gone = all_deleted(index.reader)
    if len(ids) and gone is not None:
        keep = ~gone[ids]
        ids, scores = ids[keep], scores[keep]
    if len(ids) and filter_query is not None:
        allowed, _ = index.evaluate(filter_query)
        keep, _ = _members(ids, allowed, index.size)
        ids, scores = ids[keep], scores[keep]
    return Scored(len(ids), best(ids, scores, limit, order_key), ids, scores)


def best(
    ids: np.ndarray, scores: np.ndarray, limit: int, order_key: np.ndarray | None = None
) -> list[tuple[float, int]]:
    """The ``limit`` best of documents ``ids`` scored ``scores``, as (score, document),
    best first, ties to the lower ``order_key`` (default: the document number)."""
    total = len(ids)
    if total > limit:
        # Everything that can reach the first ``limit``, ties at the cut included.
        cut = np.partition(scores, total - limit)[total - limit]
        chosen = np.flatnonzero(scores >= cut)
        ids, scores = ids[chosen], scores[chosen]
    order = np.lexsort((ids if order_key is None else order_key[ids], -scores))[:limit]
    return [(float(scores[i]), int(ids[i])) for i in order]


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted ``values`` without repeats, in one pass: ``np.unique`` hashes or sorts them
    again (with ``np.isin``, about half the time of the slowest abbreviation queries once
    their positions were cached)."""
    if len(values) < 2:
        return values
    return values[np.concatenate(([True], values[1:] != values[:-1]))]


def _members(ids: np.ndarray, within: np.ndarray, size: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(mask over ``ids`` of those in sorted ``within``, their positions in ``within``);
    ``size``: the number of documents, if known (for a lookup through ``_SCRATCH``)."""
    if not len(within):
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.intp)
    if size and len(ids) * math.log2(len(within) + 1) > DENSE_LOOKUP * len(within):
        _, _, where = _SCRATCH.arrays(size)
        try:
            where[within] = np.arange(len(within), dtype=np.int32)
            at = where[ids]
            where[within] = -1
        except BaseException:
            _SCRATCH.drop()
            raise
        found = at >= 0
        return found, np.where(found, at, 0)
    at = np.searchsorted(within, ids)
    at_clipped = np.minimum(at, len(within) - 1)
    return within[at_clipped] == ids, at_clipped


def _or_leaves(q: wq.Or) -> list[wq.Query]:
    """The parts of ``q`` with the parts of its unboosted OR parts in their place: one
    union of every syllable's text and title postings instead of a union of unions (the
    inner ones were a third of a keyword query)."""
    leaves: list[wq.Query] = []
    for sub in q.subqueries:
        if type(sub) is wq.Or and sub.boost == 1.0:
            leaves.extend(_or_leaves(sub))
        else:
            leaves.append(sub)
    return leaves


class _Index:
    """Evaluates query trees against a searcher's whole index, in its document numbers."""

    def __init__(self, top: Searcher, weighting, cache, deadline, statistics=None) -> None:
        self.top = top
        self.reader = top.reader()
        self.schema = self.reader.schema
        self.weighting = weighting
        self.cache = cache
        self.deadline = deadline
        self.size = self.reader.doc_count_all()
        self.statistics: Statistics | None = statistics
        self.averages: dict[str, float] = {}  # field -> average length
        # id(query) -> (query, postings under it); the query is kept so its id stays its own.
        self._sizes: dict[int, tuple[wq.Query, float]] = {}

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeLimit

    def evaluate(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """(sorted document numbers, scores) of the documents ``q`` matches."""
        self._check_time()
        return _shape(q).evaluate(self, q)

    def _within(self, q: wq.Query, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask over sorted ``ids`` of the documents ``q`` matches, their scores, 0.0 for
        the others): what ``evaluate`` gives for those documents, without scoring the rest.
        """
        self._check_time()
        return _shape(q).within(self, q, ids)

    def _size(self, q: wq.Query) -> float:
        """Postings under ``q`` (an upper bound of its matches); infinite if unknown."""
        found = self._sizes.get(id(q))
        if found is None:
            found = self._sizes[id(q)] = (q, _shape(q).size(self, q))
        return found[1]

    def _many(self, q: wq.Query, ids: np.ndarray) -> bool:
        """Whether ``q`` has few postings for so many documents: then evaluating it in full
        and looking the documents up is cheaper than looking its postings up for each."""
        return len(ids) * WITHIN_RATIO > self._size(q)

    def _nothing(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        return _EMPTY

    def _date_range(self, q: wq.TermRange) -> tuple[np.ndarray, np.ndarray]:
        return self.evaluate(q.simplify(self.reader))  # the dates present, OR-ed

    def _unknown_size(self, q: wq.Query) -> float:
        return float("inf")

    # Leaves

    def _btext(self, q: wq.Term) -> bytes | None:
        if q.fieldname not in self.schema:
            return None
        if isinstance(q.text, bytes):
            return q.text
        try:
            return self.schema[q.fieldname].to_bytes(q.text)
        except ValueError:
            return None

    def _term(self, q: wq.Term) -> tuple[np.ndarray, np.ndarray]:
        btext = self._btext(q)
        return _EMPTY if btext is None else self._term_scores(q, btext)

    def _list_scores(
        self, fieldname: str, btext: bytes, ids: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """The unboosted BM25F scores of a term's whole posting list, kept with the reader
        (``postings.TermScores``); never changed in place by the caller."""
        key = self._scores_key(fieldname, btext)
        kept = state(self.reader).term_scores
        scores = kept.get(key)
        if scores is None:
            scores = self._bm25(fieldname, btext, ids, weights)
            kept.put(key, scores)
        return scores

    def _bm25(
        self, fieldname: str, btext: bytes, ids: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Unboosted BM25F scores of a term's postings ``ids`` with term frequencies
        ``weights``, in a scorable field."""
        # Weights may be cached as uint8 (``postings._compact``): every expression below
        # multiplies them by a Python float first, which gives float64, exactly.
        b = self.weighting._field_B.get(fieldname, self.weighting.B)
        k1 = self.weighting.K1
        idf = self._idf(fieldname, btext)
        avgfl = self.averages.get(fieldname)
        if avgfl is None:
            if self.statistics is not None:
                avgfl = self.statistics.average_length(fieldname) or 1
            else:
                avgfl = self.top.avg_field_length(fieldname) or 1
            self.averages[fieldname] = avgfl
        # idf * ((weights * (k1 + 1)) / (weights + norms)), in place: the same operations
        # in the same order, without an array allocated for each step.
        denominator = np.take(self._norms(fieldname, b, k1, avgfl), ids)
        np.add(denominator, weights, out=denominator)
        scores = np.multiply(weights, k1 + 1, dtype=np.float64)
        np.divide(scores, denominator, out=scores)
        np.multiply(idf, scores, out=scores)
        return scores

    def _idf(self, fieldname: str, btext: bytes) -> float:
        """The weighting's ``idf``, with the document frequency taken from the postings in
        hand (the same count) instead of a term lookup in every segment, or from the
        statistics given: its ``idf_of`` (``ranking.weighting``), else Whoosh's own."""
        df, n = self._frequency(fieldname, btext)
        return getattr(self.weighting, "idf_of", whoosh_idf)(df, n)

    def _frequency(self, fieldname: str, btext: bytes) -> tuple[int, int]:
        """(documents holding the term, documents) as the scores count them."""
        stats = self.statistics
        if stats is not None:
            df = stats.doc_frequency.get((fieldname, btext))
            if df is not None:
                return df, stats.doc_count
            return len(self.cache.postings(self.reader, fieldname, btext)[0]), stats.doc_count
        return len(self.cache.postings(self.reader, fieldname, btext)[0]), self.size

    def _norms(self, fieldname: str, b: float, k1: float, avgfl: float) -> np.ndarray:
        """``k1 * ((1 - b) + b * length / avgfl)`` of every document: the length part of
        BM25's denominator, the same for every term of a field until the index changes
        (and with it the average length). Kept with the searcher's reader."""
        cache = state(self.reader).norms
        key = (b, k1, avgfl)
        found = cache.get(fieldname)
        if found is None or found[0] != key:
            length = all_lengths(self.reader, fieldname)
            if length is None:  # no document has the field (an index without titles)
                length = np.zeros(self.size, dtype=np.uint32)
            found = cache[fieldname] = (key, k1 * ((1 - b) + b * length / avgfl))
        return found[1]

    def _whoosh(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """Any other query shape, through Whoosh's own matchers, segment by segment."""
        context = self.top.context(weighting=self.weighting)
        subs = [(self.top, 0)] if self.top.is_atomic() else self.top.subsearchers
        ids, scores = [], []
        for sub, offset in subs:
            m = q.matcher(sub, context)
            while m.is_active():
                ids.append(m.id() + offset)
                scores.append(m.score())
                m.next()
                if len(ids) % 4096 == 0:
                    self._check_time()
        return np.asarray(ids, dtype=np.int32), np.asarray(scores, dtype=np.float64)

    # Boolean combinations

    def _or(self, q: wq.Or) -> tuple[np.ndarray, np.ndarray]:
        leaves = self._term_leaves(q)
        if leaves is not None and self._dense(leaves):
            return self._sum_dense(q, leaves)
        parts = [p for p in (self.evaluate(s) for s in _or_leaves(q)) if len(p[0])]
        if not parts:
            return _EMPTY
        if len(parts) == 1:
            ids, scores = parts[0]
        elif sum(len(p[0]) for p in parts) * DENSE_SHARE > self.size:
            ids, scores = self._add_dense(parts)
        else:
            ids, scores = _merge_runs(parts)
        return ids, _boosted(q, scores)

    def _add_dense(self, parts) -> tuple[np.ndarray, np.ndarray]:
        """The union of ``parts``, their scores summed in part order, through arrays over
        every document."""
        total, hit, _ = _SCRATCH.arrays(self.size)
        try:
            for part_ids, part_scores in parts:
                dense_sum.add_marking(total, hit, part_ids, part_scores)
            ids, scores, _ = dense_sum.take_marked(total, hit, total, False)
        except BaseException:
            _SCRATCH.drop()
            raise
        return ids, scores

    def _term_leaves(self, q: wq.Or) -> list[tuple[wq.Term, bytes]] | None:
        """The terms ``_or`` adds up (``_or_leaves``), with their bytes, when all of its
        parts are terms; None otherwise."""
        leaves = []
        for leaf in _or_leaves(q):
            if type(leaf) is not wq.Term:
                return None
            btext = self._btext(leaf)
            if btext is not None:
                leaves.append((leaf, btext))
        return leaves

    def _dense(self, leaves: list[tuple[wq.Term, bytes]]) -> bool:
        """Whether a sum of terms has enough postings to be added up in arrays over every
        document rather than merged as sorted runs."""
        postings = sum(self._term_size(term) for term, _ in leaves)
        return postings * SUM_DENSE_SHARE > self.size

    def _sum_dense(self, q: wq.Or, leaves, maybe: wq.Or | None = None, maybe_leaves=()):
        """The documents holding any of the terms ``leaves`` of ``q``, each scored by the
        sum of their scores, and by that of the ``maybe_leaves`` of ``maybe`` (which add
        to these documents but find none): an AND-MAYBE of two sums, or a question's sum
        of dozens of lists, added up in arrays over every document, with no union or
        lookup between (in ``dense_sum``'s compiled loops). The sums are the ones ``_or``
        and ``_and_maybe`` make, to the last bit: each one's terms added one after the
        other, in order."""
        total, hit, _ = _SCRATCH.arrays(self.size)
        extra = _SCRATCH.extra_array(self.size) if maybe_leaves else total
        try:
            for term, btext in leaves:
                dense_sum.add_marking(total, hit, *self._term_scores(term, btext))
            self._check_time()
            for term, btext in maybe_leaves:
                dense_sum.add_where_marked(extra, hit, *self._term_scores(term, btext))
            ids, sums, extras = dense_sum.take_marked(total, hit, extra, bool(maybe_leaves))
        except BaseException:
            _SCRATCH.drop()
            raise
        scores = _boosted(q, sums)
        if maybe_leaves:
            scores = scores + _boosted(maybe, extras)
        return ids, scores

    def _term_scores(self, q: wq.Term, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """``_term`` of a term whose bytes are known."""
        ids, values = self.cache.postings(self.reader, q.fieldname, btext)
        if not len(ids):
            return _EMPTY
        if not self.schema[q.fieldname].scorable:
            return ids, values * float(q.boost)
        return ids, _boosted(q, self._list_scores(q.fieldname, btext, ids, values))

    def _and(self, q: wq.And) -> tuple[np.ndarray, np.ndarray]:
        # The part with the fewest postings is scored in full, the others only over the
        # documents left: a common syllable's long list is searched, not scored. The
        # parts' scores are then added in the query's order, not in that one (which
        # depends on this index's counts): the same sum in one index or in a shard.
        order = sorted(range(len(q.subqueries)), key=lambda i: self._size(q.subqueries[i]))
        if not order:
            return _EMPTY
        ids, first = self.evaluate(q.subqueries[order[0]])
        part_scores = {order[0]: first}
        for i in order[1:]:
            if not len(ids):
                return _EMPTY
            found, scores = self._within(q.subqueries[i], ids)
            ids = ids[found]
            part_scores = {j: kept[found] for j, kept in part_scores.items()}
            part_scores[i] = scores[found]
        if not len(ids):
            return _EMPTY
        scores = part_scores[0]
        for i in range(1, len(order)):
            scores = scores + part_scores[i]
        return ids, _boosted(q, scores)

    def _and_maybe(self, q: wq.AndMaybe) -> tuple[np.ndarray, np.ndarray]:
        if type(q.a) is wq.Or and type(q.b) is wq.Or:
            leaves = self._term_leaves(q.a)
            if leaves is not None and self._dense(leaves):
                maybe = self._term_leaves(q.b)
                if maybe is not None:
                    return self._sum_dense(q.a, leaves, q.b, maybe)
        ids, scores = self.evaluate(q.a)
        if not len(ids):
            return _EMPTY
        _, maybe_scores = self._within(q.b, ids)
        return ids, scores + maybe_scores

    def _and_not(self, q: wq.AndNot) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = self.evaluate(q.a)
        if not len(ids):
            return _EMPTY
        gone, _ = self.evaluate(q.b)
        found, _ = _members(ids, gone, self.size)
        return ids[~found], scores[~found]

    # The same, over given documents only

    def _term_size(self, q: wq.Term) -> float:
        btext = self._btext(q)
        if btext is None:
            return 0
        return len(self.cache.postings(self.reader, q.fieldname, btext)[0])

    def _sum_size(self, q: wq.Or) -> float:
        return sum(self._size(s) for s in q.subqueries)

    def _min_size(self, q: wq.And | wq.Sequence) -> float:
        return min((self._size(s) for s in q.subqueries), default=0)

    def _first_size(self, q: wq.AndMaybe | wq.AndNot) -> float:
        return self._size(q.a)

    def _or_within(self, q: wq.Or, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._many(q, ids):  # its postings looked up where the documents are
            found, scores = self._or_over(q, ids)
            return found, _boosted(q, scores)
        found = np.zeros(len(ids), dtype=bool)
        scores = np.zeros(len(ids))
        for sub in _or_leaves(q):  # the parts ``_or`` adds, in its order: the same sums
            sub_found, sub_scores = self._within(sub, ids)
            found |= sub_found
            scores += sub_scores
        return found, _boosted(q, scores)

    def _and_within(self, q: wq.And, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._many(q, ids):
            return self._full_within(q, ids)
        found = np.ones(len(ids), dtype=bool)
        scores = np.zeros(len(ids))
        for sub in q.subqueries:
            sub_found, sub_scores = self._within(sub, ids)
            found &= sub_found
            scores += sub_scores
        scores[~found] = 0.0
        return found, _boosted(q, scores)

    def _and_maybe_within(self, q: wq.AndMaybe, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._many(q, ids):
            return self._full_within(q, ids)
        found, scores = self._within(q.a, ids)
        _, maybe_scores = self._within(q.b, ids)
        return found, np.where(found, scores + maybe_scores, 0.0)

    def _full_within(self, q: wq.Query, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_within`` for any query: evaluated in full, then looked up."""
        all_ids, all_scores = self.evaluate(q)
        found, at = _members(ids, all_ids, self.size)
        scores = np.zeros(len(ids))
        scores[found] = all_scores[at[found]]
        return found, scores

    def _term_within(self, q: wq.Term, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        btext = self._btext(q)
        if btext is None:
            return np.zeros(len(ids), dtype=bool), np.zeros(len(ids))
        term_ids, weights = self.cache.postings(self.reader, q.fieldname, btext)
        found, at = _members(ids, term_ids, self.size)
        scores = np.zeros(len(ids))
        at = at[found]
        scores[found] = self._some_scores(q, btext, term_ids, weights, at)
        return found, scores

    def _scores_key(self, fieldname: str, btext: bytes) -> tuple:
        """What a term's kept scores depend on besides the reader: the weighting's kind
        (its IDF) and parameters, and the statistics when they are not the reader's."""
        w = self.weighting
        key = (fieldname, btext, type(w), w.K1, w._field_B.get(fieldname, w.B))
        if self.statistics is None:
            return key
        field_length = self.statistics.field_lengths.get(fieldname, 0)
        return (*key, *self._frequency(fieldname, btext), field_length)

    def _some_scores(
        self, q: wq.Term, btext: bytes, ids: np.ndarray, weights: np.ndarray, at: np.ndarray
    ) -> np.ndarray:
        """The scores of the postings ``at`` of a term's list (``ids``, ``weights``): taken
        from its whole list's if already scored, else computed for these alone."""
        if not self.schema[q.fieldname].scorable:
            return weights[at] * float(q.boost)
        whole = state(self.reader).term_scores.get(self._scores_key(q.fieldname, btext))
        if whole is None:
            return _boosted(q, self._bm25(q.fieldname, btext, ids[at], weights[at]))
        return _boosted(q, whole[at])

    def _or_over(self, q: wq.Or, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_within`` for an OR with few postings for so many documents: each posting is
        looked up in an array over all documents that holds the documents' places, and
        only the postings found are scored. Scoring every posting and adding them all up
        took three times as long (four lists of 20,000–150,000 postings: 6.8 → 2.4 ms)."""
        parts = []  # (term or None, its bytes, document numbers, weights or scores)
        for sub in _or_leaves(q):
            if type(sub) is wq.Term:
                btext = self._btext(sub)
                if btext is not None:
                    parts.append(
                        (sub, btext, *self.cache.postings(self.reader, sub.fieldname, btext))
                    )
            else:  # before the array is filled: evaluating it may use the array too
                parts.append((None, None, *self.evaluate(sub)))
        found = np.zeros(len(ids), dtype=bool)
        scores = np.zeros(len(ids))
        _, _, where = _SCRATCH.arrays(self.size)
        try:
            where[ids] = np.arange(len(ids), dtype=np.int32)
            for term, btext, part_ids, values in parts:
                at = where[part_ids]
                hits = np.flatnonzero(at >= 0)
                if not len(hits):
                    continue
                place = at[hits]
                if term is None:
                    scores[place] += values[hits]
                else:
                    scores[place] += self._some_scores(term, btext, part_ids, values, hits)
                found[place] = True
            where[ids] = -1
        except BaseException:
            _SCRATCH.drop()
            raise
        return found, scores

    # Adjacent syllables

    def _positional(self, q: wq.Query) -> bool:
        """Whether every leaf under ``q`` is a term of a field with positions."""
        if type(q) is wq.Term:
            schema = self.schema
            return q.fieldname in schema and schema[q.fieldname].format.supports("positions")
        if type(q) in (wq.Or, wq.Sequence):
            return all(self._positional(s) for s in q.subqueries)
        return False

    def _occurrences(self, q: wq.Query, candidates: np.ndarray) -> np.ndarray:
        """Sorted keys (document << POSITION_BITS | position) of ``q``'s occurrences in the
        candidate documents."""
        if type(q) is wq.Or:
            keys = [self._occurrences(s, candidates) for s in q.subqueries]
            if not keys:
                return np.zeros(0, dtype=np.int64)
            return _distinct(np.sort(np.concatenate(keys), kind="stable"))  # merges the runs
        if type(q) is wq.Sequence:
            return self._sequence_keys(q, candidates)
        btext = self._btext(q)
        if btext is None:
            return np.zeros(0, dtype=np.int64)
        keys = self.cache.positions(self.reader, q.fieldname, btext)
        found, _ = _members(keys >> POSITION_BITS, candidates, self.size)
        return keys[found]

    def _sequence_keys(self, q: wq.Sequence, candidates: np.ndarray) -> np.ndarray:
        """Keys of the last syllable of each occurrence of the whole sequence."""
        keys = self._occurrences(q.subqueries[0], candidates)
        for sub in q.subqueries[1:]:
            if not len(keys):
                break
            following = self._occurrences(sub, candidates)
            keys = following[_members(following - 1, keys)[0]]
        return keys

    def _sequence_within(self, q: wq.Sequence, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``_within`` for adjacent syllables: positions are matched in the given documents
        that hold every syllable, not in every such document of the index ("phim VN":
        the passages with "phim", not the 35,000 with "việt" and "nam")."""
        if self._many(q, ids) or not self._adjacent(q):
            return self._full_within(q, ids)
        found, scores = self._within(wq.And(q.subqueries), ids)
        if found.any():
            self._check_time()
            keys = self._sequence_keys(q, ids[found])
            found &= _members(ids, _distinct(keys >> POSITION_BITS))[0]
        scores[~found] = 0.0
        return found, _boosted(q, scores)

    def _sequence(self, q: wq.Sequence) -> tuple[np.ndarray, np.ndarray]:
        if not self._adjacent(q):  # a sloppy or unordered phrase: Whoosh's own matchers
            return self._whoosh(q)
        # Documents with every part first (cheap), then positions only for those.
        ids, scores = self._and(wq.And(q.subqueries))
        if not len(ids):
            return _EMPTY
        self._check_time()
        keys = self._sequence_keys(q, ids)
        docs = _distinct(keys >> POSITION_BITS).astype(np.int32)
        found, at = _members(docs, ids, self.size)
        scores = scores[at[found]]
        return docs[found], _boosted(q, scores)

    def _adjacent(self, q: wq.Sequence) -> bool:
        """Whether ``q`` asks for its syllables side by side, in order, in fields with
        positions: what ``_sequence_keys`` matches."""
        return q.slop == 1 and q.ordered and self._positional(q)


def _boosted(q: wq.Query, scores: np.ndarray) -> np.ndarray:
    return scores * q.boost if q.boost != 1.0 else scores


@dataclass(frozen=True)
class _Shape:
    """What the scorer does with one kind of query node: score it over the whole index,
    score it over given documents only (``_Index._within``), and bound its matches by
    the postings under it (``_Index._size``)."""

    evaluate: Callable
    within: Callable
    size: Callable


_SHAPES: dict[type, _Shape] = {
    wq.Term: _Shape(_Index._term, _Index._term_within, _Index._term_size),
    wq.Or: _Shape(_Index._or, _Index._or_within, _Index._sum_size),
    wq.And: _Shape(_Index._and, _Index._and_within, _Index._min_size),
    wq.AndMaybe: _Shape(_Index._and_maybe, _Index._and_maybe_within, _Index._first_size),
    wq.AndNot: _Shape(_Index._and_not, _Index._full_within, _Index._first_size),
    wq.Sequence: _Shape(_Index._sequence, _Index._sequence_within, _Index._min_size),
}
_NOTHING = _Shape(_Index._nothing, _Index._full_within, _Index._unknown_size)
_DATE_RANGE = _Shape(_Index._date_range, _Index._full_within, _Index._unknown_size)
# Any other query shape: Whoosh's own matchers, segment by segment.
_OTHER = _Shape(_Index._whoosh, _Index._full_within, _Index._unknown_size)


def _shape(q: wq.Query) -> _Shape:
    found = _SHAPES.get(type(q))
    if found is not None:
        return found
    if isinstance(q, wq.qcore._NullQuery):
        return _NOTHING
    if isinstance(q, wq.TermRange):
        return _DATE_RANGE
    return _OTHER
