"""Pages other than the ranking as it comes: one result per article, newest first, and the
facet counts beside them, over every passage the query matches.

The relevance order of the matches is the ranking's own: the candidates it placed (the
re-ranked ones in the model's order, then those ordered by feedback), then the others
tier by tier in BM25's order, ties by article id and paragraph. Each shard orders its own
matches so, without the placing (``shard.Arranged``); the coordinator puts the placed
ones in their places and merges (``arrange``). Only as many matches as a page needs are
put in order (``smallest``), so a query matching half the index costs a few passes over
arrays, not a sort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FACET_VALUES = 20  # the largest counts of each facet
_SORT_SMALL = 4096  # fewer rows than this are sorted outright


def smallest(keys: list[np.ndarray], k: int) -> np.ndarray:
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
    rest = tied[smallest([key[tied] for key in keys[1:]], k - len(before))]
    return np.concatenate([before, rest])


def first_per_article(keys: list[np.ndarray], articles: np.ndarray, depth: int) -> np.ndarray:
    """Positions of the best match of each of the first ``depth`` articles, in order: an
    article comes where its best passage comes. The best passages are looked for among
    ever more of the first matches until ``depth`` articles have one there."""
    size = len(articles)
    wanted = max(4 * depth, 256)
    while True:
        order = smallest(keys, wanted)
        _, at = np.unique(articles[order], return_index=True)
        if len(at) >= depth or len(order) >= size:
            return order[np.sort(at)[:depth]]
        wanted *= 4


@dataclass(frozen=True)
class ArrangedPage:
    """A page's results in order as (score, passage), with how many other matching
    passages each one's article has (grouped pages only), and the matching articles."""

    entries: list[tuple[float, object]]
    more: list[int] | None
    articles: int


def arrange(
    placed: Sequence[tuple[float, object]],
    best_score: float,
    parts: Sequence,
    group: str,
    sort: str,
    first: int,
    depth: int,
) -> ArrangedPage:
    """The results ``first`` to ``depth`` of a grouped or date-sorted page.

    ``placed``: (score, passage) of the candidates the ranking placed, in its order;
    ``parts``: each shard's ``shard.Arranged`` part, its passages tagged with their shard.
    A passage's place: newest first (date sorts), then its placed position, or, below
    all of those, its tier, BM25 score and article id and paragraph.
    """
    band = len(placed)
    position = {(p.shard, p.docnum): i for i, (_, p) in enumerate(placed)}
    shown = {(p.shard, p.docnum): score for score, p in placed}

    def key(p) -> tuple:
        at = position.get((p.shard, p.docnum))
        order = (at, 0.0) if at is not None else (band + p.tier, -p.score)
        return (-p.date if sort == "date" else 0, *order, p.article_id, p.paragraph)

    counts: dict[str, int] = {}
    for part in parts:
        counts.update(part.counts)
    candidates = {(p.shard, p.docnum): p for part in parts for p in part.listed}
    candidates.update({(p.shard, p.docnum): p for _, p in placed})
    ordered = sorted(candidates.values(), key=key)
    if group == "article":
        seen: set[str] = set()
        firsts = []
        for p in ordered:
            if p.article_id not in seen:
                seen.add(p.article_id)
                firsts.append(p)
        ordered = firsts
    page = ordered[first:depth]
    entries = []
    for p in page:
        score = shown.get((p.shard, p.docnum))
        if score is None:  # as the ranking shows the passages below the placed ones
            score = p.score / best_score if best_score else 0.0
        entries.append((score, p))
    more = [counts.get(p.article_id, 1) - 1 for p in page] if group == "article" else None
    return ArrangedPage(entries, more, sum(part.articles for part in parts))


def merge_facets(parts: Sequence[dict[str, dict[str, tuple[str, int]]]]) -> dict:
    """For each facet, value -> how many results have it, over the shards' counts (each
    value by its key, shown as the first shard that has it shows it), the
    ``FACET_VALUES`` largest in decreasing order, ties by value."""
    merged: dict[str, dict[str, list]] = {}
    for part in parts:
        for name, values in part.items():
            found = merged.setdefault(name, {})
            for key, (label, count) in values.items():
                if key in found:
                    found[key][1] += count
                else:
                    found[key] = [label, count]
    facets = {}
    for name, values in merged.items():
        ranked = sorted(values.values(), key=lambda item: (-item[1], item[0]))
        facets[name] = {label: count for label, count in ranked[:FACET_VALUES]}
    return facets
