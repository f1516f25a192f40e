"""The planner's queries scored over posting arrays: Whoosh's BM25F, vectorised.

Whoosh 2.7.4 scores a query by walking a tree of matchers one posting at a time in pure
Python; a question over hundreds of thousands of passages then takes seconds. The query
shapes the planner builds (terms, OR, AND, AND-MAYBE, AND-NOT, adjacent sequences) are
evaluated here with numpy over whole posting lists instead, one segment at a time, with
the same formula and the same statistics as Whoosh's BM25F. The ranking is Whoosh's own
(a test compares the two on many queries); any other query shape falls back to Whoosh's
matcher for that part of the tree.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.scoring import BM25F
from whoosh.searching import Searcher

from indexer.postings import POSITION_BITS, PostingsCache, deleted, lengths

_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0))


# Scoring over given documents looks each one up in a posting list (a binary search):
# worth it only for far fewer documents than postings.
WITHIN_RATIO = 8


class TimeLimit(Exception):
    """Raised when a search runs past its deadline."""


@dataclass(frozen=True)
class Scored:
    """All matches counted, the best ``limit`` kept: (score, document number), best first."""

    total: int
    top_n: list[tuple[float, int]]

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
) -> Scored:
    """Score ``query`` over every segment; ties go to the lower document number."""
    deadline = time.monotonic() + time_limit if time_limit else None
    id_parts, score_parts = [], []
    averages: dict[str, float] = {}  # field -> average length, for every segment
    for sub, offset in _segments(searcher):
        segment = _Segment(searcher, sub, weighting, cache, deadline, averages)
        ids, scores = segment.evaluate(query)
        gone = deleted(sub.reader())
        if len(ids) and len(gone):
            keep = ~np.isin(ids, gone, assume_unique=True)
            ids, scores = ids[keep], scores[keep]
        if len(ids) and filter_query is not None:
            allowed, _ = segment.evaluate(filter_query)
            keep = np.isin(ids, allowed, assume_unique=True)
            ids, scores = ids[keep], scores[keep]
        id_parts.append(ids.astype(np.int64) + offset)
        score_parts.append(scores)
    if not id_parts:
        return Scored(0, [])
    ids = np.concatenate(id_parts)
    scores = np.concatenate(score_parts)
    total = len(ids)
    if total > limit:
        # Everything that can reach the first ``limit``, ties at the cut included.
        cut = np.partition(scores, total - limit)[total - limit]
        chosen = np.flatnonzero(scores >= cut)
        ids, scores = ids[chosen], scores[chosen]
    order = np.lexsort((ids, -scores))[:limit]
    return Scored(total, [(float(scores[i]), int(ids[i])) for i in order])


def _segments(searcher: Searcher):
    if searcher.is_atomic():
        return [(searcher, 0)]
    return searcher.subsearchers


def _members(ids: np.ndarray, within: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mask over ``ids`` of those in sorted ``within``, their positions in ``within``)."""
    if not len(within):
        return np.zeros(len(ids), dtype=bool), np.zeros(len(ids), dtype=np.intp)
    at = np.searchsorted(within, ids)
    at_clipped = np.minimum(at, len(within) - 1)
    return within[at_clipped] == ids, at_clipped


