"""Whatever a client sends, the API answers with results or a 4xx JSON error, quickly."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.analysis.analyzers import analyse_passage, analyse_syllables
from indexer.analysis.text import canonical

PARAMS = st.fixed_dictionaries(
    {},
    optional={
        "q": st.text(max_size=300),
        "page": st.one_of(st.integers(-5, 10**6).map(str), st.text(max_size=5)),
        "per_page": st.one_of(st.integers(-5, 200).map(str), st.text(max_size=5)),
        "category": st.text(max_size=20),
        "source": st.text(max_size=20),
        "date_from": st.one_of(st.dates().map(str), st.text(max_size=12)),
        "date_to": st.one_of(st.dates().map(str), st.text(max_size=12)),
    },
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=PARAMS)
def test_search_never_fails_on_any_parameters(client, params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    assert response.is_json


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(max_size=200))
def test_page_and_suggest_never_fail(client, q):
    assert client.get("/", query_string={"q": q}).status_code in (200, 400)
    assert client.get("/api/suggest", query_string={"q": q}).status_code in (200, 400)


@pytest.mark.parametrize(
    "q",
    [
        "<script>alert(1)</script>",
        '" onmouseover="alert(1)',
        "a*",
        "*",
        "?",
        " OR ".join(f"từ{i}" for i in range(300)),
        "((((((",
        '"""""',
        "title:nope:nope",
        "khong:co:truong",
        "du toan 23 03",
        "x" * 1000,
        "Lạng Sơn " * 100,
    ],
)
def test_hostile_queries_answer_quickly(client, q):
    started = time.monotonic()
    response = client.get("/api/search", query_string={"q": q})
    assert time.monotonic() - started < 1.0
    assert response.status_code in (200, 400)
    for hit in response.get_json().get("results", []):
        assert "<" not in hit["highlight"].replace("<mark>", "").replace("</mark>", "")


def test_path_traversal_is_just_an_unknown_article(client):
    response = client.get("/api/articles/..%2F..%2Fetc%2Fpasswd")
    assert response.status_code == 404 and response.is_json
    assert client.get("/articles/../../etc/passwd").status_code == 404


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_analysis_never_raises(text):
    views = analyse_passage(text)
    assert views["text"] == analyse_syllables(text)
    assert all(canonical(t) == t for t in views["text"])
