import json
import time
import unicodedata

import pytest

from indexer.analysis.text import new_tone_style
from indexer.corpus.articles import Article, Paragraph
from indexer.ranking.rerank import DEPTH
from indexer.ranking.syntax import parse
from indexer.search import BadRequest, Filters, SearchService
from indexer.search.fanout import LocalShards
from indexer.search.live_index import article_fields
from indexer.storage import store

SEED_ID = "000_e79570c1fe97e7a4"


def top_article(service, query, **kwargs):
    page = service.search(query, **kwargs)
    assert page.results, f"no results for {query!r}"
    return page.results[0].article_id


@pytest.mark.parametrize(
    "query", ["LẠNG SƠN", unicodedata.normalize("NFD", "Lạng Sơn"), "lạng sơn", "Lạng  Sơn "]
)
def test_every_spelling_ranks_as_the_accented_query(service, query):
    """Capitals, NFD, lower case: the same passages in the same order."""
    expected = [hit.id for hit in service.search("Lạng Sơn").results]
    assert [hit.id for hit in service.search(query).results] == expected


def test_unaccented_query_finds_what_its_words_imply_first(service):
    """ "lang son" reads "Lạng Sơn" first: every passage saying it comes before the others."""
    results = service.search("lang son").results
    holding = {hit.id for hit in service.search('"Lạng Sơn"').results if "Lạng Sơn" in hit.text}
    assert len(holding) >= 3
    assert {hit.id for hit in results[: len(holding)]} == holding


@pytest.mark.parametrize("query", ["dang uy quan su", "Đảng ủy quân sự", "đảng uỷ quân sự"])
def test_unaccented_and_tone_style_queries_find_the_party_committee(service, query):
    assert top_article(service, query) == SEED_ID


def test_nfd_text_is_found_by_nfc_and_plain_queries(service):
    assert top_article(service, "sương muối Mẫu Sơn") == "nfd-article"
    assert top_article(service, "suong muoi mau son") == "nfd-article"


@pytest.mark.parametrize(
    "query", ["thủy lợi hòa giải", "thuỷ lợi hoà giải", "THỦY LỢI", "thuy loi"]
)
def test_either_tone_style_finds_the_other(service, query):
    assert top_article(service, query) == "new-tone-style"


def test_capitals_in_the_text_are_found(service):
    assert top_article(service, "ban chỉ huy quân sự Đình Lập") == "capitals"
    assert top_article(service, "dinh lap dien tap") == "capitals"


def test_syllables_find_what_pyvi_glued(service):
    # pyvi writes "tăng_cường_quốc_phòng" in the seed; a word-only index misses it.
    page = service.search("quốc phòng", per_page=50)
    ids = {hit.id for hit in page.results}
    seed_hits = [h for h in page.results if h.article_id == SEED_ID]
    assert seed_hits
    assert any("tăng cường quốc phòng" in h.text for h in seed_hits), ids


def test_accented_query_prefers_exact_form(service):
    page = service.search("đường", per_page=10)
    ids = [hit.article_id for hit in page.results]
    assert ids[0] == "duong-road"
    plain = service.search("duong", per_page=10)
    plain_ids = [hit.article_id for hit in plain.results]
    assert {"duong-road", "duong-ocean"} <= set(plain_ids)


def test_an_and_o_are_searchable_words(service):
    page = service.search("an ninh ở biên giới")
    assert page.results[0].article_id == "an-ninh"
    assert "<mark>an ninh</mark>" in page.results[0].highlight


def test_highlight_offsets_follow_the_original_text(service):
    page = service.search("12/3/2024 cửa khẩu")
    hit = page.results[0]
    assert hit.article_id == "an-ninh"
    assert "Ngày <mark>12</mark>/<mark>3</mark>/<mark>2024</mark>" in hit.highlight
    seed = service.search("Chiều 26-6 Lạng Sơn").results[0]
    assert seed.highlight.startswith("<mark>Chiều 26</mark>-<mark>6</mark>, ")


