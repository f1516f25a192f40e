"""One search as asked, checked: what the pipeline and the page cache take."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from indexer.analysis.text import nfc
from indexer.search.errors import BadRequest
from indexer.search.filters import Filters

MAX_QUERY_CHARS = 1000
MAX_PER_PAGE = 100
MAX_RESULTS = 1000  # deepest result a user can page to
GROUPS = ("passage", "article")  # a result per passage, or one per article (its best)
SORTS = ("relevance", "date")  # date: newest first, undated last, ties by relevance


@dataclass(frozen=True)
class SearchRequest:
    """A query with its page and filters, valid by construction (``checked``)."""

    text: str
    page: int = 1
    per_page: int = 10
    filters: Filters | None = None
    group: str = "passage"
    sort: str = "relevance"
    facets: bool = False

    @classmethod
    def checked(cls, text: str, *fields: Any, **named: Any) -> SearchRequest:
        """The request (``fields``, ``named``: its other fields, in order or by name), or
        ``BadRequest`` saying what is wrong with it."""
        asked = cls(text, *fields, **named)
        page, per_page, group, sort = asked.page, asked.per_page, asked.group, asked.sort
        if group not in GROUPS:
            raise BadRequest(f"group must be one of {', '.join(GROUPS)}, not {group[:20]!r}")
        if sort not in SORTS:
            raise BadRequest(f"sort must be one of {', '.join(SORTS)}, not {sort[:20]!r}")
        text = nfc(text or "").strip()
        if not text:
            raise BadRequest("the query is empty")
        if len(text) > MAX_QUERY_CHARS:
            raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
        if per_page < 1 or per_page > MAX_PER_PAGE:
            raise BadRequest(f"per_page must be between 1 and {MAX_PER_PAGE}")
        if page < 1:
            raise BadRequest("page must be 1 or more")
        filters = asked.filters if asked.filters and asked.filters != Filters() else None
        return replace(asked, text=text, filters=filters, facets=bool(asked.facets))

    @property
    def plain(self) -> bool:
        """The ranking as it comes: a passage per result, by relevance."""
        return self.group == "passage" and self.sort == "relevance"

    @property
    def first(self) -> int:
        """Index of the page's first result in the whole ranking."""
        return (self.page - 1) * self.per_page

    @property
    def depth(self) -> int:
        """How many ranked results (passages, or articles when grouped) the page needs."""
        return min(self.first + self.per_page, MAX_RESULTS)
