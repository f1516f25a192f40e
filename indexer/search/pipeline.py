"""The ranking of one query: the first stage over the whole index, then re-ranking.

1. The planner's query finds every passage holding any of the query's syllables (in its
   text or its article's title), scored by BM25F, within the search's time limit.
2. Quoted phrases are required. When they match fewer passages than a page
   (``RELAX_BELOW``), the same words without quotes follow, and the page says so.
3. The best ``rerank.DEPTH`` candidates are ordered by the ranking model; the others keep
   BM25's order below them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq
from whoosh.searching import Searcher

from indexer.analysis.text import fold
from indexer.ranking import rerank, scorer
from indexer.ranking.features import Candidate, QueryTerms
from indexer.ranking.planner import QueryPlanner
from indexer.ranking.postings import PostingsCache
from indexer.ranking.syntax import ParsedQuery
from indexer.search.errors import SearchTimeout
from indexer.search.live_index import WEIGHTING, stored

RELAX_BELOW = 10  # passages the exact phrases must find before their words are not tried


@dataclass(frozen=True)
class Pool:
    """Every passage a query matches, in tiers ranked one after the other (the passages
    holding the quoted phrases before those holding only their words), each tier as
    (sorted document numbers, BM25 scores): what facets and the other orders work over."""

    tiers: tuple[tuple[np.ndarray, np.ndarray], ...] = ()

    def ids(self) -> np.ndarray:
        """Every matching document, tier after tier."""
        if len(self.tiers) == 1:
            return self.tiers[0][0]
        return np.concatenate([ids for ids, _ in self.tiers]) if self.tiers else _NO_IDS

    def scores(self) -> np.ndarray:
        if len(self.tiers) == 1:
            return self.tiers[0][1]
        return np.concatenate([s for _, s in self.tiers]) if self.tiers else _NO_SCORES

    def tier_of(self) -> np.ndarray:
        """The tier of each of ``ids()``."""
        return np.repeat(np.arange(len(self.tiers)), [len(ids) for ids, _ in self.tiers])


_NO_IDS = np.zeros(0, dtype=np.int32)
_NO_SCORES = np.zeros(0)


@dataclass(frozen=True)
class Ranked:
    """The ranking of a query: how many passages match, and the best of them in order as
    (score, document number, stored fields if already read); the first ``reranked`` were
    ordered by the ranking model, the others by BM25 (shown as a share of ``best``)."""

    total: int
    entries: list[tuple[float, int, dict | None]]
    relaxed: bool = False
    pool: Pool = Pool()
    reranked: int = 0
    best: float = 0.0


@dataclass(frozen=True)
class FirstStage:
    """BM25's best passages for a query, as (score, document number), and what re-ranking
    needs to know of how they were found."""

    total: int
    found: list[tuple[float, int]]
    syllables: tuple[str, ...]
    phrase_matches: frozenset[int]  # of ``found``: the passages holding the quoted phrases
    relaxed: bool  # passages without the phrases were added
    pool: Pool = Pool()


@dataclass(frozen=True)
class Pipeline:
    """What ranking a query needs from the open index."""

    searcher: Searcher
    planner: QueryPlanner
    postings: PostingsCache
    model: rerank.RankingModel | None  # None: the first stage only (training the model)
    time_limit: float

    def rank(self, parsed: ParsedQuery, depth: int, filter_query: wq.Query | None) -> Ranked:
        """The first ``depth`` passages (at least ``rerank.DEPTH``) for ``parsed``."""
        stage = self.first_stage(parsed, max(rerank.DEPTH, depth), filter_query)
        if stage is None:
            return Ranked(0, [])
        entries = self._rerank(stage)
        reranked = min(rerank.DEPTH, len(stage.found))
        best = stage.found[0][0] if stage.found else 0.0
        return Ranked(stage.total, entries, stage.relaxed, stage.pool, reranked, best)

    def first_stage(
        self, parsed: ParsedQuery, limit: int, filter_query: wq.Query | None
    ) -> FirstStage | None:
        """BM25's best ``limit`` passages for ``parsed``; None for a query with no words."""
        plan = self.planner.plan(parsed)
        if plan.is_empty:
            return None
        exact = self._run(plan.query, filter_query, limit)
        found, total, relaxed = exact.top_n, exact.total, False
        phrase_matches: frozenset[int] = frozenset()
        pool = Pool(((exact.ids, exact.scores),))
        if plan.relaxed is not None:
            phrase_matches = frozenset(docnum for _, docnum in exact.top_n)
            if exact.total < RELAX_BELOW:
                loose = self._run(plan.relaxed, filter_query, limit)
                more = [(s, d) for s, d in loose.top_n if d not in phrase_matches]
                relaxed = bool(more)
                found, total = (exact.top_n + more)[:limit], max(loose.total, exact.total)
                only_loose = ~np.isin(loose.ids, exact.ids)
                pool = Pool((pool.tiers[0], (loose.ids[only_loose], loose.scores[only_loose])))
        return FirstStage(total, found, plan.syllables, phrase_matches, relaxed, pool)

    def candidates(self, stage: FirstStage) -> tuple[QueryTerms, list[Candidate]]:
        """What the ranking model compares: the query's terms and the best candidates."""
        terms = QueryTerms.of([fold(s) for s in stage.syllables], self.planner.idf)
        candidates = [
            Candidate(docnum, score, stored(self.searcher, docnum), docnum in stage.phrase_matches)
            for score, docnum in stage.found[: rerank.DEPTH]
        ]
        return terms, candidates

    def average_length(self) -> float:
        return self.searcher.avg_field_length("text") or 1.0

    def _run(self, query: wq.Query, filter_query: wq.Query | None, limit: int) -> scorer.Scored:
        try:
            return scorer.search(
                self.searcher, query, WEIGHTING, self.postings, limit, filter_query, self.time_limit
            )
        except scorer.TimeLimit:
            raise SearchTimeout(
                f"the search took longer than {self.time_limit:g} s; use fewer or rarer words"
            ) from None

    def _rerank(self, stage: FirstStage) -> list[tuple[float, int, dict | None]]:
        """Re-score the first ``rerank.DEPTH`` candidates; the rest keep BM25's order.

        Scores fall in bands, so that they decrease down the whole list: passages with
        the exact phrases when the query was relaxed in (2, 3), the others re-ranked in
        (1, 2), and those below the re-ranked ones at their share of the best BM25 score.
        """
        terms, candidates = self.candidates(stage)
        ranked = rerank.rerank(
            self.model, terms, candidates, self.planner.idfs, self.average_length()
        )
        if stage.relaxed:  # the exact phrases first
            ranked.sort(key=lambda item: not item[1].in_phrase)
        entries = [
            (1 + (stage.relaxed and c.in_phrase) + _sigmoid(score), c.docnum, c.fields)
            for score, c in ranked
        ]
        best = stage.found[0][0] if stage.found else 0.0
        tail = stage.found[len(candidates) :]
        return entries + [(score / best if best else 0.0, docnum, None) for score, docnum in tail]


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
