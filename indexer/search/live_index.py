"""The index as it is now: one searcher kept across searches and refreshed when another
process commits, with the caches that belong to it (vocabulary, posting arrays)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager

from whoosh.searching import Searcher

from indexer.analysis.abbreviations import Abbreviations
from indexer.ranking.planner import QueryPlanner
from indexer.ranking.postings import Leaves, PostingsCache, segment_key
from indexer.ranking.vocabulary import Vocabulary, VocabularyCache
from indexer.ranking.weighting import ProbabilisticBM25F
from indexer.search.errors import BadRequest, IndexUnavailable, SearchTimeout
from indexer.search.passage_table import PassageTables
from indexer.storage.store import open_index

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 0.5  # how often a searcher looks for another process's commit
# BM25 parameters chosen on the dev sets (benchmarks/README.md).
WEIGHTING = ProbabilisticBM25F(B=0.75, K1=1.6)


class LiveIndex:
    """An index directory opened for searching; safe to share between threads (calls that
    read hold one lock)."""

    def __init__(self, index_dir: str | os.PathLike) -> None:
        self.index_dir = index_dir
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self.lock = threading.RLock()
        self.vocabularies = VocabularyCache()
        self.postings = PostingsCache()
        self.tables = PassageTables()
        self._planner: tuple[Searcher, Abbreviations | None, QueryPlanner] | None = None

    def searcher(self) -> Searcher:
        """The current searcher; reopened when another process has committed."""
        with self.lock:
            now = time.monotonic()
            if self._searcher is None:
                self._searcher = open_index(self.index_dir).searcher(weighting=WEIGHTING)
                self._checked = now
            elif now - self._checked >= REFRESH_EVERY_S:
                self._checked = now
                try:
                    if not self._searcher.up_to_date():
                        self._searcher = self._searcher.refresh()
                        live = {segment_key(r) for r, _ in self._searcher.reader().leaf_readers()}
                        self.postings.retain(live)
                except Exception as exc:  # the directory vanished or was damaged
                    self.close()
                    raise IndexUnavailable(f"the index changed and cannot be read: {exc}") from exc
            return self._searcher

    def close(self) -> None:
        """Let go of the index's files; the next call opens them again."""
        with self.lock:
            self._planner = None
            if self._searcher is not None:
                searcher, self._searcher = self._searcher, None
                searcher.close()

    @contextmanager
    def reading(self) -> Iterator[Searcher]:
        """The current searcher, under the lock; a failure to read the index becomes
        ``IndexUnavailable`` (503).

        A damaged segment shows up as whatever its decoder raises (EOFError, a file format
        error, ...) at any read; the searcher is dropped so that the next call reopens the
        index, and answers again as soon as a good index is in place.
        """
        with self.lock:
            try:
                yield self.searcher()
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

    def vocabulary(self, searcher: Searcher) -> Vocabulary:
        return self.vocabularies.for_searcher(searcher)

    def planner(self, searcher: Searcher, abbreviations: Abbreviations | None) -> QueryPlanner:
        """A query planner over this one searcher's vocabulary and statistics, kept while
        the searcher is current (it keeps the IDFs it has computed). The search plans over
        every shard's vocabulary instead (``service._View``); this one serves tools and
        tests that look at a plain index's first stage on its own."""
        kept = self._planner
        if kept is not None and kept[0] is searcher and kept[1] is abbreviations:
            return kept[2]
        planner = self._new_planner(searcher, abbreviations)
        self._planner = (searcher, abbreviations, planner)
        return planner

    def _new_planner(self, searcher: Searcher, abbreviations: Abbreviations | None) -> QueryPlanner:
        vocabulary = self.vocabulary(searcher)

        def doc_frequency(fieldname: str, term: str) -> int:
            # The vocabulary's counts equal Whoosh's, without a lookup in every segment.
            found = vocabulary.doc_frequency(fieldname, term)
            return searcher.doc_frequency(fieldname, term) if found is None else found

        return QueryPlanner(
            vocabulary=vocabulary,
            doc_frequency=doc_frequency,
            doc_count=searcher.doc_count_all(),
            abbreviations=abbreviations,
            idf_of=WEIGHTING.idf_of,
        )


def stored(searcher: Searcher, docnum: int) -> dict:
    """A passage's stored fields, straight from its segment (Whoosh's own call also
    filters them against the schema, which never changes here)."""
    leaves = Leaves.of(searcher.reader())
    i = bisect_right(leaves.offsets, docnum) - 1
    return leaves.readers[i]._perdoc.stored_fields(docnum - leaves.offsets[i])


def article_fields(searcher: Searcher, docnum: int, fields: dict) -> dict:
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
        first = stored(searcher, docnum - paragraph)
        if first.get("article_id") == article_id and first.get("paragraph") == 0:
            return first
    found = searcher.documents(article_id=article_id)
    return next((doc for doc in found if doc.get("paragraph") == 0), {})
