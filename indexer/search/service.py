"""Query in, typed results out: the one search call the command line and the web app share.

The service coordinates the index's shards (a plain index is one shard, in this process):
it keeps the vocabulary and the statistics of all of them, plans each query once, sends
the plan with those statistics to every shard (``search.shard``), merges their best
passages, re-ranks the best of all, arranges the page and highlights it. A sharded index
thus ranks exactly as one index holding the same articles; a shard that does not answer
is left out and counted in the page's ``shards``.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace

from whoosh import query as wq

from indexer.analysis.abbreviations import Abbreviations
from indexer.analysis.abbreviations import load as load_abbreviations
from indexer.analysis.text import nfc
from indexer.ranking import rerank
from indexer.ranking.planner import Plan, QueryPlanner
from indexer.ranking.scorer import Statistics
from indexer.ranking.syntax import parse
from indexer.ranking.vocabulary import Vocabulary, VocabularyCache, completions
from indexer.search import pipeline, suggest
from indexer.search.articles import most_frequent
from indexer.search.errors import BadRequest, IndexUnavailable, SearchTimeout
from indexer.search.fanout import Fanout, LocalShards, ProcessShards, ShardFailure
from indexer.search.filters import Filters
from indexer.search.highlight import highlight, marked_terms
from indexer.search.live_index import WEIGHTING, LiveIndex
from indexer.search.ordering import arrange, merge_facets
from indexer.search.page_cache import RESULT_CACHE_PAGES, PageCache
from indexer.search.passage_table import FACETS
from indexer.search.request import MAX_QUERY_CHARS, SearchRequest
from indexer.search.results import ArticleView, Hit, Page, ShardCount
from indexer.search.shard import (
    SCORED_FIELDS,
    Arrangement,
    Passage,
    ShardInfo,
    ShardSearch,
)
from indexer.storage.shards import Layout, LayoutError, read_layout, shard_of
from indexer.storage.vocabulary_files import FIELDS

TIME_LIMIT_S = 2.0
# How long the statistics of the shards may take to come back when they are known
# already (a shard that is slow to say them keeps what it said last); the first time,
# while the shards open their indexes, the whole of ``OPENING_S``.
INFO_WAIT_S = 0.5
OPENING_S = 60.0
LAYOUT_EVERY_S = 1.0  # how often the index directory's layout is read again
# Quoted phrases found in fewer passages than are re-ranked are followed by their words,
# on every page alike: the count and the order of a query do not depend on the page asked.
# (Marking the paragraphs of one article has its own threshold, ``shard.RELAX_BELOW``.)
RELAX_BELOW_PASSAGES = rerank.DEPTH


@dataclass(frozen=True)
class _RankedPage:
    """A query's ranking and the entries of one page of it, as (score, passage), with
    what an arranged page adds (``arranged``: grouped, date-sorted or with facets)."""

    stage: pipeline.FirstStage
    ranked: pipeline.Ranked
    entries: list[tuple[float, Passage]]
    more: list[int] | None
    articles: int | None
    counts: dict | None
    answered: ShardCount
    arranged: bool


@dataclass
class _View:
    """What the coordinator knows of every shard: its statistics and, all together,
    their vocabulary; a shard that does not answer keeps what it last said."""

    count: int
    infos: list[ShardInfo | None] = field(default_factory=list)
    vocabularies: VocabularyCache = field(default_factory=VocabularyCache)
    planner: QueryPlanner | None = None
    checked: float = float("-inf")

    def __post_init__(self) -> None:
        self.infos = [None] * self.count

    def known(self, shard: int) -> frozenset[str]:
        info = self.infos[shard]
        return frozenset(info.segments) if info is not None else frozenset()

    def update(self, answers: list, abbreviations: Abbreviations | None) -> bool:
        """Take the shards' ``info`` answers in; whether anything changed."""
        changed = self.planner is None or self.planner.abbreviations is not abbreviations
        parts = {}
        for i, answer in enumerate(answers):
            if isinstance(answer, ShardFailure):
                continue
            old = self.infos[i]
            if old is None or (old.segments, old.doc_count_all, old.field_lengths) != (
                answer.segments,
                answer.doc_count_all,
                answer.field_lengths,
            ):
                changed = True
            for segment, terms in answer.parts.items():
                parts[f"{i}/{segment}"] = terms
            self.infos[i] = replace(answer, parts={})
        if not changed:
            return False
        live = [f"{i}/{s}" for i, info in enumerate(self.infos) if info for s in info.segments]
        vocabulary = self.vocabularies.update(live, parts)
        self.planner = QueryPlanner(
            vocabulary=vocabulary,
            doc_frequency=lambda fieldname, term: vocabulary.doc_frequency(fieldname, term) or 0,
            doc_count=self.doc_count_all,
            abbreviations=abbreviations,
            idf_of=WEIGHTING.idf_of,
        )
        return True

    @property
    def vocabulary(self) -> Vocabulary:
        return self.vocabularies.vocabulary

    @property
    def doc_count_all(self) -> int:
        return sum(info.doc_count_all for info in self.infos if info)

    @property
    def doc_count(self) -> int:
        return sum(info.doc_count for info in self.infos if info)

    def field_length(self, fieldname: str) -> int:
        return sum(info.field_lengths.get(fieldname, 0) for info in self.infos if info)

    def average_length(self) -> float:
        return self.field_length("text") / (self.doc_count_all or 1) or 1.0

    def statistics(self, *queries: wq.Query | None) -> Statistics:
        """The whole index's statistics for the terms of ``queries``."""
        frequencies = {}
        for query in queries:
            if query is None:
                continue
            for fieldname, text in query.all_terms():
                if fieldname in FIELDS and isinstance(text, str):
                    df = self.vocabulary.doc_frequency(fieldname, text)
                    frequencies[(fieldname, text.encode("utf-8"))] = df or 0
        lengths = {fieldname: self.field_length(fieldname) for fieldname in SCORED_FIELDS}
        return Statistics(self.doc_count_all, lengths, frequencies)


