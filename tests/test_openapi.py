"""Real responses checked against the OpenAPI document the server publishes."""

import json

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

SEED_ID = "000_e79570c1fe97e7a4"


@pytest.fixture(scope="module")
def spec(app):
    return app.test_client().get("/api/openapi.json").get_json()


def validate(spec, path, method, response):
    operation = spec["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]
    assert response.is_json
    schema = declared["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:spec", DRAFT202012.create_resource(spec))
    ref = "urn:spec" + schema["$ref"]
    Draft202012Validator({"$ref": ref}, registry=registry).validate(response.get_json())


def test_document_is_openapi_31(spec):
    assert spec["openapi"].startswith("3.1")
    json.dumps(spec)


@pytest.mark.parametrize(
    ("path", "url"),
    [
        ("/api/search", "/api/search?q=lang+son"),
        ("/api/search", "/api/search?q=Lạng+Sưn&per_page=3"),
        ("/api/search", "/api/search?q=zzzz"),
        ("/api/search", "/api/search?q="),
        ("/api/search", "/api/search?q=a&page=x"),
        ("/api/suggest", "/api/suggest?q=lang+s"),
        ("/api/suggest", "/api/suggest?q="),
        ("/api/articles/{article_id}", f"/api/articles/{SEED_ID}"),
        ("/api/articles/{article_id}", "/api/articles/nope"),
        ("/api/health", "/api/health"),
    ],
)
def test_responses_match_the_document(spec, client, path, url):
    validate(spec, path, "get", client.get(url))


def test_unavailable_index_matches_the_document(spec, tmp_path, make_app):
    client = make_app({"INDEX_DIR": str(tmp_path)}).test_client()
    for path, url in [("/api/search", "/api/search?q=a"), ("/api/health", "/api/health")]:
        response = client.get(url)
        assert response.status_code == 503
        validate(spec, path, "get", response)


def test_suggest_completes_the_last_word(client):
    data = client.get("/api/suggest", query_string={"q": "lang s"}).get_json()
    assert data["suggestions"][0] == "lang sơn"
    assert len(data["suggestions"]) <= 10
    assert client.get("/api/suggest", query_string={"q": "x" * 1001}).status_code == 400
