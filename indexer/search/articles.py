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


def filter_counts(searcher: Searcher, name: str) -> list[tuple[int, str, str]]:
    """(passages, key, display value) of each value of a filter field (category, source)."""
    if name not in FILTER_FIELDS:
        raise BadRequest(f"unknown filter {name!r}")
    found = []
    for key in searcher.lexicon(f"{name}_key"):
        # The value is stored with an article's first passage (``ARTICLE_FIELDS``).
        docs = searcher.documents(**{f"{name}_key": key.decode("utf-8")})
        value = next((doc[name] for doc in docs if doc.get(name)), None)
        if value:
            found.append((searcher.doc_frequency(f"{name}_key", key), key.decode("utf-8"), value))
    return found


def most_frequent(counts: list[list[tuple[int, str, str]]], limit: int) -> list[str]:
    """Display values of a filter field over every shard's ``filter_counts``, most
    frequent first (ties by key, last first), each shown as the first shard shows it."""
    merged: dict[str, list] = {}
    for shard in counts:
        for df, key, value in shard:
            if key in merged:
                merged[key][0] += df
            else:
                merged[key] = [df, value]
    ranked = sorted(merged.items(), key=lambda item: (item[1][0], item[0].encode()), reverse=True)
    return [value for _, (_, value) in ranked[:limit]]
