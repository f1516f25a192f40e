"""Search results as small immutable records; ``to_dict`` is the JSON the API returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from indexer.search.request import MAX_RESULTS


def _fields_of(item) -> dict[str, Any]:
    # Not ``asdict``: its deep copy of every value took a third of a millisecond a page.
    return {f.name: getattr(item, f.name) for f in fields(item)}


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
    more: int | None = None  # grouped: how many other passages of the article match

    def to_dict(self) -> dict[str, Any]:
        return _fields_of(self)


@dataclass(frozen=True)
class ShardCount:
    """How many of the index's shards answered (a plain index is one shard), as
    Elasticsearch's ``_shards``: a shard that failed leaves its passages out."""

    total: int = 1
    successful: int = 1

    @property
    def failed(self) -> int:
        return self.total - self.successful

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "successful": self.successful, "failed": self.failed}


@dataclass(frozen=True)
class Page:
    """One page of results, as the JSON endpoint returns it.

    ``relaxed``: the query's quoted phrases matched too few passages, so passages that
    hold their words, not side by side, follow those that hold them as written.
    ``total`` counts matching passages, ``articles`` their articles (known when the page
    is grouped or sorted by date, not for the plain ranking); ``facets`` maps category,
    source and month of date to value -> count, counted in results as the page shows
    them (articles when grouped).
    """

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    results: tuple[Hit, ...] = ()
    suggestion: str | None = None
    relaxed: bool = False
    group: str = "passage"
    sort: str = "relevance"
    articles: int | None = None
    facets: dict[str, dict[str, int]] | None = None
    shards: ShardCount = ShardCount()

    def to_dict(self) -> dict[str, Any]:
        out = _fields_of(self)
        out["results"] = [hit.to_dict() for hit in self.results]
        out["shards"] = self.shards.to_dict()
        if self.facets is not None:
            out["facets"] = {name: dict(counts) for name, counts in self.facets.items()}
        return out

    @property
    def results_total(self) -> int:
        """What the pages count: articles when grouped, passages otherwise."""
        if self.group == "article" and self.articles is not None:
            return self.articles
        return self.total

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.results_total, MAX_RESULTS) // self.per_page))


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
    matches: tuple[int, ...] = ()  # paragraphs matching the query it was asked with

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