def test_highlight_escapes_markup(service):
    hit = service.search("thẻ ký tự đặc biệt").results[0]
    assert hit.article_id == "script-title"
    assert "&lt;b&gt;" in hit.highlight
    assert "<b>" not in hit.highlight
    assert hit.highlight.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_phrase_requires_adjacency(service):
    loose = service.search("tỉnh Lạng Sơn", per_page=100)
    phrase = service.search('"tỉnh Lạng Sơn"', per_page=100)
    holding = [h for h in loose.results if "tỉnh lạng sơn" in h.text.lower()]
    assert 0 < len(holding) < DEPTH  # fewer than are ranked: the words follow
    assert phrase.relaxed and not loose.relaxed
    assert {h.id for h in phrase.results[: len(holding)]} == {h.id for h in holding}
    assert all("tỉnh lạng sơn" not in h.text.lower() for h in phrase.results[len(holding) :])


def test_unaccented_phrase(service):
    page = service.search('"tang cuong quoc phong"')
    assert page.results and page.results[0].article_id == SEED_ID


def test_exclusion(service):
    with_seed = service.search("Lạng Sơn", per_page=100)
    without = service.search("Lạng Sơn -Đoàn", per_page=100)
    assert any("Đoàn" in h.text for h in with_seed.results)
    assert not any("Đoàn" in h.text for h in without.results)


def test_title_field(service):
    page = service.search("title:thuỷ")
    assert [h.article_id for h in page.results] == ["new-tone-style"]


def test_filters(service):
    all_duong = service.search("duong", per_page=100)
    road = service.search(
        "duong", per_page=100, filters=Filters(date_from="2024-03-12", date_to="2024-03-12")
    )
    assert len(road.results) < len(all_duong.results)
    assert {h.date for h in road.results} == {"2024-03-12"}
    life = service.search("duong", per_page=100, filters=Filters(category="doi song"))
    assert life.results and {h.category for h in life.results} == {"Đời sống"}
    other = service.search("duong", per_page=100, filters=Filters(source="other.vn"))
    assert {h.source for h in other.results} == {"other.vn"}


@pytest.mark.parametrize("query", ["UBND Cao Bằng", "ubnd cao bang", "UBND tỉnh Cao Bằng"])
def test_abbreviation_finds_the_long_form(service, query):
    assert top_article(service, query) == "committee-full"


@pytest.mark.parametrize("query", ["ủy ban nhân dân", "uy ban nhan dan", "Uỷ ban nhân dân"])
def test_long_form_finds_the_abbreviation(service, query):
    ids = {h.article_id for h in service.search(query, per_page=100).results}
    assert {"committee-full", SEED_ID} <= ids


def test_abbreviation_from_the_seed(service):
    page = service.search("sẵn sàng chiến đấu")
    assert page.results and "SSCĐ" in page.results[0].text


@pytest.mark.parametrize(
    "query",
    [
        '"Lạng Sơn',
        "Hà Nội:",
        "S -300",
        "title:",
        "a AND OR NOT (",
        "*",
        "a*",
        "title:foo:bar",
        '""',
        "- -",
    ],
)
def test_queries_that_look_like_syntax_never_fail(service, query):
    page = service.search(query)  # no exception, and a page that adds up
    assert page.query == query.strip()
    assert page.total >= len(page.results) == min(page.total, page.per_page)


def test_unbalanced_quote_is_searched_as_words(service):
    as_words = [hit.id for hit in service.search("Lạng Sơn").results]
    assert [hit.id for hit in service.search('"Lạng Sơn').results] == as_words


