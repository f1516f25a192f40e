"""One shard of the index answering the coordinator (``search.service``).

A shard is an ordinary index directory; a plain index is a one-shard index. The
coordinator plans a query against the vocabulary of every shard and sends the plan with
the statistics of the whole index (documents, field lengths, each term's document
frequency): the shard scores its passages as one index holding every article would, and
returns its best ones, and for a page grouped by article, sorted by date or with facets,
its part of what that page needs. Passages of equal score are ordered by article id,
then paragraph, in every shard alike (``PassageTable.order_key``), so that the best of
each shard merge into the best of all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq

from indexer.ranking import dense_sum, scorer
from indexer.ranking.postings import segment_key
from indexer.ranking.rerank import DEPTH
from indexer.ranking.scorer import Statistics
from indexer.search.articles import article_view, filter_counts
from indexer.search.errors import SearchTimeout
from indexer.search.live_index import WEIGHTING, LiveIndex, article_fields, stored
from indexer.search.ordering import first_per_article, smallest
from indexer.search.passage_table import FACETS, PassageTable
from indexer.search.results import ArticleView
from indexer.storage import vocabulary_files

# Passages of a tier whose stored fields come back with them, unless the search asks for
# more: the candidates that re-ranking reads; the others are fetched when shown.
WITH_FIELDS = DEPTH
SCORED_FIELDS = ("text", "title", "word")  # what BM25F weighs, with their total lengths
# Paragraphs of an article its exact phrases must match before those holding only their
# words are no longer marked (``Shard.article``).
RELAX_BELOW = 10
# Marking one article's paragraphs searches only them: no query comes near this limit.
ARTICLE_TIME_LIMIT_S = 600.0


@dataclass(frozen=True)
class Passage:
    """A passage as the coordinator merges it: its BM25F score in its tier (0: it holds
    the query's quoted phrases as written, or the query has none; 1: only their words),
    its place in the order of equal scores, its date (``passage_table``: YYYYMMDD or -1),
    its document number in the shard's searcher of the moment (to find it again there),
    and its stored fields when ranking may read them (re-ranking, feedback)."""

    score: float
    tier: int
    article_id: str
    paragraph: int
    docnum: int
    date: int
    fields: dict | None = None
    article: dict | None = None  # its article's metadata, when asked for with the fields
    shard: int = 0

    def order(self) -> tuple:
        """The first stage's order: tier, then score, then article id and paragraph."""
        return (self.tier, -self.score, self.article_id, self.paragraph)


@dataclass(frozen=True)
class Arrangement:
    """What a page other than the plain ranking needs of every match."""

    group: str  # "passage" or "article"
    sort: str  # "relevance" or "date"
    depth: int  # results the page needs (passages, or articles when grouped)
    facets: bool
    placed: int = DEPTH  # the candidates the coordinator places in its own order

    @property
    def ordered(self) -> bool:
        """Whether the page is in an order of its own (else only its facets are wanted)."""
        return self.group != "passage" or self.sort != "relevance"


@dataclass(frozen=True)
class ShardSearch:
    """One search as the coordinator sends it to every shard."""

    query: wq.Query
    relaxed: wq.Query | None  # the loose tier's query, run when the phrases found too little
    filter_query: wq.Query | None
    limit: int  # best passages wanted of each tier
    statistics: Statistics | None  # None: the shard's own (a one-shard index)
    arrangement: Arrangement | None
    time_limit: float
    # The candidates' articles' metadata too: a shard in another process saves the
    # coordinator a call to fetch them for the page.
    articles: bool = False
    with_fields: int = WITH_FIELDS  # of the best passages of each tier


@dataclass(frozen=True)
class Arranged:
    """A shard's part of a grouped, date-sorted or faceted page: its first passages (or
    the best passage of its first articles) in the page's order without re-ranking, as
    many as the page needs beyond those the coordinator may place ahead of them; how many of
    their articles' passages match; its matching articles; its facet counts, as
    facet -> key -> (label, count)."""

    listed: tuple[Passage, ...]
    counts: dict[str, int]
    articles: int
    facets: dict[str, dict[str, tuple[str, int]]] | None


@dataclass(frozen=True)
class ShardResult:
    exact_total: int  # passages matching the query
    loose_total: int  # passages matching the relaxed query (0 when it was not run)
    best: tuple[Passage, ...]  # each tier's best ``limit``, tier 0 first
    arranged: Arranged | None


@dataclass(frozen=True)
class ShardInfo:
    """What the coordinator keeps of a shard: its statistics and its vocabulary, each
    segment's terms sent once (``parts``: the segments the coordinator does not have)."""

    segments: tuple[str, ...]
    doc_count_all: int
    doc_count: int
    field_lengths: dict[str, int]
    parts: dict[str, dict[str, vocabulary_files.Terms]] = field(default_factory=dict)


class Shard:
    """One index directory opened for searching; safe to share between threads."""

    def __init__(self, index_dir: str | os.PathLike, number: int = 0) -> None:
        self.index = LiveIndex(index_dir)
        self.number = number  # its place among the index's shards, on every passage
        dense_sum.prepare()

    def close(self) -> None:
        self.index.close()

    def info(self, known: frozenset[str] = frozenset()) -> ShardInfo:
        """The shard's statistics, and the vocabulary of its segments not in ``known``."""
        with self.index.reading() as searcher:
            reader = searcher.reader()
            leaves = [leaf for leaf, _ in reader.leaf_readers()]
            segments = tuple(segment_key(leaf) for leaf in leaves)
            parts = {}
            for key, leaf in zip(segments, leaves, strict=True):
                if key not in known:
                    parts[key] = vocabulary_files.of_segment(leaf)
            if parts:  # new segments: their arrays read now, not by the next search
                self.index.tables.of(reader)
            lengths = {f: reader.field_length(f) for f in SCORED_FIELDS if f in reader.schema}
            return ShardInfo(segments, reader.doc_count_all(), reader.doc_count(), lengths, parts)

    def search(self, request: ShardSearch) -> ShardResult:
        """The shard's best passages for ``request``, and its part of an arranged page."""
        with self.index.reading() as searcher:
            table = self.index.tables.of(searcher.reader())
            exact = self._run(searcher, request.query, request, table)
            tiers = [(exact.ids, exact.scores)]
            tops = [exact.top_n]
            loose_total = 0
            if request.relaxed is not None:
                loose = self._run(searcher, request.relaxed, request, table)
                loose_total = loose.total
                only = ~np.isin(loose.ids, exact.ids)
                tiers.append((loose.ids[only], loose.scores[only]))
                tops.append(scorer.best(*tiers[1], request.limit, table.order_key))
            best = []
            for tier, top in enumerate(tops):
                for rank, (score, docnum) in enumerate(top):
                    fields = article = None
                    if rank < request.with_fields:
                        fields = stored(searcher, docnum)
                        if request.articles:
                            article = article_fields(searcher, docnum, fields)
                    best.append(_passage(table, score, tier, docnum, self.number, fields, article))
            arranged = None
            if request.arrangement is not None:
                arranged = _arranged(table, tiers, request.arrangement, best, self.number)
            return ShardResult(exact.total, loose_total, tuple(best), arranged)

    def _run(
        self, searcher, query: wq.Query, request: ShardSearch, table: PassageTable
    ) -> scorer.Scored:
        try:
            return scorer.search(
                searcher,
                query,
                WEIGHTING,
                self.index.postings,
                request.limit,
                request.filter_query,
                request.time_limit,
                request.statistics,
                table.order_key,
            )
        except scorer.TimeLimit:
            raise SearchTimeout.after(request.time_limit) from None

    def fetch(self, keys: list[tuple[str, int, int]]) -> list[tuple[dict, dict] | None]:
        """(stored fields, its article's metadata) of each passage (article id, paragraph,
        document number when found), or None for one no longer in the shard."""
        with self.index.reading() as searcher:
            out = []
            for article_id, paragraph, docnum in keys:
                fields = _fields_at(searcher, docnum, article_id, paragraph)
                if fields is None:
                    found = [d for d in _live(searcher, article_id) if d[1] == paragraph]
                    fields = stored(searcher, found[0][0]) if found else None
                    docnum = found[0][0] if found else docnum
                if fields is None:
                    out.append(None)
                else:
                    out.append((fields, article_fields(searcher, docnum, fields)))
            return out

    def article(
        self, article_id: str, query: wq.Query | None, relaxed: wq.Query | None
    ) -> tuple[ArticleView | None, tuple[int, ...]]:
        """The whole article, or None when it is not in this shard; with a query, the
        paragraphs it matches (its words when its phrases match fewer than
        ``RELAX_BELOW`` of them), in order."""
        with self.index.reading() as searcher:
            view = article_view(searcher, article_id)
            if view is None or query is None:
                return view, ()
            only = wq.Term("article_id", article_id)
            limit = max(len(view.paragraphs), 1)
            request = ShardSearch(
                query,
                relaxed=None,
                filter_query=only,
                limit=limit,
                statistics=None,
                arrangement=None,
                time_limit=ARTICLE_TIME_LIMIT_S,
            )
            table = self.index.tables.of(searcher.reader())
            found = self._run(searcher, query, request, table)
            ids = found.ids
            if relaxed is not None and found.total < RELAX_BELOW:
                ids = np.union1d(ids, self._run(searcher, relaxed, request, table).ids)
            return view, tuple(sorted(stored(searcher, int(d))["paragraph"] for d in ids))

    def filter_values(self, name: str) -> list[tuple[int, str, str]]:
        """(passages, key, value as written) of each value of a filter field."""
        with self.index.reading() as searcher:
            return filter_counts(searcher, name)


def _passage(
    table: PassageTable,
    score: float,
    tier: int,
    docnum: int,
    shard: int,
    fields: dict | None = None,
    article: dict | None = None,
) -> Passage:
    article_id, paragraph = table.key(docnum)
    date = int(table.date[docnum])
    return Passage(score, tier, article_id, paragraph, docnum, date, fields, article, shard)


def _fields_at(searcher, docnum: int, article_id: str, paragraph: int) -> dict | None:
    """The stored fields of document ``docnum`` if it still is that passage."""
    if 0 <= docnum < searcher.doc_count_all() and not searcher.reader().is_deleted(docnum):
        fields = stored(searcher, docnum)
        if fields.get("article_id") == article_id and fields.get("paragraph") == paragraph:
            return fields
    return None


def _live(searcher, article_id: str) -> list[tuple[int, int]]:
    """(document, paragraph) of each live passage of an article."""
    reader = searcher.reader()
    if ("article_id", article_id) not in reader:
        return []
    found = []
    for docnum in searcher.postings("article_id", article_id).all_ids():
        if not reader.is_deleted(docnum):
            found.append((docnum, stored(searcher, docnum)["paragraph"]))
    return found


def _arranged(
    table: PassageTable,
    tiers: list[tuple[np.ndarray, np.ndarray]],
    arrangement: Arrangement,
    best: list[Passage],
    shard: int,
) -> Arranged:
    """The shard's part of an arranged page (see ``Arranged``): its matches ordered by
    tier, BM25 and order key (newest first before them for a date sort); re-ranking (and
    feedback), done by the coordinator over every shard's candidates, can move at most
    ``arrangement.placed`` of them ahead, so the page's ``depth`` and as many more are
    listed."""
    ids = np.concatenate([t[0] for t in tiers]) if len(tiers) > 1 else tiers[0][0]
    if not arrangement.ordered:  # the ranking's own page, with facets: only count
        return Arranged((), {}, 0, _facet_counts(table, table.combination[ids]))
    scores = np.concatenate([t[1] for t in tiers]) if len(tiers) > 1 else tiers[0][1]
    tier = np.repeat(np.arange(len(tiers)), [len(t[0]) for t in tiers])
    keys = [tier, -scores, table.order_key[ids]]
    if arrangement.sort == "date":
        keys = [-table.date[ids], *keys]  # undated (-1) becomes 1: last
    articles_of = table.article[ids]
    per_article = np.bincount(articles_of, minlength=table.articles)
    wanted = arrangement.depth + arrangement.placed
    if arrangement.group == "article":
        order = first_per_article(keys, articles_of, wanted)
    else:
        order = smallest(keys, wanted)
    listed = tuple(
        _passage(table, float(scores[i]), int(tier[i]), int(ids[i]), shard) for i in order
    )
    counts = {}
    for p in (*listed, *best):
        if p.article_id not in counts:
            article = int(table.article[p.docnum])
            counts[p.article_id] = int(per_article[article])
    facets = None
    if arrangement.facets:
        if arrangement.group == "article":
            combinations = table.article_combination[np.flatnonzero(per_article)]
        else:
            combinations = table.combination[ids]
        facets = _facet_counts(table, combinations)
    return Arranged(listed, counts, int(np.count_nonzero(per_article)), facets)


def _facet_counts(
    table: PassageTable, combinations: np.ndarray
) -> dict[str, dict[str, tuple[str, int]]]:
    """facet -> key -> (label, count) of every value the matches have."""
    per_combination = np.bincount(combinations, minlength=len(table.combination_values["date"]))
    used = np.flatnonzero(per_combination)
    weights = per_combination[used]
    facets = {}
    for name in FACETS:
        values = table.combination_values[name][used]
        kept = values >= 0
        found = np.bincount(values[kept], weights=weights[kept], minlength=len(table.keys[name]))
        facets[name] = {
            table.keys[name][v]: (table.labels[name][v], int(found[v]))
            for v in np.flatnonzero(found).tolist()
        }
    return facets
