"""The search page in a real browser (Debian's Chromium) against the real server (gunicorn)."""

from __future__ import annotations

import os
import shutil
import time
import urllib.request

import pytest

from tests.serving import serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    if os.environ.get("VNSEARCH_REQUIRE_BROWSER"):
        raise RuntimeError("Chromium is required here but missing: apt-get install chromium")
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True
    )

if os.environ.get("VNSEARCH_REQUIRE_BROWSER"):
    from playwright import sync_api  # required: a missing package fails, never skips
else:
    sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(index_dir):
    """``vnsearch serve`` as a user starts it: gunicorn, two workers, on loopback."""
    with serving(index_dir) as (base, _process):
        yield base


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="vi-VN")
    yield context.new_page()
    context.close()


def test_search_without_diacritics_open_article_and_page_forward(server, page):
    page.goto(server + "/")
    box = page.get_by_label("Tìm đoạn văn trong các bài báo")
    box.fill("lang son")
    box.press("Enter")
    page.wait_for_selector("ol.results li.hit")
    marks = page.locator("ol.results li.hit").first.locator("mark")
    assert "Lạng Sơn" in marks.all_inner_texts()
    assert page.locator("#q").input_value() == "lang son"

    page.locator("ol.results li.hit a.title").first.click()
    page.wait_for_selector("article.article")
    assert "#p" in page.url
    assert page.locator("p.marked").count() == 1
    assert "Lạng Sơn" in page.locator("h1").inner_text()

    page.goto(server + "/?q=và")
    assert page.locator("ol.results li.hit").count() == 10
    first_page = page.locator("ol.results li.hit a.title").all_inner_texts()
    page.get_by_role("link", name="Trang sau →").click()
    page.wait_for_selector("ol.results li.hit")
    assert "page=2" in page.url
    assert page.locator("ol.results").get_attribute("start") == "11"
    assert page.locator("ol.results li.hit a.title").all_inner_texts() != first_page


def test_hostile_query_is_shown_as_text(server, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/?q=" + urllib.request.quote('"><img src=x onerror=alert(1)> thẻ'))
    assert page.locator("#q").input_value().startswith('"><img')
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_long_query_gets_a_json_error_not_gunicorns_page(server):
    url = f"{server}/api/search?q=" + "a" * 5000
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=10)
    with caught.value as response:
        assert response.code == 400
        assert response.headers["Content-Type"].startswith("application/json")


def test_suggest_as_you_type(server, page):
    page.goto(server + "/")
    page.locator("#q").press_sequentially("lang s", delay=30)
    # Earlier keystrokes fill the list too; wait for the answer to the whole prefix.
    options = page.locator("#completions option")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if options.count() and options.first.get_attribute("value").startswith("lang "):
            break
        time.sleep(0.1)
    assert options.first.get_attribute("value") == "lang sơn"


def test_phone_layout_screenshot(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    phone = context.new_page()
    phone.goto(server + "/?q=lang+son")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # no sideways scrolling on a phone
    phone.screenshot(path=str(tmp_path / "phone.png"))
    context.close()


@pytest.mark.parametrize(("letters", "status"), [(1000, 200), (1001, 400), (3000, 414)])
def test_long_vietnamese_queries_get_json_through_gunicorn(server, letters, status):
    # 1,000 "ạ" are 9,000 bytes percent-encoded: past gunicorn's own request-line cap.
    url = f"{server}/api/search?q=" + urllib.request.quote("ạ" * letters)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            code, content_type = response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        with error:
            code, content_type = error.code, error.headers["Content-Type"]
    assert code == status
    assert content_type.startswith("application/json")


def test_grouped_results_counts_beside_the_filters_and_newest_first(server, page):
    page.goto(server + "/?q=" + urllib.request.quote("lang son"))
    hits = page.locator("ol.results li.hit")
    titles = hits.locator("a.title").all_inner_texts()
    assert len(titles) == len(set(titles)) >= 3  # one result per article
    summary = page.locator("p.summary").inner_text()
    assert "bài viết" in summary and "đoạn văn" in summary
    more = hits.first.locator("p.more a")
    assert more.inner_text().startswith("Thêm ")

    # Counts beside the filters, for this query.
    sources = page.locator('select[name="source"] option').all_inner_texts()
    assert "example.vn (2)" in sources
    assert any(
        t.endswith(")") for t in page.locator('select[name="category"] option').all_inner_texts()
    )
    assert "2024-01 (1)" in page.locator("p.months").inner_text()

    # Every matching paragraph marked on the article page, the one reached highlighted.
    more.click()
    page.wait_for_selector("article.article")
    assert page.locator("p.marked").count() == 1
    assert page.locator("p.match").count() >= 4
    assert "Lạng Sơn" in page.locator("p.match mark").all_inner_texts()

    # Every passage, then newest first.
    page.go_back()
    page.get_by_role("link", name="Xem mọi đoạn văn").click()
    page.wait_for_selector("ol.results li.hit")
    assert "group=passage" in page.url
    titles = page.locator("ol.results li.hit a.title").all_inner_texts()
    assert len(titles) > len(set(titles))  # several passages of one article
    page.locator('select[name="sort"]').select_option("date")
    page.get_by_role("button", name="Tìm").click()
    page.wait_for_selector("ol.results li.hit")
    assert "sort=date" in page.url and "group=passage" in page.url
    first_meta = page.locator("ol.results li.hit p.meta").first.inner_text()
    assert first_meta.startswith("2024-01-15")  # the one dated article comes first
    assert page.locator('select[name="sort"]').input_value() == "date"