def test_du_toan_query_returns(service):
    # Whoosh 2.7.4's optimised OR collector never returned on this query.
    page = service.search("du toan 23 03")
    assert page.results


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": ""}, "empty"),
        ({"text": "x" * 1001}, "longer"),
        ({"text": "a", "per_page": 0}, "per_page"),
        ({"text": "a", "per_page": 101}, "per_page"),
        ({"text": "a", "page": 0}, "page"),
    ],
)
def test_bad_requests(service, kwargs, message):
    with pytest.raises(BadRequest, match=message):
        service.search(**kwargs)


def test_paging_is_consistent(service):
    first = service.search("Lạng Sơn", per_page=2)
    second = service.search("Lạng Sơn", per_page=2, page=2)
    both = service.search("Lạng Sơn", per_page=4)
    assert [h.id for h in first.results + second.results] == [h.id for h in both.results]


def test_page_past_the_end_is_empty(service):
    page = service.search("Lạng Sơn", page=500)
    assert page.results == () and page.total > 0


def test_article_view(service):
    article = service.article(SEED_ID)
    assert article.title.startswith("Đảng ủy Quân sự")
    assert [p["paragraph"] for p in article.paragraphs] == list(range(len(article.paragraphs)))
    assert article.author == "Bùi Hiệp"
    assert service.article("no-such-article") is None


def test_toneswap_helper_is_symmetric():
    assert new_tone_style("hòa thủy") == "hoà thuỷ"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Lạng Sưn", "Lạng Sơn"),
        ("lạng sưn", "lạng sơn"),
        ("Lạng Sơn", None),
        ("quoc phonh", "quoc phong"),
    ],
)
def test_did_you_mean(service, query, expected):
    assert service.search(query).suggestion == expected


def test_capitals_do_not_turn_words_into_abbreviations(service):
    # "VAT" (thuế giá trị gia tăng) folds like "vật"; a query in capitals means the word.

    planner = service.index.planner(service.index.searcher(), service.abbreviations)
    assert "gia" not in str(planner.plan(parse("ĐỘNG VẬT")).query)
    assert "gia" in str(planner.plan(parse("thuế VAT")).query)


def _lang_son_index(folder):
    from indexer.corpus.articles import Article, Paragraph
    from indexer.storage.store import index_articles

    texts = {
        "rain": "Mưa lớn kéo dài ở Lạng Sơn.",
        "border": "Tỉnh Lạng Sơn có nhiều cửa khẩu.",
        "village": "Làng Sơn Vi đón khách.",
    }
    # "làng" is the commoner syllable, but "lạng_sơn" the only word reading "lang son";
    # the village's passage is the shortest, so that BM25 alone would put it first.
    for i, place in enumerate(["đồng", "chợ", "sông", "đình"]):
        texts[f"farm{i}"] = f"Người dân trong làng ra {place} sớm."
    # News about other things: "lang" is not in every passage (its IDF would be nil).
    for i, topic in enumerate(["giá vàng", "bóng đá", "thời tiết", "giao thông", "điện"]):
        texts[f"other{i}"] = f"Tin mới về {topic} hôm nay."
    articles = [Article(key, "Tin", (Paragraph(text),)) for key, text in texts.items()]
    index_articles(folder, articles, workers=1)


def test_plain_query_takes_the_reading_its_words_imply(tmp_path, monkeypatch):
    from indexer.ranking import planner as query
    from indexer.search import SearchService

    _lang_son_index(tmp_path / "ix")
    service = SearchService(tmp_path / "ix")
    top = service.search("lang son").results
    service.close()
    assert top[0].article_id in {"rain", "border"}, [hit.text for hit in top]
    assert {hit.article_id for hit in top} >= {"rain", "border", "village"}  # all still found

    def first_stage_top(service):
        return service.first_stage("lang son", 10).found[0].article_id

    with SearchService(tmp_path / "ix") as service:
        assert first_stage_top(service) in {"rain", "border"}
    monkeypatch.setattr(query, "RESTORE_SHARE", 1.0)  # no restoring: the shortest wins
    with SearchService(tmp_path / "ix") as service:
        assert first_stage_top(service) == "village"


