"""What a search refuses or fails with: the web app answers each with a 4xx or 503 JSON
error, the command line with a one-line message."""

from __future__ import annotations

from indexer.storage.store import IndexUnavailable


class BadRequest(ValueError):
    """A query or parameter the search cannot take; the message says why."""


class SearchTimeout(Exception):
    """The search did not finish within its time limit."""


__all__ = ["BadRequest", "IndexUnavailable", "SearchTimeout"]
