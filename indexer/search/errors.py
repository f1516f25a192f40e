"""What a search refuses or fails with: the web app answers each with a 4xx or 503 JSON
error, the command line with a one-line message."""

from __future__ import annotations

from indexer.storage.store import IndexUnavailable


class BadRequest(ValueError):
    """A query or parameter the search cannot take; the message says why."""


class SearchTimeout(Exception):
    """The search did not finish within its time limit."""

    @classmethod
    def after(cls, seconds: float) -> SearchTimeout:
        """The error for a search stopped at its limit of ``seconds``, with what to do."""
        return cls(f"the search took longer than {seconds:g} s; use fewer or rarer words")


__all__ = ["BadRequest", "IndexUnavailable", "SearchTimeout"]
