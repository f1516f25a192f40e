"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json.

Tests check real responses against these schemas, so the document stays true.
"""

from __future__ import annotations

from typing import Any

from indexer.search import FACET_VALUES, GROUPS, MAX_PER_PAGE, MAX_QUERY_CHARS, SORTS

NULLABLE_STRING = {"type": ["string", "null"]}

ERROR = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "additionalProperties": False,
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}

HIT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "article_id",
        "paragraph",
        "kind",
        "title",
        "text",
        "highlight",
        "score",
        "date",
        "category",
        "source",
        "url",
        "more",
        "link",
    ],
    "properties": {
        "id": {"type": "string", "description": "<article_id>#<paragraph>"},
        "article_id": {"type": "string"},
        "paragraph": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "enum": ["body", "caption", "title"]},
        "title": {"type": "string"},
        "text": {"type": "string"},
        "highlight": {"type": "string", "description": "HTML-escaped text, matches in <mark>"},
        "score": {"type": "number"},
        "date": NULLABLE_STRING,
        "category": NULLABLE_STRING,
        "source": NULLABLE_STRING,
        "url": NULLABLE_STRING,
        "more": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "With group=article: how many other passages of the article "
            "match (the article page marks them all); null otherwise.",
        },
        "link": {
            "type": "string",
            "description": "The article page (id percent-encoded), every paragraph matching "
            "the query marked and this one reached.",
        },
    },
}

COUNTS = {
    "type": "object",
    "maxProperties": FACET_VALUES,
    "additionalProperties": {"type": "integer", "minimum": 1},
    "description": f"value -> count, the {FACET_VALUES} largest, largest first",
}

FACETS = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "required": ["category", "source", "date"],
    "description": "Counts over every match of the query and filters, in results as the "
    "page counts them (articles with group=article, passages otherwise); date by month "
    "(YYYY-MM). null with facets=false.",
    "properties": {"category": COUNTS, "source": COUNTS, "date": COUNTS},
}

SHARDS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["total", "successful", "failed"],
    "description": "How many of the index's shards answered (a plain index is one shard), "
    "as Elasticsearch's _shards: a shard that failed to answer within the time limit "
    "leaves its passages out of the results.",
    "properties": {
        "total": {"type": "integer", "minimum": 1},
        "successful": {"type": "integer", "minimum": 0},
        "failed": {"type": "integer", "minimum": 0},
    },
}

PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "query",
        "total",
        "page",
        "per_page",
        "took_ms",
        "results",
        "suggestion",
        "relaxed",
        "group",
        "sort",
        "articles",
        "facets",
        "shards",
    ],
    "properties": {
        "query": {"type": "string"},
        "shards": SHARDS,
        "total": {"type": "integer", "minimum": 0, "description": "matching passages"},
        "articles": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "matching articles (null for passages by relevance, the plain ranking)",
        },
        "group": {"enum": list(GROUPS)},
        "sort": {"enum": list(SORTS)},
        "facets": FACETS,
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "took_ms": {"type": "number"},
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "suggestion": NULLABLE_STRING,
        "relaxed": {
            "type": "boolean",
            "description": "The quoted phrases matched too few passages: passages holding "
            "their words, not as a phrase, follow those holding the phrases.",
        },
    },
}

ARTICLE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "title",
        "paragraphs",
        "date",
        "category",
        "source",
        "url",
        "author",
        "matches",
    ],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "paragraphs": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["paragraph", "kind", "text"],
                "properties": {
                    "paragraph": {"type": "integer"},
                    "kind": {"type": "string"},
                    "text": {"type": "string"},
                    "highlight": {
                        "type": "string",
                        "description": "with q: the text HTML-escaped, matches in <mark>",
                    },
                },
            },
        },
        "matches": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0},
            "description": "with q: the paragraphs the query matches, in order",
        },
        "date": NULLABLE_STRING,
        "category": NULLABLE_STRING,
        "source": NULLABLE_STRING,
        "url": NULLABLE_STRING,
        "author": NULLABLE_STRING,
    },
}

SUGGESTIONS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["query", "suggestions"],
    "properties": {
        "query": {"type": "string"},
        "suggestions": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
    },
}

HEALTH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status", "documents"],
    "properties": {"status": {"const": "ok"}, "documents": {"type": "integer", "minimum": 0}},
}


def _param(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _json(ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _errors(*statuses: int) -> dict:
    return {str(s): _json("Error", "an error, always JSON") for s in statuses}


def document() -> dict[str, Any]:
    """The OpenAPI document."""
    # A blank value is no filter, as the page's form sends an empty date field; a blank
    # number is its default, as a form's empty field would be.
    blank = {"const": ""}
    date = {"anyOf": [{"type": "string", "format": "date"}, blank]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vnsearch",
            "version": "0.1.0",
            "description": "Vietnamese full-text passage search over news articles.",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Ranked, highlighted passages for a query",
                    "parameters": [
                        _param(
                            "q",
                            {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
                            'the query: words, "phrases", -exclusions, title:word',
                            True,
                        ),
                        _param(
                            "page",
                            {"anyOf": [{"type": "integer", "minimum": 1}, blank], "default": 1},
                            "page",
                        ),
                        _param(
                            "per_page",
                            {
                                "anyOf": [
                                    {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                                    blank,
                                ],
                                "default": 10,
                            },
                            "results per page",
                        ),
                        _param("category", {"type": "string"}, "only this category"),
                        _param("source", {"type": "string"}, "only this source"),
                        _param("date_from", date, "only articles dated on or after"),
                        _param("date_to", date, "only articles dated on or before"),
                        _param(
                            "group",
                            {"enum": [*GROUPS, ""], "default": GROUPS[0]},
                            "article: one result per article, its best passage, with more",
                        ),
                        _param(
                            "sort",
                            {"enum": [*SORTS, ""], "default": SORTS[0]},
                            "date: newest first, undated last, ties by relevance",
                        ),
                        _param(
                            "facets",
                            {
                                "anyOf": [{"type": "boolean"}, {"enum": ["1", "0", ""]}],
                                "default": True,
                            },
                            "count category, source and month over every match",
                        ),
                    ],
                    "responses": {
                        "200": _json("Page", "one page of results"),
                        **_errors(400, 405, 414, 503),
                    },
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Completions of the last word of a query",
                    "parameters": [
                        _param(
                            "q",
                            {"type": "string", "maxLength": MAX_QUERY_CHARS},
                            "what is typed so far (none: no suggestions)",
                        )
                    ],
                    "responses": {
                        "200": _json("Suggestions", "up to 10 completions"),
                        **_errors(400, 405, 414, 503),
                    },
                }
            },
            "/api/articles/{article_id}": {
                "get": {
                    "summary": "A whole article with its paragraphs",
                    "parameters": [
                        {
                            "name": "article_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1},
                            "description": "the article's id, percent-encoded ('/' as %2F)",
                        },
                        _param(
                            "q",
                            {"type": "string", "maxLength": MAX_QUERY_CHARS},
                            "a query: its matching paragraphs listed and highlighted",
                        ),
                    ],
                    "responses": {
                        "200": _json("Article", "the article"),
                        **_errors(400, 404, 405, 414, 503),
                    },
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Whether the index can be searched",
                    "responses": {"200": _json("Health", "the index is usable"), **_errors(503)},
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {
                        "200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Hit": HIT,
                "Page": PAGE,
                "Article": ARTICLE,
                "Suggestions": SUGGESTIONS,
                "Health": HEALTH,
                "Error": ERROR,
            }
        },
    }
