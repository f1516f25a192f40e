"""Pages other than the ranking as it comes: one result per article, newest first, and the
facet counts beside them, all over every passage the query matches (``pipeline.Pool``).

The relevance order of the matches is the ranking's own: the re-ranked candidates in the
model's order, then the others tier by tier in BM25's order, ties to the lower document
number. Only as many matches as a page needs are put in order (``_smallest``), so a query
matching half the index costs a few passes over arrays, not a sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.search.passage_table import FACETS, PassageTable
from indexer.search.pipeline import Ranked

FACET_VALUES = 20  # the largest counts of each facet
_SORT_SMALL = 4096  # fewer rows than this are sorted outright


@dataclass(frozen=True)
class Arranged:
    """A page's passages in order as (score, document number, stored fields if read), with
    how many other matching passages each one's article has (grouped pages only)."""

    entries: list[tuple[float, int, dict | None]]
    more: list[int] | None
    articles: int
    per_article: np.ndarray  # matching passages of each article of the index


def _smallest(keys: list[np.ndarray], k: int) -> np.ndarray:
    """Positions of the ``k`` rows that come first by ``keys`` (the first key first, the
    last one unique), in that order; a partition by the first key leaves only the rows
    tied at the cut to order by the others."""
    size = len(keys[0])
    k = min(k, size)
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if size <= _SORT_SMALL or k == size:
        return np.lexsort(keys[::-1])[:k]
    if len(keys) == 1:  # unique values
        chosen = np.argpartition(keys[0], k - 1)[:k]
        return chosen[np.argsort(keys[0][chosen])]
    primary = keys[0]
    cut = np.partition(primary, k - 1)[k - 1]
    before = np.flatnonzero(primary < cut)
    before = before[np.lexsort([key[before] for key in keys[::-1]])]
    tied = np.flatnonzero(primary == cut)
    rest = tied[_smallest([key[tied] for key in keys[1:]], k - len(before))]
    return np.concatenate([before, rest])


@dataclass(frozen=True)
class Matches:
    """Every match of a query with what orders it, and its article."""

    ids: np.ndarray
    keys: list[np.ndarray]  # relevance order: rank band, minus BM25, document number
    articles: np.ndarray  # the article number of each match

    @classmethod
    def of(cls, ranked: Ranked, table: PassageTable) -> Matches:
        pool = ranked.pool
        ids = pool.ids()
        # Below the re-ranked candidates, tier after tier; the re-ranked ones by position.
        if len(pool.tiers) == 1:
            band = np.full(len(ids), ranked.reranked, dtype=np.int32)
        else:
            band = (pool.tier_of() + ranked.reranked).astype(np.int32)
        reranked = np.asarray([d for _, d, _ in ranked.entries[: ranked.reranked]], ids.dtype)
        positions = np.arange(len(reranked), dtype=np.int32)
        start = 0
        for tier_ids, _ in pool.tiers:  # each sorted: the re-ranked ones looked up at once
            at = np.minimum(np.searchsorted(tier_ids, reranked), max(len(tier_ids) - 1, 0))
            found = tier_ids[at] == reranked if len(tier_ids) else np.zeros(len(at), bool)
            band[start + at[found]] = positions[found]
            start += len(tier_ids)
        return cls(ids, [band, -pool.scores(), ids], table.article[ids])


def arrange(
    ranked: Ranked, table: PassageTable, group: str, sort: str, first: int, depth: int
) -> Arranged:
    """The entries ``first`` to ``depth`` (passages, or articles when grouped) of the page."""
    matches = Matches.of(ranked, table)
    keys = matches.keys
    if sort == "date":
        keys = [-table.date[matches.ids], *keys]  # UNDATED (-1) becomes 1: last
    counts = np.bincount(matches.articles, minlength=table.articles)
    articles = int(np.count_nonzero(counts))
    if group == "article":
        order = _first_per_article(keys, matches.articles, depth)[first:depth]
        more = [int(counts[matches.articles[i]]) - 1 for i in order]
    else:
        order = _smallest(keys, depth)[first:depth]
        more = None
    shown = {docnum: (score, fields) for score, docnum, fields in ranked.entries[: ranked.reranked]}
    entries = []
    for i in order:
        docnum = int(matches.ids[i])
        if docnum in shown:
            score, fields = shown[docnum]
        else:  # as the ranking shows the passages below the re-ranked ones
            bm25 = -float(matches.keys[1][i])
            score, fields = (bm25 / ranked.best if ranked.best else 0.0), None
        entries.append((score, docnum, fields))
    return Arranged(entries, more, articles, counts)


def _first_per_article(keys: list[np.ndarray], articles: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the best match of each of the first ``depth`` articles, in order: an
    article comes where its best passage comes. The best passages are looked for among
    ever more of the first matches until ``depth`` articles have one there."""
    size = len(articles)
    wanted = max(4 * depth, 256)
    while True:
        order = _smallest(keys, wanted)
        _, at = np.unique(articles[order], return_index=True)
        if len(at) >= depth or len(order) >= size:
            return order[np.sort(at)[:depth]]
        wanted *= 4


def facet_counts(
    ranked: Ranked, table: PassageTable, per_article: np.ndarray | None = None
) -> dict[str, dict[str, int]]:
    """For each facet, value -> how many matching passages have it (matching articles,
    given ``per_article``, the matches of each article), the ``FACET_VALUES`` largest in
    decreasing order, ties by value."""
    if per_article is not None:
        combinations = table.article_combination[np.flatnonzero(per_article)]
    else:
        combinations = table.combination[ranked.pool.ids()]
    per_combination = np.bincount(combinations, minlength=len(table.combination_values["date"]))
    used = np.flatnonzero(per_combination)
    weights = per_combination[used]
    facets = {}
    for name in FACETS:
        labels = table.labels[name]
        values = table.combination_values[name][used]
        kept = values >= 0
        found = np.bincount(values[kept], weights=weights[kept], minlength=len(labels))
        nonzero = np.flatnonzero(found).tolist()
        nonzero.sort(key=lambda v: (-found[v], labels[v]))
        facets[name] = {labels[v]: int(found[v]) for v in nonzero[:FACET_VALUES]}
    return facets
