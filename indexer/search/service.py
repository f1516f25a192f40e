"""Query in, typed results out: the one search call the command line and the web app share."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import Searcher

from indexer.analysis.abbreviations import Abbreviations
from indexer.analysis.abbreviations import load as load_abbreviations
from indexer.analysis.text import fold, nfc
from indexer.ranking import planner as queries
from indexer.ranking import rerank, scorer
from indexer.ranking.postings import Leaves, PostingsCache, segment_key
from indexer.ranking.vocabulary import VocabularyCache, completions
from indexer.search import suggest
from indexer.search.highlight import highlight
from indexer.storage.schema import FILTER_FIELDS
from indexer.storage.store import IndexUnavailable, open_index

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 1000
MAX_PER_PAGE = 100
MAX_RESULTS = 1000  # deepest result a user can page to
TIME_LIMIT_S = 2.0
REFRESH_EVERY_S = 0.5
# Pages of results kept per process, dropped whenever the index changes: a query asked
# again (a popular search, a page reloaded, a program polling) is answered at once.
RESULT_CACHE_PAGES = 1000
# BM25 parameters chosen on the dev sets (benchmarks/README.md).
WEIGHTING = scoring.BM25F(B=0.75, K1=1.2)


class BadRequest(ValueError):
    """A query or parameter the search cannot take; the message says why."""


class SearchTimeout(Exception):
    """The search did not finish within its time limit."""


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions; ``date_from``/``date_to`` are inclusive ISO dates."""

    category: str | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def query(self) -> wq.Query | None:
        parts: list[wq.Query] = []
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if value:
                parts.append(wq.Term(f"{name}_key", fold(value.strip())))
        if self.date_from or self.date_to:
            parts.append(wq.TermRange("date", self.date_from, self.date_to))
        return wq.And(parts) if parts else None


@dataclass(frozen=True)
class Hit:
    """One passage in a result list."""

    id: str
    article_id: str
    paragraph: int
    kind: str
    title: str
    text: str
    highlight: str
    score: float
    date: str | None = None
    category: str | None = None
    source: str | None = None
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _fields_of(self)


def _fields_of(item) -> dict[str, Any]:
    # Not ``asdict``: its deep copy of every value took a third of a millisecond a page.
    return {f.name: getattr(item, f.name) for f in fields(item)}


