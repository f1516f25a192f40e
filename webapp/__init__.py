"""The web face of the search: a page for people and a JSON API for programs.

A thin layer: every answer comes from ``indexer.search.service.SearchService``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request

from indexer.search import RayShards, SearchService, index_dir_from_env, load_abbreviations

MAX_REQUEST_BYTES = 16_384  # the longest allowed query, fully percent-encoded, fits


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; settings come from ``config`` and ``VNSEARCH_*`` variables."""
    app = Flask(__name__)
    app.config.from_mapping(
        INDEX_DIR=str(index_dir_from_env()),
        PER_PAGE=10,
        ABBREVIATIONS=None,  # a user's file: its groups replace shipped groups sharing a form
        TIME_LIMIT=2.0,  # seconds a search may take before it is cut off
        RESULT_CACHE=1000,  # pages of results kept per process until the index changes
        SHARD_PROCESSES=True,  # a sharded index: each shard searched in a process of its own
        RAY_ADDRESS=None,  # a Ray cluster whose actors serve the shards (vnsearch serve --ray)
        RAY_REPLICAS=1,  # actors per shard there
    )
    app.config.from_prefixed_env("VNSEARCH")
    if config:
        app.config.update(config)

    shards = None
    if app.config["RAY_ADDRESS"]:
        shards = RayShards(
            app.config["RAY_ADDRESS"], app.config["INDEX_DIR"], int(app.config["RAY_REPLICAS"])
        )
    app.extensions["search"] = SearchService(
        app.config["INDEX_DIR"],
        abbreviations=load_abbreviations(app.config["ABBREVIATIONS"]),
        time_limit=float(app.config["TIME_LIMIT"]),
        result_cache=int(app.config["RESULT_CACHE"]),
        shards=shards,
        parallel=_flag(app.config["SHARD_PROCESSES"]),
    )
    from webapp import api, errors, pages, params

    app.url_map.converters["article_id"] = params.ArticleIdConverter
    # An id such as "https://example.vn/a" holds "//": kept, not redirected to one slash.
    app.url_map.merge_slashes = False
    app.json.sort_keys = False  # facet counts come largest first
    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)

    @app.before_request
    def limit_request_line():
        # The server lets long request lines through (see `vnsearch serve`); cut them here.
        if len(request.query_string) + len(request.path) > MAX_REQUEST_BYTES:
            abort(414, description=f"the request is longer than {MAX_REQUEST_BYTES} bytes")

    @app.after_request
    def security_headers(response):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _flag(value: Any) -> bool:
    """A setting that may come from the environment as text ("0", "false", ...)."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def service(app: Flask) -> SearchService:
    return app.extensions["search"]


__all__ = ["create_app"]
