"""Reading request parameters into the search library's types, with 400s for bad ones."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import quote

from flask import Request
from werkzeug.routing import BaseConverter

from indexer.search import BadRequest, Filters

_INTEGER = re.compile(r"-?[0-9]{1,18}")


def integer(request: Request, name: str, default: int) -> int:
    """A whole number in ASCII digits, as the OpenAPI description says (Python's ``int``
    would also take " 5", "1_000" and other scripts' digits)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not _INTEGER.fullmatch(raw):
        raise BadRequest(f"{name} must be a whole number, not {raw[:20]!r}")
    return int(raw)


def choice(request: Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices``; anything else is a 400 that lists them."""
    raw = request.args.get(name, "")
    if not raw:
        return default
    if raw not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}, not {raw[:20]!r}")
    return raw


_TRUE, _FALSE = ("true", "1"), ("false", "0")


def flag(request: Request, name: str, default: bool) -> bool:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if raw not in _TRUE + _FALSE:
        raise BadRequest(f"{name} must be true or false, not {raw[:20]!r}")
    return raw in _TRUE


def _date(request: Request, name: str) -> str | None:
    raw = request.args.get(name, "")
    if not raw:  # a date field left blank in the page's form
        return None
    try:
        if len(raw) != 10:  # fromisoformat would take 20240312 and 2024-W11-2 too
            raise ValueError(raw)
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
