"""Articles keyed by URLs and CMS ids: indexed, searched and opened by their exact id,
through the library, the Flask app and a real gunicorn."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request

import pytest

from tests.serving import serving

IDS = {
    "https://example.vn/thoi-su/bao-so-3-123.html": "Bão số 3 đổ bộ Quảng Ninh",
    "/kinh-te/gia vang~hom nay?x=1#top": "Giá vàng hôm nay",
    "Tin nhanh/Đà Nẵng/..": "Đà Nẵng đón bão",
    "100%-bao": "Bão và phần trăm",
}


def _write(folder):
    path = folder / "crawl.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for article_id, title in IDS.items():
            body = f"{title}: tin bão mới nhất.\n\nĐoạn thứ hai nói về bão."
            out.write(json.dumps({"id": article_id, "title": title, "body": body}) + "\n")
    return path


@pytest.fixture(scope="module")
def url_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crawl")
    target = folder / "index"
    done = subprocess.run(
        [sys.executable, "-m", "indexer", "index", str(_write(folder)), "--index-dir", str(target)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "added 4" in done.stdout
    return target


@pytest.fixture(scope="module")
def url_client(url_index):
    from webapp import create_app, service

    app = create_app({"INDEX_DIR": str(url_index), "TESTING": True})
    yield app.test_client()
    service(app).close()


def _links(page: str, prefix: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page) if h.startswith(prefix)]


def test_search_returns_each_id_exactly(url_client):
    data = url_client.get("/api/search", query_string={"q": "bão", "per_page": 20}).get_json()
    assert {hit["article_id"] for hit in data["results"]} == set(IDS)
    for hit in data["results"]:
        assert hit["id"] == f"{hit['article_id']}#{hit['paragraph']}"


@pytest.mark.parametrize("article_id", list(IDS))
def test_api_article_takes_the_id_percent_encoded(url_client, article_id):
    response = url_client.get("/api/articles/" + urllib.parse.quote(article_id, safe=""))
    assert response.status_code == 200
    assert response.get_json()["id"] == article_id
    assert response.get_json()["title"] == IDS[article_id]


def test_every_link_of_the_page_encodes_the_id_and_opens_the_article(url_client):
    page = url_client.get("/", query_string={"q": "bão", "group": "passage"}).get_data(as_text=True)
    links = _links(page, "/articles/")
    assert len(links) >= len(IDS)
    opened = set()
    for link in links:
        path = urllib.parse.urlsplit(link).path
        encoded = path.removeprefix("/articles/")
        assert "/" not in encoded  # slashes of the id travel as %2F
        article_id = urllib.parse.unquote(encoded)
        response = url_client.get(link)
        assert response.status_code == 200, link
        assert html.escape(IDS[article_id], quote=False) in response.get_data(as_text=True)
        opened.add(article_id)
    assert opened == set(IDS)


def test_an_unknown_id_is_a_404_whatever_it_holds(url_client):
    for raw in ["nope", "https://example.vn/none", "a%2Fb", "..", "%00"]:
        response = url_client.get("/api/articles/" + urllib.parse.quote(raw, safe=""))
        assert response.status_code == 404 and response.is_json


def test_through_gunicorn_search_then_open_each_article_page(url_index):
    with serving(url_index, workers=1) as (base, _process):
        query = urllib.parse.urlencode({"q": "bão", "group": "passage"})
        with urllib.request.urlopen(f"{base}/?{query}", timeout=10) as response:
            page = response.read().decode()
        links = {urllib.parse.urlsplit(link).path for link in _links(page, "/articles/")}
        opened = set()
        for path in links:
            with urllib.request.urlopen(base + path, timeout=10) as response:
                assert response.status == 200
                body = response.read().decode()
            article_id = urllib.parse.unquote(path.removeprefix("/articles/"))
            assert html.escape(IDS[article_id], quote=False) in body
            api = base + "/api" + path
            with urllib.request.urlopen(api, timeout=10) as response:
                assert json.loads(response.read())["id"] == article_id
            opened.add(article_id)
        assert opened == set(IDS)