def open_fanout(index_dir: str | os.PathLike, parallel: bool = False) -> tuple[Fanout, Layout]:
    """The shards of ``index_dir`` reached from this process: a plain index, or the
    shards of a sharded one, one after the other or (``parallel``) each in a process."""
    try:
        layout = read_layout(index_dir)
    except LayoutError as exc:
        raise IndexUnavailable(str(exc)) from exc
    if parallel and layout.count > 1:
        return ProcessShards(layout.dirs), layout
    return LocalShards(layout.dirs), layout


class SearchService:
    """An open index (one shard or several) with what searching it keeps across calls,
    refreshed when the index changes.

    Safe to share between threads (calls are serialised); open one per process.
    ``shards``: how the shards are reached (default: on this machine, see
    ``open_fanout``; ``search.ray_fanout`` reaches them on a Ray cluster).
    """

    def __init__(
        self,
        index_dir: str | os.PathLike,
        abbreviations: Abbreviations | None = None,
        time_limit: float = TIME_LIMIT_S,
        result_cache: int = RESULT_CACHE_PAGES,
        model: rerank.RankingModel | None = None,
        shards: Fanout | None = None,
        parallel: bool = False,
    ) -> None:
        self.index_dir = index_dir
        self.abbreviations = abbreviations if abbreviations is not None else load_abbreviations()
        self.time_limit = time_limit
        self.model = model or rerank.shipped_model()
        self.pages = PageCache(result_cache)
        self.parallel = parallel
        self._given = shards
        self._shards: Fanout | None = shards
        self._layout: Layout | None = None
        self._stale = True  # the layout is to be read again
        self._layout_checked = float("-inf")
        self._view: _View | None = None
        self._lock = threading.RLock()

    # The shards

    @property
    def shards(self) -> Fanout:
        """The shards, reached as the index directory lays them out (looked at again at
        each refresh: an index sharded after the server started is served as such)."""
        with self._lock:
            if self._given is not None:
                return self._given
            if self._shards is not None and not self._stale:
                return self._shards
            self._stale = False
            try:
                layout = read_layout(self.index_dir)
            except LayoutError as exc:
                raise IndexUnavailable(str(exc)) from exc
            if self._shards is None or layout != self._layout:
                if self._shards is not None:
                    self._shards.close()
                self._shards, self._layout = open_fanout(self.index_dir, self.parallel)
                self._view = None
                self.pages.clear()
            return self._shards

    @property
    def index(self) -> LiveIndex:
        """The open index of a plain (one-shard) index in this process."""
        shards = self.shards
        if not isinstance(shards, LocalShards) or shards.count != 1:
            raise TypeError("only a plain index opened in this process has one LiveIndex")
        return shards.shards[0].index

    def close(self) -> None:
        """Let go of the index's files; the next call opens them again."""
        with self._lock:
            if self._shards is not None:
                self._shards.close()
            if self._given is None:
                self._shards = None
            self._view = None
            self.pages.clear()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _deadline(self) -> float:
        return time.monotonic() + self.time_limit

    @staticmethod
    def _left(deadline: float) -> float:
        """Seconds to the deadline: a shard that has not answered by then has failed."""
        return max(0.01, deadline - time.monotonic())

    def _current(self, deadline: float | None = None) -> _View:
        """The view of every shard, refreshed from them when it may be out of date."""
        now = time.monotonic()
        if now - self._layout_checked >= LAYOUT_EVERY_S:
            self._stale, self._layout_checked = True, now
        shards = self.shards
        view = self._view
        if view is None or view.count != shards.count:
            view = self._view = _View(shards.count)
        if now - view.checked >= getattr(shards, "refresh_every", 0.0) or view.planner is None:
            known = [(view.known(i),) for i in range(shards.count)]
            wait = OPENING_S if view.planner is None else INFO_WAIT_S
            if deadline is not None and view.planner is not None:
                wait = min(wait, self._left(deadline))
            answers = shards.each("info", known, wait)
            if all(isinstance(a, ShardFailure) for a in answers) and view.planner is None:
                raise IndexUnavailable(_no_shard(answers))
            if view.update(answers, self.abbreviations):
                self.pages.clear()
            view.checked = now
        return view

    def document_count(self) -> int:
        with self._lock:
            return self._current().doc_count

    # Searching

    def search(
        self,
        text: str,
        page: int = 1,
        per_page: int = 10,
        filters: Filters | None = None,
        group: str = "passage",
        sort: str = "relevance",
        facets: bool = False,
    ) -> Page:
        """Ranked, highlighted passages for a user's query.

        ``group="article"``: one result per article, its best passage, with ``more``;
        ``sort="date"``: newest first, undated last, ties by relevance; ``facets``: the
        counts of category, source and month over every match, for the filters' menus.
        """
        started = time.perf_counter()
        request = SearchRequest.checked(text, page, per_page, filters, group, sort, facets)
        with self._lock:
            view = self._current(self._deadline())
            # The time limit is the search's own: opening the index (the first search of a
            # process, seconds on a large one) or refreshing it is not counted in.
            deadline = self._deadline()
            found = self.pages.get(request)
            if found is not None:
                return replace(found, took_ms=round((time.perf_counter() - started) * 1000, 2))
            parsed = parse(request.text)
            plan = view.planner.plan(parsed)
            answered = ShardCount(self.shards.count, self.shards.count)
            ranked = pipeline.Ranked(0, [])
            more = articles = counts = None
            entries: list[tuple[float, Passage]] = []
            if not plan.is_empty:
                made = self._ranked_page(view, plan, request, deadline, feedback=False)
                # Counting and ordering share the search's time limit; a shard that did not
                # answer by then has been left out instead.
                if made.arranged and time.monotonic() > deadline and not made.answered.failed:
                    raise SearchTimeout.after(self.time_limit)
                if not request.plain and _shows_unplaced(made):
                    # In the order of its dates or articles, the page shows passages that
                    # feedback orders: it is made again with them in their places, unless
                    # that runs out of time or loses a shard (the page as made stands).
                    try:
                        again = self._ranked_page(view, plan, request, deadline, feedback=True)
                    except SearchTimeout:
                        again = None
                    if again is not None and again.answered.failed <= made.answered.failed:
                        made = again
                ranked, entries, answered = made.ranked, made.entries, made.answered
                more, articles, counts = made.more, made.articles, made.counts
            elif not request.plain or request.facets:
                articles = 0 if not request.plain else None
                counts = {name: {} for name in FACETS} if request.facets else None
            hits, lost = self._hits(parsed, entries, more, deadline)
            if lost and self.shards.count > 1:  # a shard that failed since the ranking
                answered = replace(answered, successful=answered.successful - lost)
            # Cheap unless a syllable is missing or rare in the index.
            suggestion = suggest.suggestion(
                request.text, view.planner.vocabulary, view.planner.doc_frequency
            )
            took_ms = round((time.perf_counter() - started) * 1000, 2)
            result = Page(
                request.text,
                ranked.total,
                request.page,
                request.per_page,
                took_ms,
                tuple(hits),
                suggestion,
                ranked.relaxed,
                request.group,
                request.sort,
                articles,
                counts,
                answered,
            )
            if not answered.failed:  # a page missing a shard is not kept
                self.pages.put(request, result)
        return result

    def first_stage(self, text: str, limit: int = rerank.DEPTH) -> pipeline.FirstStage | None:
        """BM25's best ``limit`` passages for ``text`` over every shard, before re-ranking
        (what the ranking model learns from); None for a query without words."""
        request = SearchRequest.checked(text)
        with self._lock:
            view = self._current()
            plan = view.planner.plan(parse(request.text))
            if plan.is_empty:
                return None
            return self._first_stage(view, plan, limit, None, None, self._deadline())[0]

    def ranking_terms(self) -> tuple:
        """(idf, idfs, average text length): what re-ranking measures candidates with."""
        with self._lock:
            view = self._current()
            return view.planner.idf, view.planner.idfs, view.average_length()

    def _ranked_page(
        self, view: _View, plan: Plan, request: SearchRequest, deadline: float, feedback: bool
    ) -> _RankedPage:
        """The ranking of ``plan`` and the entries of the page ``request`` asks for; the
        candidates below the re-ranked ones ordered by feedback on a plain page that shows
        them, or with ``feedback``."""
        feedback = feedback or (request.plain and request.depth > rerank.DEPTH)
        # Ranked in full: the passages the page shows, and (for an arranged page, to know
        # whether it shows them) those that feedback orders.
        limit = max(rerank.DEPTH, request.depth)
        if feedback or not request.plain:
            limit = max(rerank.PLACED, limit)
        placed = rerank.PLACED if feedback else rerank.DEPTH
        arrangement = None
        if not request.plain or request.facets:
            arrangement = Arrangement(
                request.group, request.sort, request.depth, request.facets, placed
            )
        filter_query = request.filters.query() if request.filters else None
        stage, parts, answered = self._first_stage(
            view,
            plan,
            limit,
            filter_query,
            arrangement,
            deadline,
            with_fields=placed,
        )
        idfs = view.planner.idfs
        ranked = pipeline.rank(stage, self.model, view.planner.idf, idfs, view.average_length())
        if feedback:
            ranked = pipeline.with_feedback(ranked, stage, idfs)
        entries = ranked.entries[request.first : request.depth]
        more = articles = counts = None
        if parts is not None:
            entries, more, articles, counts = self._arranged(request, ranked, parts)
        return _RankedPage(
            stage, ranked, entries, more, articles, counts, answered, parts is not None
        )

    def _first_stage(
        self,
        view: _View,
        plan: Plan,
        limit: int,
        filter_query: wq.Query | None,
        arrangement: Arrangement | None,
        deadline: float,
        with_fields: int = rerank.DEPTH,
    ) -> tuple[pipeline.FirstStage, list | None, ShardCount]:
        """Every shard's best ``limit`` passages, the first ``with_fields`` with their
        fields, and, for an arranged page, its part of it; the words of quoted phrases
        follow them when the phrases match fewer than ``RELAX_BELOW_PASSAGES``."""
        shards = self.shards

        def ask(relaxed: wq.Query | None) -> list:
            statistics = view.statistics(plan.query, relaxed)
            search = ShardSearch(
                plan.query,
                relaxed,
                filter_query,
                limit,
                statistics,
                arrangement,
                self.time_limit,
                articles=not isinstance(shards, LocalShards),
                with_fields=with_fields,
            )
            return shards.each("search", [(search,)] * shards.count, self._left(deadline))

        answers = ask(None)
        loose_run = False
        if plan.relaxed is not None:
            exact = sum(a.exact_total for a in answers if not isinstance(a, ShardFailure))
            if exact < RELAX_BELOW_PASSAGES:  # too few: the words without quotes follow
                answers, loose_run = ask(plan.relaxed), True
        results = [a for a in answers if not isinstance(a, ShardFailure)]
        if not results:
            if all(a.timeout for a in answers):
                raise SearchTimeout.after(self.time_limit)
            raise IndexUnavailable(_no_shard(answers))
        stage = pipeline.merge(
            results,
            limit,
            plan.syllables,
            plan.relaxed is not None,
            loose_run,
            plan.equivalents,
        )
        parts = [r.arranged for r in results] if arrangement is not None else None
        return stage, parts, ShardCount(len(answers), len(results))

    def _arranged(self, request: SearchRequest, ranked: pipeline.Ranked, parts: list) -> tuple:
        """(the page's entries, ``more`` of each or None, articles or None, facets or None)
        for a request other than the plain ranking, or with facets."""
        entries = ranked.entries[request.first : request.depth]
        more = articles = None
        if not request.plain:
            arranged = arrange(
                ranked.entries[: ranked.placed],
                ranked.best,
                parts,
                request.group,
                request.sort,
                request.first,
                request.depth,
            )
            entries, more, articles = arranged.entries, arranged.more, arranged.articles
        counts = merge_facets([p.facets for p in parts]) if request.facets else None
        return entries, more, articles, counts

    def _hits(
        self,
        parsed,
        entries: list[tuple[float, Passage]],
        more: list[int] | None,
        deadline: float,
    ) -> tuple[list[Hit], int]:
        """The page's passages with their stored fields and their articles' metadata,
        highlighted, those the shards did not send fetched from them; and how many
        shards failed to answer that (their passages are left out)."""
        wanted: dict[int, list[int]] = {}
        for i, (_, p) in enumerate(entries):
            if p.fields is None or (p.paragraph != 0 and p.article is None):
                wanted.setdefault(p.shard, []).append(i)
        fetched: dict[int, tuple[dict, dict] | None] = {}
        lost = 0
        for shard, positions in wanted.items():
            keys = [
                (entries[i][1].article_id, entries[i][1].paragraph, entries[i][1].docnum)
                for i in positions
            ]
            try:
                answer = self.shards.one(shard, "fetch", (keys,), self._left(deadline))
            except IndexUnavailable:
                if self.shards.count == 1:
                    raise
                answer, lost = [None] * len(keys), lost + 1
            fetched.update(zip(positions, answer, strict=True))
        exact, folded = marked_terms(parsed)
        hits = []
        for i, (score, p) in enumerate(entries):
            if i in fetched:
                if fetched[i] is None:  # gone since (its article was replaced meanwhile)
                    continue
                fields, article = fetched[i]
            else:
                fields, article = p.fields, p.article or p.fields
            hit = _hit(fields, article, score, exact, folded)
            hits.append(hit if more is None else replace(hit, more=more[i]))
        return hits, lost

    # Besides ranking

    def complete(self, text: str, limit: int = 10) -> list[str]:
        """Completions of the last word of ``text`` for a search box (accent-insensitive)."""
        text = nfc(text or "")
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with self._lock:
            return completions(self._current().vocabulary, text, limit)

    def article(self, article_id: str, query: str | None = None) -> ArticleView | None:
        """The whole article, paragraphs in order, or None when it is not indexed; with a
        ``query``, the paragraphs it matches (``matches``) and each one highlighted."""
        if not _storable(article_id):
            return None  # no article can have it
        if query is not None:
            query = nfc(query).strip()
            if len(query) > MAX_QUERY_CHARS:
                raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with self._lock:
            view = self._current()
            shards = self.shards
            plan = view.planner.plan(parse(query)) if query else None
            args: tuple = (article_id, None, None)
            if plan is not None and not plan.is_empty:
                args = (article_id, plan.query, plan.relaxed)
            owner = shard_of(article_id, shards.count)
            found, matches = shards.one(owner, "article", args, self.time_limit)
            if found is None or not query:
                return found
            exact, folded = marked_terms(parse(query))
            paragraphs = tuple(
                {**p, "highlight": highlight(p["text"], exact, folded)} for p in found.paragraphs
            )
            return replace(found, paragraphs=paragraphs, matches=matches)

    def facet_values(self, name: str, limit: int = 50) -> list[str]:
        """Display values of a filter field (category, source), most frequent first."""
        with self._lock:
            shards = self.shards
            answers = shards.each("filter_values", [(name,)] * shards.count, self.time_limit)
            return most_frequent([a for a in answers if not isinstance(a, ShardFailure)], limit)


