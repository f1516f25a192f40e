"""Every error as JSON under /api and as a page elsewhere; never a traceback."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from indexer.search import BadRequest, IndexUnavailable, SearchTimeout


def json_error(status: int, code: str, message: str):
    """The one shape of every API error: {"error": {"code", "message"}}."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _respond(status: int, code: str, message: str):
    if _wants_json():
        return json_error(status, code, message)
    page = render_template("error.html", status=status, message=message)
    return page, status


def register(app: Flask) -> None:
    @app.errorhandler(BadRequest)
    def bad_request(exc: BadRequest):
        return _respond(400, "bad_request", str(exc))

    @app.errorhandler(SearchTimeout)
    def timeout(exc: SearchTimeout):
        return _respond(503, "timeout", str(exc))

    @app.errorhandler(IndexUnavailable)
    def unavailable(exc: IndexUnavailable):
        return _respond(503, "index_unavailable", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        return _respond(500, "internal_error", "something went wrong; it has been logged")
