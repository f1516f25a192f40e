"""Whole articles and the values of the metadata filters, read from the index."""

from __future__ import annotations

from whoosh.searching import Searcher

from indexer.search.errors import BadRequest
from indexer.search.results import ArticleView
from indexer.storage.schema import FILTER_FIELDS


def article_view(searcher: Searcher, article_id: str) -> ArticleView | None:
    """The whole article, paragraphs in order, or None when it is not indexed."""
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


def filter_values(searcher: Searcher, name: str, limit: int = 50) -> list[str]:
    """Display values of a filter field (category, source), most frequent first."""
    if name not in FILTER_FIELDS:
        raise BadRequest(f"unknown filter {name!r}")
    keys = [
        (searcher.doc_frequency(f"{name}_key", key), key) for key in searcher.lexicon(f"{name}_key")
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
