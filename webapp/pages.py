"""The HTML pages: the search box with results, and the article view."""

from __future__ import annotations

import calendar

from flask import Blueprint, abort, current_app, render_template, request

from indexer.search import GROUPS, MAX_QUERY_CHARS, SORTS, BadRequest, Filters, IndexUnavailable
from webapp import params, service

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    q = request.args.get("q", "").strip()
    results = error = None
    group, sort = "article", "relevance"  # the page shows one result per article
    try:
        filters = params.filters(request)
        group = params.choice(request, "group", GROUPS, group)
        sort = params.choice(request, "sort", SORTS, sort)
    except BadRequest as exc:  # a bad date or choice: said on the page, searched without
        filters, error = Filters(), str(exc)
    if q and error is None:
        try:
            results = service(current_app).search(
                q,
                page=params.integer(request, "page", 1),
                per_page=current_app.config["PER_PAGE"],
                filters=filters,
                group=group,
                sort=sort,
                facets=True,
            )
        except BadRequest as exc:
            error = str(exc)
    facets = {}
    try:
        facets = {name: service(current_app).facet_values(name) for name in ("category", "source")}
    except IndexUnavailable:
        if not q:
            raise
    return render_template(
        "search.html",
        q=q,
        results=results,
        error=error,
        filters=filters,
        facets=facets,
        counts=results.facets if results and results.facets else {},
        group=group,
        sort=sort,
        months=_months(results.facets["date"]) if results and results.facets else [],
        max_query_chars=MAX_QUERY_CHARS,
    )


def _months(counts: dict[str, int]) -> list[tuple[str, int, str, str]]:
    """(month, count, first day, last day) of each month counted, newest first."""
    out = []
    for month, count in sorted(counts.items(), reverse=True):
        year, number = int(month[:4]), int(month[5:7])
        last = calendar.monthrange(year, number)[1]
        out.append((month, count, f"{month}-01", f"{month}-{last:02d}"))
    return out


@bp.get("/articles/<article_id:article_id>")
def article(article_id: str):
    q = request.args.get("q", "").strip()
    try:
        found = service(current_app).article(article_id, q or None)
    except BadRequest:  # a query too long to mark: the article alone
        found = service(current_app).article(article_id)
    if found is None:
        abort(404, description="Không tìm thấy bài viết này.")
    marked = params.integer(request, "p", -1)
    return render_template("article.html", article=found, marked=marked, q=q)
