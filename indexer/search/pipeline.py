"""The ranking of one query over the shards' best passages: merging, relaxing, re-ranking.

1. Every shard finds its passages holding any of the query's syllables (in their text or
   their article's title), scored by BM25F with the statistics of the whole index
   (``search.shard``); their best merge into the best of all, in tiers.
2. Quoted phrases are matched exactly first. When they match fewer passages than are
   re-ranked (``service.RELAX_BELOW_PASSAGES``, fifty, on every page alike) in all
   shards together, the same words without quotes follow them, in a second tier, and
   the page says so: a passage without the phrase is never cut off, only placed after
   those with it.
3. The best ``rerank.DEPTH`` candidates are ordered by the ranking model; when a page
   shows passages below them, the next ``rerank.FEEDBACK_POOL`` by BM25 and their
   likeness to the best of those (``with_feedback``); the others keep BM25's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from indexer.analysis.abbreviations import Form
from indexer.analysis.text import fold
from indexer.ranking import rerank
from indexer.ranking.features import Candidate, QueryTerms
from indexer.search.shard import Passage, ShardResult


@dataclass(frozen=True)
class FirstStage:
    """BM25's best passages for a query over every shard, in order, and what re-ranking
    needs to know of how they were found."""

    total: int
    found: list[Passage]
    syllables: tuple[str, ...]
    phrases: bool  # the query has quoted phrases: tier 0 holds them as written
    relaxed: bool  # passages without the phrases were added
    equivalents: tuple[tuple[Form, Form], ...] = ()  # ``planner.Plan.equivalents``


@dataclass(frozen=True)
class Ranked:
    """The ranking of a query: how many passages match, and the best of them in order as
    (score, passage); the first ``reranked`` were ordered by the ranking model, the
    next ones up to ``placed`` by feedback, the others by BM25 (shown as a share of
    ``best``)."""

    total: int
    entries: list[tuple[float, Passage]]
    relaxed: bool = False
    reranked: int = 0
    best: float = 0.0
    placed: int = 0


def merge(
    results: Sequence[ShardResult],
    limit: int,
    syllables: tuple[str, ...],
    phrases: bool,
    loose_run: bool,
    equivalents: tuple[tuple[Form, Form], ...] = (),
) -> FirstStage:
    """The first stage over every shard: the best ``limit`` of all the shards' best, by
    tier, score, article id and paragraph (each shard's are its best in that order)."""
    passages = [p for result in results for p in result.best]
    passages.sort(key=Passage.order)
    found = passages[:limit]
    exact = sum(r.exact_total for r in results)
    total = max(exact, sum(r.loose_total for r in results)) if loose_run else exact
    relaxed = any(p.tier for p in found)
    return FirstStage(total, found, syllables, phrases, relaxed, equivalents)


def candidates(
    stage: FirstStage, idf: Callable[[str], float]
) -> tuple[QueryTerms, list[Candidate]]:
    """What the ranking model compares: the query's terms and the best candidates (each
    numbered by its place in ``stage.found``)."""
    terms = QueryTerms.of([fold(s) for s in stage.syllables], idf, stage.equivalents)
    chosen = [
        Candidate(i, p.score, p.fields or {}, stage.phrases and p.tier == 0)
        for i, p in enumerate(stage.found[: rerank.DEPTH])
    ]
    return terms, chosen


def rank(
    stage: FirstStage,
    model: rerank.RankingModel,
    idf: Callable[[str], float],
    idfs: Callable[[Sequence[str]], np.ndarray],
    average_length: float,
) -> Ranked:
    """Re-score the first ``rerank.DEPTH`` candidates; the rest keep BM25's order (until
    ``with_feedback``).

    Scores fall in bands, so that they decrease down the whole list: passages with
    the exact phrases when the query was relaxed in (2, 3), the others re-ranked in
    (1, 2), and those below the re-ranked ones at their share of the best BM25 score.
    """
    terms, chosen = candidates(stage, idf)
    ranked = rerank.rerank(model, terms, chosen, idfs, average_length)
    if stage.relaxed:  # the exact phrases first
        ranked.sort(key=lambda item: not item[1].in_phrase)
    entries = [
        (1 + (stage.relaxed and c.in_phrase) + _sigmoid(score), stage.found[c.place])
        for score, c in ranked
    ]
    best = stage.found[0].score if stage.found else 0.0
    tail = stage.found[len(chosen) :]
    entries += [(p.score / best if best else 0.0, p) for p in tail]
    return Ranked(stage.total, entries, stage.relaxed, len(chosen), best, len(chosen))


def with_feedback(
    ranked: Ranked, stage: FirstStage, idfs: Callable[[Sequence[str]], np.ndarray]
) -> Ranked:
    """``ranked`` with the candidates after the re-ranked ones, up to ``rerank.PLACED``,
    ordered by BM25 and their likeness to the best re-ranked ones (``rerank.by_feedback``),
    when ``stage`` holds them all with their fields; the others keep BM25's order.

    Their scores fall from 1 (below the re-ranked ones) to the lowest share of the best
    BM25 score among them (at most 1), never rising: when a quoted phrase was relaxed,
    the passages without it, which follow those with it, may have more BM25 than the best
    with it.
    """
    start = ranked.reranked
    passages = stage.found[start : rerank.PLACED]
    if not passages or any(p.fields is None for p in passages):
        return ranked
    pool = [
        Candidate(i, p.score, p.fields, stage.phrases and p.tier == 0)
        for i, p in enumerate(passages, start)
    ]
    best = [Candidate(0, p.score, p.fields or {}) for _, p in ranked.entries[:start]]
    pooled = rerank.by_feedback(best, pool, ranked.best, idfs)
    if stage.relaxed:  # the exact phrases first, as above
        pooled.sort(key=lambda item: not item[1].in_phrase)
    floor = min(min(c.score for c in pool) / ranked.best, 1.0) if ranked.best else 0.0
    top = 1 + rerank.FEEDBACK_WEIGHT
    shown = floor + (1 - floor) * np.minimum([score / top for score, _ in pooled], 1.0)
    shown = np.minimum.accumulate(shown)
    ordered = [(float(v), stage.found[c.place]) for v, (_, c) in zip(shown, pooled, strict=True)]
    entries = ranked.entries[:start] + ordered + ranked.entries[start + len(pool) :]
    return replace(ranked, entries=entries, placed=start + len(pool))


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))
