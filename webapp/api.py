"""The JSON API: /api/search, /api/suggest, /api/articles/<id>, /api/health, OpenAPI."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for

from indexer.search import GROUPS, SORTS
from webapp import openapi, params, service
from webapp.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/search")
def search():
    q = request.args.get("q", "")
    page = service(current_app).search(
        q,
        page=params.integer(request, "page", 1),
        per_page=params.integer(request, "per_page", current_app.config["PER_PAGE"]),
        filters=params.filters(request),
        group=params.choice(request, "group", GROUPS, GROUPS[0]),
        sort=params.choice(request, "sort", SORTS, SORTS[0]),
        facets=params.flag(request, "facets", True),
    )
    out = page.to_dict()
    for hit in out["results"]:
        # The article page, every paragraph matching the query marked, this one reached.
        hit["link"] = (
            url_for("pages.article", article_id=hit["article_id"], q=page.query, p=hit["paragraph"])
            + f"#p{hit['paragraph']}"
        )
    return jsonify(out)


@bp.get("/articles/<article_id:article_id>")
def article(article_id: str):
    found = service(current_app).article(article_id, request.args.get("q") or None)
    if found is None:
        return json_error(404, "not_found", f"no article {article_id[:600]!r} in the index")
    return jsonify(found.to_dict())


@bp.get("/suggest")
def suggest():
    """Completions for the search box: the query with its last word finished."""
    q = request.args.get("q", "")
    return jsonify({"query": q, "suggestions": service(current_app).complete(q, limit=10)})


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "documents": service(current_app).document_count()})