@dataclass(frozen=True)
class Page:
    """One page of results, as the JSON endpoint returns it."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    results: tuple[Hit, ...] = ()
    suggestion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = _fields_of(self)
        out["results"] = [hit.to_dict() for hit in self.results]
        return out

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, MAX_RESULTS) // self.per_page))


@dataclass(frozen=True)
class ArticleView:
    """A whole article rebuilt from its passages."""

    id: str
    title: str
    paragraphs: tuple[dict[str, Any], ...]
    date: str | None = None
    category: str | None = None
    source: str | None = None
    url: str | None = None
    author: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stored(searcher: Searcher, docnum: int) -> dict:
    """A passage's stored fields, straight from its segment (Whoosh's own call also
    filters them against the schema, which never changes here)."""
    leaves = Leaves.of(searcher.reader())
    i = bisect_right(leaves.offsets, docnum) - 1
    return leaves.readers[i]._perdoc.stored_fields(docnum - leaves.offsets[i])


def _article_fields(searcher: Searcher, docnum: int, fields: dict) -> dict:
    """The stored fields of the first passage of ``fields``' article, which alone holds the
    article's metadata (``schema.ARTICLE_FIELDS``).

    An article's passages are written one after another, in order, and stay so when
    segments merge: the first is ``paragraph`` documents back. Looked up by article id
    if that ever does not hold.
    """
    paragraph = fields.get("paragraph", 0)
    if paragraph == 0:
        return fields
    article_id = fields.get("article_id")
    if docnum - paragraph >= 0:
        first = _stored(searcher, docnum - paragraph)
        if first.get("article_id") == article_id and first.get("paragraph") == 0:
            return first
    found = searcher.documents(article_id=article_id)
    return next((doc for doc in found if doc.get("paragraph") == 0), {})


@dataclass
class SearchService:
    """An open index with a searcher kept across calls and refreshed when the index changes.

    Safe to share between threads (calls are serialised); open one per process.
    """

    index_dir: str | os.PathLike
    abbreviations: Abbreviations = field(default_factory=load_abbreviations)
    time_limit: float = TIME_LIMIT_S
    result_cache: int = RESULT_CACHE_PAGES  # pages kept; 0: none
    _searcher: Searcher | None = field(default=None, init=False, repr=False)
    _results: OrderedDict[tuple, Page] = field(default_factory=OrderedDict, init=False, repr=False)
    _checked: float = field(default=0.0, init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _vocabulary: VocabularyCache = field(default_factory=VocabularyCache, init=False, repr=False)
    _postings: PostingsCache = field(default_factory=PostingsCache, init=False, repr=False)

    def searcher(self) -> Searcher:
        """The current searcher; reopened when another process has committed."""
        with self._lock:
            now = time.monotonic()
            if self._searcher is None:
                self._searcher = open_index(self.index_dir).searcher(weighting=WEIGHTING)
                self._checked = now
                self._results.clear()
            elif now - self._checked >= REFRESH_EVERY_S:
                self._checked = now
                try:
                    if not self._searcher.up_to_date():
                        self._searcher = self._searcher.refresh()
                        self._results.clear()
                        live = {segment_key(r) for r, _ in self._searcher.reader().leaf_readers()}
                        self._postings.retain(live)
                except Exception as exc:  # the directory vanished or was damaged
                    self.close()
                    raise IndexUnavailable(f"the index changed and cannot be read: {exc}") from exc
            return self._searcher

    def close(self) -> None:
        """Let go of the index's files; the next call opens them again."""
        with self._lock:
            self._results.clear()
            if self._searcher is not None:
                searcher, self._searcher = self._searcher, None
                searcher.close()

    def __enter__(self) -> SearchService:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the lock; a failure to read the index becomes ``IndexUnavailable`` (503).

        A damaged segment shows up as whatever its decoder raises (EOFError, a file format
        error, ...) at any read; the searcher is dropped so that the next call reopens the
        index, and answers again as soon as a good index is in place.
        """
        with self._lock:
            try:
                yield
            except (BadRequest, SearchTimeout, IndexUnavailable):
                raise
            except Exception as exc:
                log.exception("reading the index in %s failed", self.index_dir)
                with contextlib.suppress(Exception):
                    self.close()
                raise IndexUnavailable(
                    f"the index in {self.index_dir} cannot be read ({type(exc).__name__}: "
                    f"{exc}); rebuild it or restore a copy"
                ) from exc

    def document_count(self) -> int:
        with self._reading():
            return self.searcher().doc_count()

    def search(
        self,
        text: str,
        page: int = 1,
        per_page: int = 10,
        filters: Filters | None = None,
    ) -> Page:
        """Ranked, highlighted passages for a user's query."""
        started = time.perf_counter()
        text = nfc(text or "").strip()
        if not text:
            raise BadRequest("the query is empty")
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        if per_page < 1 or per_page > MAX_PER_PAGE:
            raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if page < 1:
            raise BadRequest("page must be 1 or more")
        first = (page - 1) * per_page

        hits: list[Hit] = []
        total = 0
        suggestion = None
        key = (text, page, per_page, filters if filters and filters != Filters() else None)
        with self._reading():
            searcher = self.searcher()
            found = self._results.get(key)
            if found is not None:
                self._results.move_to_end(key)
                return replace(found, took_ms=round((time.perf_counter() - started) * 1000, 2))
            parsed = queries.parse(text)
            filter_query = filters.query() if filters else None
            planner = self.planner(searcher)
            plan = planner.plan(parsed)
            if not plan.is_empty:
                limit = max(rerank.DEPTH, min(first + per_page, MAX_RESULTS))
                results = self._run(searcher, plan.strict, filter_query, limit)
                if not results.top_n and plan.strict is not plan.loose:
                    results = self._run(searcher, plan.loose, filter_query, limit)
                total = results.total
                ranked = self._rerank(searcher, results.top_n, plan)
                for score, docnum, fields in ranked[first : first + per_page]:
                    fields = fields or _stored(searcher, docnum)
                    article = _article_fields(searcher, docnum, fields)
                    hits.append(self._hit(fields, article, score, plan.exact, plan.folded))
            # Cheap unless a syllable is missing or rare in the index.
            suggestion = suggest.suggestion(text, planner.vocabulary, planner.doc_frequency)
            took_ms = round((time.perf_counter() - started) * 1000, 2)
            result = Page(text, total, page, per_page, took_ms, tuple(hits), suggestion)
            if self.result_cache > 0:
                self._results[key] = result
                while len(self._results) > self.result_cache:
                    self._results.popitem(last=False)
        return result

    def planner(self, searcher: Searcher) -> queries.QueryPlanner:
        vocabulary = self._vocabulary.for_searcher(searcher)

        def doc_frequency(fieldname: str, term: str) -> int:
            # The vocabulary's counts equal Whoosh's, without a lookup in every segment.
            found = vocabulary.doc_frequency(fieldname, term)
            return searcher.doc_frequency(fieldname, term) if found is None else found

        return queries.QueryPlanner(
            vocabulary=vocabulary,
            doc_frequency=doc_frequency,
            doc_count=searcher.doc_count_all(),
            abbreviations=self.abbreviations,
        )

    @staticmethod
    def _rerank(searcher: Searcher, top_n, plan) -> list[tuple[float, int, dict | None]]:
        """Re-score the first ``rerank.DEPTH`` candidates; the rest keep BM25 order."""
        head = top_n[: rerank.DEPTH]
        best = head[0][0] if head else 0.0
        rescored = []
        final_score = rerank.scorer_for(plan)
        for score, docnum in head:
            fields = _stored(searcher, docnum)
            syls = rerank.passage_syllables(fields)
            final = final_score(score, best, syls, fields.get("title", ""))
            rescored.append((final, docnum, fields))
        rescored.sort(key=lambda item: (-item[0], item[1]))
        tail = [
            (score / best if best else 0.0, docnum, None) for score, docnum in top_n[rerank.DEPTH :]
        ]
        return rescored + tail

    def _run(self, searcher: Searcher, query, filter_query, limit: int) -> scorer.Scored:
        try:
            return scorer.search(
                searcher, query, WEIGHTING, self._postings, limit, filter_query, self.time_limit
            )
        except scorer.TimeLimit:
            raise SearchTimeout(
                f"the search took longer than {self.time_limit:g} s; use fewer or rarer words"
            ) from None

    @staticmethod
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

    def complete(self, text: str, limit: int = 10) -> list[str]:
        """Completions of the last word of ``text`` for a search box (accent-insensitive)."""
        text = nfc(text or "")
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        with self._reading():
            vocabulary = self._vocabulary.for_searcher(self.searcher())
        return completions(vocabulary, text, limit)

    def article(self, article_id: str) -> ArticleView | None:
        """The whole article, paragraphs in order, or None when it is not indexed."""
        with self._reading():
            searcher = self.searcher()
            docs = list(searcher.documents(article_id=article_id))
        if not docs:
            return None
        docs.sort(key=lambda d: d["paragraph"])
        first = docs[0]
        return ArticleView(
            id=article_id,
            title=first.get("title", ""),
            paragraphs=tuple(
                {"paragraph": d["paragraph"], "kind": d.get("kind", "body"), "text": d["text"]}
                for d in docs
            ),
            date=first.get("date"),
            category=first.get("category"),
            source=first.get("source"),
            url=first.get("url"),
            author=first.get("author"),
        )

    def facet_values(self, name: str, limit: int = 50) -> list[str]:
        """Display values of a filter field (category, source), most frequent first."""
        if name not in FILTER_FIELDS:
            raise BadRequest(f"unknown filter {name!r}")
        with self._reading():
            searcher = self.searcher()
            keys = [
                (searcher.doc_frequency(f"{name}_key", key), key)
                for key in searcher.lexicon(f"{name}_key")
            ]
            keys.sort(reverse=True)
            values = []
            for _, key in keys[:limit]:
                # The value is stored with an article's first passage (``ARTICLE_FIELDS``).
                docs = searcher.documents(**{f"{name}_key": key.decode("utf-8")})
                value = next((doc[name] for doc in docs if doc.get(name)), None)
                if value:
                    values.append(value)
        return values