def _shows_unplaced(page: _RankedPage) -> bool:
    """Whether an arranged page shows a passage that feedback would place but has not.
    Feedback only reorders those passages among themselves, a block that stands, in the
    page's order, after the re-ranked passages of each date and before the others: a
    page that shows none of them is the same with them ordered."""
    start = page.ranked.reranked
    block = {(p.shard, p.docnum) for p in page.stage.found[start : rerank.PLACED]}
    return any((p.shard, p.docnum) in block for _, p in page.entries)


def _no_shard(answers: list) -> str:
    reasons = "; ".join(
        f"shard {a.shard}: {a.reason}" for a in answers if isinstance(a, ShardFailure)
    )
    return f"no shard of the index answered ({reasons})"


def _storable(text: str) -> bool:
    """Whether ``text`` can be an index term (a lone surrogate cannot be encoded)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _hit(fields: dict, article: dict, score: float, exact: set[str], folded: set[str]) -> Hit:
    text = fields.get("text", "")
    return Hit(
        id=f"{fields['article_id']}#{fields['paragraph']}",
        article_id=fields["article_id"],
        paragraph=fields["paragraph"],
        kind=fields.get("kind", "body"),
        title=fields.get("title", ""),
        text=text,
        highlight=highlight(text, exact, folded),
        score=round(float(score), 4),
        date=article.get("date"),
        category=article.get("category"),
        source=article.get("source"),
        url=article.get("url"),
    )