def test_a_syllable_typed_without_accents_counts_each_reading_alike(tmp_path):
    """A syllable "thieu" may mean the rare "thiêu" (tự thiêu) as well as the common "thiếu": a
    passage holding either scores the same, the rare one is not pushed down."""
    texts = {"burn": "Chuyện tự thiêu hôm qua.", "lack": "Chuyện thiếu nước hôm qua."}
    for i, who in enumerate(["trẻ em", "người già", "nông dân", "công nhân"]):
        texts[f"lack{i}"] = f"Nhiều {who} thiếu ăn."
    for i, topic in enumerate(["giá vàng", "bóng đá", "thời tiết", "giao thông", "điện"]):
        texts[f"other{i}"] = f"Tin mới về {topic} hôm nay."
    articles = [Article(key, "Tin", (Paragraph(text),)) for key, text in texts.items()]
    store.index_articles(tmp_path / "ix", articles, workers=1)
    with SearchService(tmp_path / "ix") as service:
        found = service.first_stage("thieu", 10).found
    scores = {p.article_id: p.score for p in found}
    assert set(scores) == {"burn", "lack", "lack0", "lack1", "lack2", "lack3"}
    assert scores["burn"] == pytest.approx(scores["lack"])


def test_abbreviation_searches_its_long_form_as_written(tmp_path):
    """TP HCM finds "thành phố Hồ Chí Minh", not every reading of "thanh pho ho chi minh"."""
    data = tmp_path / "a.jsonl"
    records = [
        {"id": "city", "title": "Tin", "body": "Thành phố Hồ Chí Minh mưa lớn chiều nay."},
        {"id": "other", "title": "Tin", "body": "Thanh phó họ chỉ mình mưa lớn chiều nay."},
    ]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    store.update_index(tmp_path / "ix", [data])
    with SearchService(tmp_path / "ix") as service:
        for text in ("TP HCM mưa lớn", "tp hcm mua lon"):
            # Both say "mưa lớn": the one that also says the city comes first.
            assert [h.article_id for h in service.search(text).results] == ["city", "other"]


def _article(number: int) -> Article:
    paragraphs = tuple(
        Paragraph(f"Đoạn {i} của bài {number}, ghi chú kỳ lân{i}.") for i in range(4)
    )
    return Article(
        f"a{number}",
        f"Bài số {number}",
        paragraphs,
        date=f"2024-01-{number + 1:02d}",
        category=f"Mục {number % 3}",
        source=f"nguon{number}.vn",
        url=f"https://nguon{number}.vn/{number}",
    )


def test_every_passage_of_an_article_shows_its_metadata(tmp_path, monkeypatch):
    """Metadata is stored once per article, and found again after segments merge."""
    target = tmp_path / "ix"
    monkeypatch.setattr(store, "MAX_SEGMENTS", 2)  # merge small segments (five or more)
    for number in range(8):  # a segment each, until a commit merges the first five
        store.index_articles(target, [_article(number)], workers=1)
    assert store.stats(target).segments < 8
    store.delete_articles(target, ["a3"])  # a gap of deleted passages in a segment
    service = SearchService(target)
    page = service.search("kỳ lân3", per_page=100)
    holding = [hit for hit in page.results if "lân3" in hit.text]
    assert len(holding) == 7 and page.results[:7] == tuple(holding)
    for hit in holding:
        number = int(hit.article_id[1:])
        assert hit.paragraph == 3 and hit.id == f"a{number}#3"
        expected = _article(number)
        assert (hit.date, hit.category, hit.source, hit.url) == (
            expected.date,
            expected.category,
            expected.source,
            expected.url,
        )
    since = service.search("lân2", filters=Filters(date_from="2024-01-07"))
    assert sorted(hit.article_id for hit in since.results) == ["a6", "a7"]
    assert sorted(service.facet_values("category")) == ["Mục 0", "Mục 1", "Mục 2"]
    service.close()


