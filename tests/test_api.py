import pytest

SEED_ID = "000_e79570c1fe97e7a4"
# Written out here, not read from the OpenAPI document: the API promises these.
RESULT_KEYS = {"id", "article_id", "paragraph", "kind", "title", "text", "highlight", "score"}
RESULT_KEYS |= {"date", "category", "source", "url"}
PAGE_KEYS = {"query", "total", "page", "per_page", "took_ms", "results", "suggestion"}
PAGE_KEYS |= {"relaxed", "group", "sort", "articles", "facets", "shards"}


def assert_error(response, status):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("q", ["Lạng Sơn", "lang son"])
def test_search_finds_a_passage_saying_lang_son_first(client, q):
    response = client.get("/api/search", query_string={"q": q})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == PAGE_KEYS
    first = data["results"][0]
    assert set(first) == RESULT_KEYS | {"more", "link"}
    assert "Lạng Sơn" in first["text"]
    assert first["id"] == f"{first['article_id']}#{first['paragraph']}"
    assert "<mark>" in first["highlight"]
    assert first["date"] is None and first["url"] is None


def test_json_ranking_equals_library_ranking(client, service):
    data = client.get("/api/search", query_string={"q": "quốc phòng", "per_page": 20}).get_json()
    page = service.search("quốc phòng", per_page=20)
    assert [r["id"] for r in data["results"]] == [h.id for h in page.results]


def test_filters_as_parameters(client):
    data = client.get("/api/search", query_string={"q": "duong", "source": "other.vn"}).get_json()
    assert data["results"] and {r["source"] for r in data["results"]} == {"other.vn"}
    data = client.get(
        "/api/search", query_string={"q": "duong", "date_from": "2024-03-13"}
    ).get_json()
    assert {r["date"] for r in data["results"]} == {"2024-03-13"}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 1001},
        {"q": "a", "page": "0"},
        {"q": "a", "page": "abc"},
        {"q": "a", "per_page": "101"},
        {"q": "a", "per_page": "-1"},
        {"q": "a", "date_from": "hôm qua"},
    ],
)
def test_bad_parameters_are_400_json(client, params):
    assert_error(client.get("/api/search", query_string=params), 400)


def test_unknown_article_and_route_are_404_json(client):
    assert assert_error(client.get("/api/articles/nope"), 404)["code"] == "not_found"
    assert_error(client.get("/api/nothing-here"), 404)


def test_wrong_method_is_405_json(client):
    assert_error(client.post("/api/search", data={"q": "a"}), 405)


def test_article_endpoint(client):
    data = client.get(f"/api/articles/{SEED_ID}").get_json()
    assert data["id"] == SEED_ID
    assert data["paragraphs"][0]["text"].startswith("Chiều 26-6")
    assert data["author"] == "Bùi Hiệp"


def test_health(client):
    data = client.get("/api/health").get_json()
    assert data["status"] == "ok" and data["documents"] > 30


def test_no_index_is_503_json(tmp_path, make_app):
    app = make_app({"INDEX_DIR": str(tmp_path / "none")})
    client = app.test_client()
    assert assert_error(client.get("/api/search?q=a"), 503)["code"] == "index_unavailable"
    assert_error(client.get("/api/health"), 503)
    page = client.get("/?q=a")
    assert page.status_code == 503 and "Traceback" not in page.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_page_renders_results_and_escapes(client):
    html = client.get("/", query_string={"q": "lang son"}).get_data(as_text=True)
    assert 'lang="vi"' in html
    assert 'value="lang son"' in html
    assert "<mark>Lạng Sơn</mark>" in html
    hostile = client.get("/", query_string={"q": '"><script>alert(1)</script> thẻ'}).get_data(
        as_text=True
    )
    assert "<script>alert(1)</script>" not in hostile
    assert "&lt;script&gt;" in hostile


def test_page_states(client):
    empty = client.get("/").get_data(as_text=True)
    assert "autofocus" in empty
    none = client.get("/", query_string={"q": "zzqqxx"}).get_data(as_text=True)
    assert "Không tìm thấy" in none


