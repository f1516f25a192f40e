"""The HTML pages: the search box with results, and the article view."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from indexer.search import BadRequest, Filters, IndexUnavailable
from webapp import params, service

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    q = request.args.get("q", "").strip()
    results = error = None
    try:
        filters = params.filters(request)
    except BadRequest as exc:  # a bad date: said on the page, searched without filters
        filters, error = Filters(), str(exc)
    if q and error is None:
        try:
            results = service(current_app).search(
                q,
                page=params.integer(request, "page", 1),
                per_page=current_app.config["PER_PAGE"],
                filters=filters,
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
        "search.html", q=q, results=results, error=error, filters=filters, facets=facets
    )


@bp.get("/articles/<article_id:article_id>")
def article(article_id: str):
    found = service(current_app).article(article_id)
    if found is None:
        abort(404, description="Không tìm thấy bài viết này.")
    marked = params.integer(request, "p", -1)
    return render_template(
        "article.html", article=found, marked=marked, q=request.args.get("q", "")
    )