class _Segment:
    """Evaluates query trees against one segment; document numbers are segment-local."""

    def __init__(
        self, top: Searcher, sub: Searcher, weighting, cache, deadline, averages: dict
    ) -> None:
        self.top = top
        self.sub = sub
        self.reader = sub.reader()
        self.weighting = weighting
        self.cache = cache
        self.deadline = deadline
        self.size = self.reader.doc_count_all()
        self.averages = averages

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeLimit

    def evaluate(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """(sorted document numbers, scores) of the documents ``q`` matches."""
        self._check_time()
        kind = type(q)
        if q is wq.NullQuery or isinstance(q, wq.qcore._NullQuery):
            return _EMPTY
        if kind is wq.Term:
            return self._term(q)
        if kind is wq.Or:
            return self._or(q)
        if kind is wq.And:
            return self._and(q)
        if kind is wq.AndMaybe:
            return self._and_maybe(q)
        if kind is wq.AndNot:
            return self._and_not(q)
        if isinstance(q, wq.TermRange):  # a date range: the dates present, OR-ed
            return self.evaluate(q.simplify(self.reader))
        if kind is wq.Sequence and q.slop == 1 and q.ordered and self._positional(q):
            return self._sequence(q)
        return self._whoosh(q)

    # Leaves

    def _btext(self, q: wq.Term) -> bytes | None:
        if q.fieldname not in self.reader.schema:
            return None
        if isinstance(q.text, bytes):
            return q.text
        try:
            return self.reader.schema[q.fieldname].to_bytes(q.text)
        except ValueError:
            return None

    def _term(self, q: wq.Term) -> tuple[np.ndarray, np.ndarray]:
        btext = self._btext(q)
        if btext is None:
            return _EMPTY
        ids, weights = self.cache.postings(self.reader, q.fieldname, btext)
        if not len(ids):
            return _EMPTY
        return ids, self._term_scores(q, btext, ids, weights)

    def _term_scores(
        self, q: wq.Term, btext: bytes, ids: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """BM25F scores of the term's postings ``ids`` with term frequencies ``weights``."""
        field = self.reader.schema[q.fieldname]
        # Weights may be cached as uint8 (``postings._compact``): every expression below
        # multiplies them by a Python float first, which gives float64, exactly.
        if not field.scorable:
            return weights * float(q.boost)
        b = self.weighting._field_B.get(q.fieldname, self.weighting.B)
        k1 = self.weighting.K1
        idf = self.top.idf(q.fieldname, btext)
        avgfl = self.averages.get(q.fieldname)
        if avgfl is None:
            avgfl = self.averages[q.fieldname] = self.top.avg_field_length(q.fieldname) or 1
        norms = self._norms(q.fieldname, b, k1, avgfl)[ids]
        scores = idf * ((weights * (k1 + 1)) / (weights + norms))
        if q.boost != 1.0:
            scores = scores * q.boost
        return scores

    def _norms(self, fieldname: str, b: float, k1: float, avgfl: float) -> np.ndarray:
        """``k1 * ((1 - b) + b * length / avgfl)`` of every document of the segment: the
        length part of BM25's denominator, the same for every term of a field until the
        index changes (and with it the average length). Kept with the segment's reader."""
        cache = self.reader.__dict__.setdefault("_vnsearch_norms", {})
        key = (b, k1, avgfl)
        found = cache.get(fieldname)
        if found is None or found[0] != key:
            length = lengths(self.reader, fieldname)
            found = cache[fieldname] = (key, k1 * ((1 - b) + b * length / avgfl))
        return found[1]

    def _whoosh(self, q: wq.Query) -> tuple[np.ndarray, np.ndarray]:
        """Any other query shape, through Whoosh's own matcher."""
        context = self.top.context(weighting=self.weighting)
        m = q.matcher(self.sub, context)
        ids, scores = [], []
        while m.is_active():
            ids.append(m.id())
            scores.append(m.score())
            m.next()
            if len(ids) % 4096 == 0:
                self._check_time()
        return np.asarray(ids, dtype=np.int32), np.asarray(scores, dtype=np.float64)

    # Boolean combinations

    def _or(self, q: wq.Or) -> tuple[np.ndarray, np.ndarray]:
        parts = [p for p in (self.evaluate(s) for s in q.subqueries) if len(p[0])]
        if not parts:
            return _EMPTY
        if len(parts) == 1:
            ids, scores = parts[0]
        elif sum(len(p[0]) for p in parts) * 8 > self.size:
            total = np.zeros(self.size)
            hit = np.zeros(self.size, dtype=bool)
            for part_ids, part_scores in parts:
                total[part_ids] += part_scores  # ids are unique within a part
                hit[part_ids] = True
            ids = np.flatnonzero(hit).astype(np.int32)
            scores = total[ids]
        else:
            all_ids = np.concatenate([p[0] for p in parts])
            ids, inverse = np.unique(all_ids, return_inverse=True)
            scores = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]))
            ids = ids.astype(np.int32)
        return ids, scores * q.boost if q.boost != 1.0 else scores

    def _and(self, q: wq.And) -> tuple[np.ndarray, np.ndarray]:
        # The part with the fewest postings is scored in full, the others only over the
        # documents left: a common syllable's long list is searched, not scored.
        parts = sorted(q.subqueries, key=self._size)
        if not parts:
            return _EMPTY
        ids, scores = self.evaluate(parts[0])
        for part in parts[1:]:
            if not len(ids):
                return _EMPTY
            found, part_scores = self._within(part, ids)
            ids, scores = ids[found], scores[found] + part_scores[found]
        if not len(ids):
            return _EMPTY
        return ids, scores * q.boost if q.boost != 1.0 else scores

    def _and_maybe(self, q: wq.AndMaybe) -> tuple[np.ndarray, np.ndarray]:
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
        found, _ = _members(ids, gone)
        return ids[~found], scores[~found]

    # The same, over given documents only

    def _size(self, q: wq.Query) -> float:
        """Postings under ``q`` (an upper bound of its matches); infinite if unknown."""
        kind = type(q)
        if kind is wq.Term:
            btext = self._btext(q)
            if btext is None:
                return 0
            return len(self.cache.postings(self.reader, q.fieldname, btext)[0])
        if kind is wq.Or:
            return sum(self._size(s) for s in q.subqueries)
        if kind in (wq.And, wq.Sequence):
            return min((self._size(s) for s in q.subqueries), default=0)
        if kind in (wq.AndMaybe, wq.AndNot):
            return self._size(q.a)
        return float("inf")

    def _within(self, q: wq.Query, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask over sorted ``ids`` of the documents ``q`` matches, their scores, 0.0 for
        the others): what ``evaluate`` gives for those documents, without scoring the rest.
        """
        self._check_time()
        kind = type(q)
        if len(ids) * WITHIN_RATIO > self._size(q):
            kind = None  # few postings for so many documents: scoring them all is cheaper
        if kind is wq.Term:
            btext = self._btext(q)
            if btext is None:
                return np.zeros(len(ids), dtype=bool), np.zeros(len(ids))
            term_ids, weights = self.cache.postings(self.reader, q.fieldname, btext)
            found, at = _members(ids, term_ids)
            scores = np.zeros(len(ids))
            at = at[found]
            scores[found] = self._term_scores(q, btext, term_ids[at], weights[at])
            return found, scores
        if kind in (wq.Or, wq.And):
            found = np.zeros(len(ids), dtype=bool) if kind is wq.Or else np.ones(len(ids), bool)
            scores = np.zeros(len(ids))
            for sub in q.subqueries:
                sub_found, sub_scores = self._within(sub, ids)
                found = found | sub_found if kind is wq.Or else found & sub_found
                scores += sub_scores
            if kind is wq.And:
                scores[~found] = 0.0
            return found, scores * q.boost if q.boost != 1.0 else scores
        if kind is wq.AndMaybe:
            found, scores = self._within(q.a, ids)
            _, maybe_scores = self._within(q.b, ids)
            return found, np.where(found, scores + maybe_scores, 0.0)
        # Anything else: evaluated in full, then looked up.
        all_ids, all_scores = self.evaluate(q)
        found, at = _members(ids, all_ids)
        scores = np.zeros(len(ids))
        scores[found] = all_scores[at[found]]
        return found, scores

    # Adjacent syllables

    def _positional(self, q: wq.Query) -> bool:
        """Whether every leaf under ``q`` is a term of a field with positions."""
        if type(q) is wq.Term:
            schema = self.reader.schema
            return q.fieldname in schema and schema[q.fieldname].format.supports("positions")
        if type(q) in (wq.Or, wq.Sequence):
            return all(self._positional(s) for s in q.subqueries)
        return False

    def _occurrences(self, q: wq.Query, candidates: np.ndarray) -> np.ndarray:
        """Sorted keys (document << POSITION_BITS | position) of ``q``'s occurrences in the
        candidate documents."""
        if type(q) is wq.Or:
            keys = [self._occurrences(s, candidates) for s in q.subqueries]
            return np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
        if type(q) is wq.Sequence:
            return self._sequence_keys(q, candidates)
        btext = self._btext(q)
        if btext is None:
            return np.zeros(0, dtype=np.int64)
        keys = self.cache.positions(self.reader, q.fieldname, btext)
        return keys[np.isin(keys >> POSITION_BITS, candidates)]

    def _sequence_keys(self, q: wq.Sequence, candidates: np.ndarray) -> np.ndarray:
        """Keys of the last syllable of each occurrence of the whole sequence."""
        keys = self._occurrences(q.subqueries[0], candidates)
        for sub in q.subqueries[1:]:
            if not len(keys):
                break
            following = self._occurrences(sub, candidates)
            keys = following[np.isin(following - 1, keys, assume_unique=True)]
        return keys

    def _sequence(self, q: wq.Sequence) -> tuple[np.ndarray, np.ndarray]:
        # Documents with every part first (cheap), then positions only for those.
        ids, scores = self._and(wq.And(q.subqueries))
        if not len(ids):
            return _EMPTY
        self._check_time()
        keys = self._sequence_keys(q, ids)
        docs = np.unique(keys >> POSITION_BITS).astype(np.int32)
        found, at = _members(docs, ids)
        scores = scores[at[found]]
        return docs[found], scores * q.boost if q.boost != 1.0 else scores