def test_metadata_is_found_by_article_id_when_passages_are_not_in_order(service):
    """The fallback of ``article_fields``: a passage number that does not lead back."""
    searcher = service.index.searcher()
    docnum = next(iter(searcher.document_numbers(article_id=SEED_ID)))
    passage = dict(searcher.stored_fields(docnum), paragraph=docnum + 5)
    found = article_fields(searcher, docnum, passage)
    assert found["paragraph"] == 0 and found["article_id"] == SEED_ID
    assert found.get("date") == service.article(SEED_ID).date


def _without_time(page):
    return {**page.to_dict(), "took_ms": None}


def test_a_repeated_search_is_the_same_page(index_dir):
    cached, uncached = SearchService(index_dir), SearchService(index_dir, result_cache=0)
    for text, kwargs in [
        ("lang son", {}),
        ("Lạng Sơn", {"per_page": 3, "page": 2}),
        ("an ninh", {"filters": Filters(category="Pháp luật")}),
        ("an ninh", {"filters": Filters()}),
    ]:
        first = cached.search(text, **kwargs)
        again = cached.search(text, **kwargs)
        assert _without_time(again) == _without_time(first)
        assert _without_time(again) == _without_time(uncached.search(text, **kwargs))
    assert cached.search("an ninh", filters=Filters(category="Pháp luật")).total < (
        cached.search("an ninh").total
    )
    cached.close()
    uncached.close()


def test_kept_results_are_dropped_when_the_index_changes(fresh_index, monkeypatch):
    monkeypatch.setattr("indexer.search.live_index.REFRESH_EVERY_S", 0.0)
    service = SearchService(fresh_index)
    assert service.search("zyxquanh").total == 0
    assert service.search("zyxquanh").total == 0  # asked again: the kept page
    article = Article("unicorn", "Tin lạ", (Paragraph("Một con zyxquanh xuất hiện."),))
    store.index_articles(fresh_index, [article], workers=1)
    after = service.search("zyxquanh")
    assert [hit.article_id for hit in after.results] == ["unicorn"]
    service.close()


def test_result_cache_keeps_at_most_its_size(index_dir):
    service = SearchService(index_dir, result_cache=2)
    for text in ("lang son", "an ninh", "quốc phòng", "lang son"):
        service.search(text)
    assert len(service.pages._pages) == 2
    service.close()


def test_unaccented_syllable_leaves_out_forms_rarer_than_one_percent(tmp_path):
    """'ong' reads ông (200 passages) and ống (5), not the typo ổng (1)."""
    texts = ["Ông ấy đến."] * 200 + ["Ống nước vỡ."] * 5 + ["Ổng nói vậy."]
    articles = [Article(f"a{i}", "Tin", (Paragraph(t),)) for i, t in enumerate(texts)]
    store.index_articles(tmp_path / "ix", articles, workers=1)
    service = SearchService(tmp_path / "ix")
    assert service.search("ong").total == 205
    assert service.search("ổng").total == 1  # typed with its marks, it is found
    service.close()


class _SlowToOpen(LocalShards):
    """A plain index whose opening (its first statistics) takes longer than a search
    may: the first search of a server process on a large index."""

    def __init__(self, folder, delay: float) -> None:
        super().__init__([folder])
        self.delay = delay
        self.opened = False

    def each(self, method, args, timeout=None):
        if method == "info" and not self.opened:
            time.sleep(self.delay)
            self.opened = True
        return super().each(method, args, timeout)


@pytest.mark.parametrize("facets", [False, True])
def test_opening_the_index_is_not_counted_in_the_first_searchs_time_limit(index_dir, facets):
    with SearchService(index_dir, time_limit=0.5, shards=_SlowToOpen(index_dir, 0.8)) as service:
        page = service.search("giá xăng", facets=facets)
    assert page.results and page.took_ms >= 800  # the time shown is the user's wait