def test_article_page_marks_paragraph(client):
    html = client.get(f"/articles/{SEED_ID}?p=2&q=lang+son").get_data(as_text=True)
    assert 'id="p2" class="caption match marked"' in html
    assert html.count(" marked") == 1
    assert html.count(' match"') + html.count(" match ") >= 3  # every matching paragraph
    assert "<mark>Lạng Sơn</mark>" in html
    assert client.get("/articles/nope").status_code == 404


def test_new_articles_are_searchable_without_restart(fresh_index, tmp_path, make_app):
    from indexer.storage.store import update_index

    client = make_app({"INDEX_DIR": str(fresh_index)}).test_client()
    before = client.get("/api/search?q=%22kỳ+lân+xanh%22").get_json()
    assert "fresh" not in {hit["article_id"] for hit in before["results"]}
    new = tmp_path / "new.jsonl"
    new.write_text(
        '{"id": "fresh", "title": "Mới", "body": "Kỳ lân xanh xuất hiện."}\n', encoding="utf-8"
    )
    update_index(fresh_index, [new])
    import time

    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        data = client.get("/api/search?q=%22kỳ+lân+xanh%22").get_json()
        if data["results"] and data["results"][0]["article_id"] == "fresh":
            break
        time.sleep(0.1)
    assert data["results"][0]["article_id"] == "fresh"


def test_page_offers_the_correction_and_filters(client):
    html = client.get("/", query_string={"q": "Lạng Sưn"}).get_data(as_text=True)
    assert "Có phải bạn muốn tìm" in html and ">Lạng Sơn</a>" in html
    assert '<select name="category">' in html and "Đời sống" in html
    filtered = client.get("/", query_string={"q": "duong", "source": "other.vn"}).get_data(
        as_text=True
    )
    assert '<option value="other.vn" selected>' in filtered
    assert "vnexpress.net" not in filtered.split('<ol class="results"')[1]


def test_paging_links_keep_filters(client):
    params = {"q": "và", "source": "vnexpress.net"}
    html = client.get("/", query_string=params).get_data(as_text=True)
    next_link = html.split('rel="next" href="')[1].split('"')[0]
    assert "source=vnexpress.net" in next_link and "page=2" in next_link


def test_app_takes_a_users_abbreviation_file(index_dir, tmp_path, make_app):
    mine = tmp_path / "mine.txt"
    mine.write_text("XYZQ | Mẫu Sơn\n", encoding="utf-8")
    app = make_app({"INDEX_DIR": str(index_dir), "ABBREVIATIONS": str(mine)})
    data = app.test_client().get("/api/search?q=XYZQ").get_json()
    assert data["results"][0]["article_id"] == "nfd-article"


def test_serving_never_loads_pyvi(index_dir):
    """Queries are cut into syllables without pyvi: a server that loaded its model would
    spend a second and a temporary file per process on it for nothing."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from webapp import create_app\n"
        f"client = create_app({{'INDEX_DIR': {str(index_dir)!r}}}).test_client()\n"
        "for q in ['lang son', 'UBND', '\"Lạng Sơn\"', 'Lạng Sưn', 'title:quân -sự']:\n"
        "    assert client.get('/api/search', query_string={'q': q}).status_code == 200\n"
        "assert client.get('/', query_string={'q': 'lang son'}).status_code == 200\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyvi'))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_relaxed_phrase_is_said_in_the_json_and_on_the_page(client):
    """No passage has the quoted words side by side: its words are searched, and said so."""
    query = '"Lạng Sơn quốc phòng"'
    data = client.get("/api/search", query_string={"q": query}).get_json()
    assert data["relaxed"] is True and data["results"]
    html = client.get("/", query_string={"q": query}).get_data(as_text=True)
    assert 'class="relaxed"' in html
    plain = client.get("/", query_string={"q": "Lạng Sơn quốc phòng"}).get_data(as_text=True)
    assert 'class="relaxed"' not in plain


def test_a_bad_date_on_the_page_is_said_on_the_page(client):
    response = client.get("/", query_string={"q": "Lạng Sơn", "date_from": "2024-13-45"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "date_from" in html
    assert 'name="q"' in html  # the search box is still there
