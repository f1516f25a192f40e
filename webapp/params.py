"""Reading request parameters into the search library's types, with 400s for bad ones."""

from __future__ import annotations

import datetime as dt

from flask import Request

from indexer.search import BadRequest, Filters


def integer(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:20]!r}") from None


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
