"""Reading request parameters into the search library's types, with 400s for bad ones."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import Request
from werkzeug.routing import BaseConverter

from indexer.search import BadRequest, Filters


def integer(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:20]!r}") from None


def choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices``; anything else is a 400 that lists them."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if raw not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, not {raw[:20]!r}")
    return raw


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(request: Request, name: str, default: bool) -> bool:
    raw = request.args.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in _TRUE + _FALSE:
        raise BadRequest(f"{name} must be true or false, not {raw[:20]!r}")
    return raw in _TRUE


def _date(request: Request, name: str) -> str | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2024-03-12, not {raw[:20]!r}") from None


def filters(request: Request) -> Filters:
    return Filters(
        category=request.args.get("category", "").strip() or None,
        source=request.args.get("source", "").strip() or None,
        date_from=_date(request, "date_from"),
        date_to=_date(request, "date_to"),
    )


class ArticleIdConverter(BaseConverter):
    """An article id in a URL path: any text, slashes and a leading slash included, sent
    percent-encoded (``/`` as ``%2F``) and received decoded, exactly as it was indexed."""

    regex = ".+"
    part_isolating = False

    def to_url(self, value: str) -> str:
        # Every reserved character encoded: a "/" or ".." of an id never becomes a path
        # segment that a browser or a proxy would normalise away.
        return quote(value, safe="")
