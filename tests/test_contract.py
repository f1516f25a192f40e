"""The OpenAPI description fuzzed against a real server (gunicorn) with schemathesis: every
operation, valid and invalid input, hostile strings; no 5xx, every answer as described."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving import serving
from webapp import openapi

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 100  # per operation and generation mode: the whole run stays within a minute


@pytest.fixture(scope="module")
def base_url(index_dir):
    with serving(index_dir, workers=1) as (base, _process):
        yield base


# The document the server publishes, loaded at collection so that each operation is a test
# of its own (schemathesis's fixture loader relies on a pytest attribute pytest 9.2 lacks);
# ``test_the_fuzzed_document_is_the_served_one`` holds the two equal.
api_schema = schemathesis.openapi.from_dict(openapi.document())
api_schema.config.generation.update(modes=list(GenerationMode))


def test_the_fuzzed_document_is_the_served_one(base_url):
    with urllib.request.urlopen(f"{base_url}/api/openapi.json", timeout=20) as answer:
        assert json.load(answer) == json.loads(json.dumps(openapi.document()))


@api_schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases every run: a failure is reproduced by running again
)
def test_every_operation_answers_as_described(case, base_url):
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=20)


HOSTILE = [
    "\x00",
    "a\x00b",
    "Lạng Sơn\x00",
    "x" * 10_000,
    "ạ" * 10_000,
    "%",
    "%%",
    "%zz",
    "%2",
    "%00",
    "%ED%A0%80",
    "100% chắc chắn",
    "\ufeff",
    "\u202e lang son",
    '"' * 999,
    "title:" * 150,
    "-" * 1000,
]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:12]) + f"x{len(v)}")
@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/search", "q"),
        ("/api/search", "category"),
        ("/api/suggest", "q"),
        ("/api/articles/{article_id}", "article_id"),
        ("/api/articles/{article_id}", "q"),
    ],
)
def test_hostile_strings_answer_as_described(base_url, path, name, value):
    operation = api_schema[path]["GET"]
    query = {"q": "lang son"} if path == "/api/search" else {}
    path_parameters = {"article_id": "000_e79570c1fe97e7a4"} if "{" in path else None
    if name == "article_id":
        path_parameters = {"article_id": value}
    else:
        query[name] = value
    case = operation.Case(query=query, path_parameters=path_parameters)
    response = case.call(base_url=base_url, timeout=20)
    assert response.status_code < 500, response.text[:300]
    case.validate_response(response, checks=CHECKS[:-1])


@pytest.mark.parametrize(
    "raw",
    [
        "/api/search?q=%ED%A0%80",  # a lone surrogate as UTF-8 would spell it
        "/api/search?q=%C0%80",  # an overlong NUL
        "/api/search?q=%FF%FE",
        "/api/search?q=%zz%",
        "/api/search?q=lang+son&page=%00",
        "/api/suggest?q=%ED%B0%80",
        "/api/articles/%ED%A0%80",
        "/api/articles/%00",
        "/api/articles/%2F%2F..%2F",
        "/api/articles/a%zzb",
    ],
)
def test_undecodable_bytes_answer_json_never_5xx(base_url, raw):
    try:
        with urllib.request.urlopen(base_url + raw, timeout=20) as answer:
            status, content_type = answer.status, answer.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        with error:
            status, content_type = error.code, error.headers["Content-Type"]
    assert status in (200, 400, 404, 414), (raw, status)
    assert content_type.startswith("application/json")
