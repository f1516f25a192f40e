"""Query in, typed results out: the one search call the command line and the web app share."""

from __future__ import annotations

import os
import time
from dataclasses import replace

from whoosh import query as wq

from indexer.analysis.abbreviations import Abbreviations
from indexer.analysis.abbreviations import load as load_abbreviations
from indexer.analysis.text import nfc
from indexer.ranking import rerank
from indexer.ranking.syntax import parse
from indexer.ranking.vocabulary import completions
from indexer.search import suggest
from indexer.search.articles import article_view, filter_values
from indexer.search.errors import BadRequest, SearchTimeout
from indexer.search.filters import Filters
from indexer.search.highlight import highlight, marked_terms
from indexer.search.live_index import LiveIndex, article_fields, stored
from indexer.search.ordering import arrange, facet_counts
from indexer.search.page_cache import RESULT_CACHE_PAGES, PageCache
from indexer.search.pipeline import Pipeline, Ranked
from indexer.search.request import MAX_QUERY_CHARS, SearchRequest
from indexer.search.results import ArticleView, Hit, Page

TIME_LIMIT_S = 2.0


class SearchService:
    """An open index with a searcher kept across calls and refreshed when the index changes.

    Safe to share between threads (calls are serialised); open one per process.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike,
        abbreviations: Abbreviations | None = None,
        time_limit: float = TIME_LIMIT_S,
        result_cache: int = RESULT_CACHE_PAGES,
        model: rerank.RankingModel | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.abbreviations = abbreviations if abbreviations is not None else load_abbreviations()
        self.time_limit = time_limit
        self.model = model or rerank.shipped_model()
        self.pages = PageCache(result_cache)
        self.index = LiveIndex(index_dir, on_change=self.pages.clear)

    def close(self) -> None:
        """Let go of the index's files; the next call opens them again."""
        self.index.close()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def document_count(self) -> int:
        with self.index.reading() as searcher:
            return searcher.doc_count()

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
        with self.index.reading() as searcher:
            found = self.pages.get(request)
            if found is not None:
                return replace(found, took_ms=round((time.perf_counter() - started) * 1000, 2))
            parsed = parse(request.text)
            planner = self.index.planner(searcher, self.abbreviations)
            pipeline = Pipeline(searcher, planner, self.index.postings, self.model, self.time_limit)
            filter_query = request.filters.query() if request.filters else None
            ranked = pipeline.rank(parsed, request.depth, filter_query)
            entries = ranked.entries[request.first : request.depth]
            more = articles = counts = None
            if not request.plain or request.facets:
                entries, more, articles, counts = self._arranged(request, ranked, searcher)
                # Counting and ordering share the search's time limit (the ranking's own
                # stages are cut off inside the scorer).
                if time.perf_counter() - started > self.time_limit:
                    raise SearchTimeout(
                        f"the search took longer than {self.time_limit:g} s; "
                        "use fewer or rarer words"
                    )
            exact, folded = marked_terms(parsed)
            hits = []
            for i, (score, docnum, fields) in enumerate(entries):
                fields = fields or stored(searcher, docnum)
                article = article_fields(searcher, docnum, fields)
                hit = _hit(fields, article, score, exact, folded)
                hits.append(hit if more is None else replace(hit, more=more[i]))
            # Cheap unless a syllable is missing or rare in the index.
            suggestion = suggest.suggestion(request.text, planner.vocabulary, planner.doc_frequency)
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
            )
            self.pages.put(request, result)
        return result

    def _arranged(self, request: SearchRequest, ranked: Ranked, searcher) -> tuple:
        """(the page's entries, ``more`` of each or None, articles or None, facets or None)
        for a request other than the plain ranking, or with facets."""
        table = self.index.tables.of(searcher.reader())
        entries = ranked.entries[request.first : request.depth]
        more = articles = per_article = None
        if not request.plain:
            arranged = arrange(
                ranked, table, request.group, request.sort, request.first, request.depth
            )
            entries, more, articles = arranged.entries, arranged.more, arranged.articles
            if request.group == "article":
                per_article = arranged.per_article
        counts = facet_counts(ranked, table, per_article) if request.facets else None
        return entries, more, articles, counts

    def complete(self, text: str, limit: int = 10) -> list[str]:
        """Completions of the last word of ``text`` for a search box (accent-insensitive)."""
        text = nfc(text or "")
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with self.index.reading() as searcher:
            vocabulary = self.index.vocabulary(searcher)
        return completions(vocabulary, text, limit)

    def article(self, article_id: str, query: str | None = None) -> ArticleView | None:
        """The whole article, paragraphs in order, or None when it is not indexed; with a
        ``query``, the paragraphs it matches (``matches``) and each one highlighted."""
        if not _storable(article_id):
            return None  # no article can have it
        if query is not None:
            query = nfc(query).strip()
            if len(query) > MAX_QUERY_CHARS:
                raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with self.index.reading() as searcher:
            view = article_view(searcher, article_id)
            if view is None or not query:
                return view
            parsed = parse(query)
            planner = self.index.planner(searcher, self.abbreviations)
            pipeline = Pipeline(searcher, planner, self.index.postings, None, self.time_limit)
            only = wq.Term("article_id", article_id)
            stage = pipeline.first_stage(parsed, len(view.paragraphs), only)
            docs = stage.pool.ids() if stage is not None else ()
            matches = sorted(stored(searcher, int(d))["paragraph"] for d in docs)
            exact, folded = marked_terms(parsed)
            paragraphs = tuple(
                {**p, "highlight": highlight(p["text"], exact, folded)} for p in view.paragraphs
            )
            return replace(view, paragraphs=paragraphs, matches=tuple(matches))

    def facet_values(self, name: str, limit: int = 50) -> list[str]:
        """Display values of a filter field (category, source), most frequent first."""
        with self.index.reading() as searcher:
            return filter_values(searcher, name, limit)


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
