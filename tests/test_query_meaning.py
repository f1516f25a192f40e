"""What a query means, on small indexes where the passage that must win is known.

Each index is built so that the wrong reading of the query would win: distractors hold
one of the query's words many times in short passages, which plain BM25 over that one
word ranks first.
"""

from __future__ import annotations

import pytest

from indexer.corpus.articles import Article, Paragraph
from indexer.ranking.rerank import DEPTH
from indexer.search import Page, SearchService
from indexer.search.errors import SearchTimeout
from indexer.search.fanout import LocalShards
from indexer.storage.store import index_articles

TWO_WORD_QUERIES = {
    # query: (a passage holding both words, a word of the query the distractors repeat)
    "máy bay": ("Chiếc máy bay hạ cánh an toàn xuống sân bay sau chuyến đi dài.", "bay"),
    "giá dầu": ("Giá dầu thế giới tăng mạnh trong phiên giao dịch hôm qua.", "giá"),
    "bắt đầu": ("Năm học mới bắt đầu từ tuần sau ở nhiều tỉnh thành.", "bắt"),
    "ha noi": ("Người dân Hà Nội đón không khí lạnh đầu mùa sáng nay.", "hà"),
}


def _index(folder, texts: dict[str, str], titles: dict[str, str] | None = None) -> SearchService:
    titles = titles or {}
    articles = [
        Article(key, titles.get(key, "Tin tức"), (Paragraph(text),)) for key, text in texts.items()
    ]
    index_articles(folder, articles, workers=1)
    return SearchService(folder)


def _other_news(count: int = 30) -> dict[str, str]:
    """Passages holding no word of the queries: enough of them that a word the queries'
    passages share is not in a large share of the index."""
    return {f"filler{i}": f"Thời tiết hôm nay nắng nhẹ, tin số {i}." for i in range(count)}


def _ranked(folder, texts: dict[str, str], query: str) -> tuple[list[str], Page]:
    """(the article ids of every result of ``query``, best first; the page)."""
    with _index(folder, texts) as service:
        page = service.search(query, per_page=50)
    return [hit.article_id for hit in page.results], page


@pytest.mark.parametrize("query", TWO_WORD_QUERIES)
def test_two_word_query_puts_the_passage_with_both_words_first(tmp_path, query):
    both, repeated = TWO_WORD_QUERIES[query]
    texts = {"both": both}
    for i in range(6):  # short passages repeating one of the words, without the other
        texts[f"one{i}"] = f"{repeated.capitalize()} {repeated} {repeated} lần thứ {i}."
    with _index(tmp_path / "ix", texts) as service:
        results = service.search(query).results
    assert results[0].article_id == "both", [hit.text for hit in results]


def test_all_words_first_then_most_words_never_cut_off(tmp_path):
    """A question whose words all meet in a few passages still lists those that lack one."""
    texts = {
        "all": "Đội tuyển bóng đá Việt Nam thắng trận chung kết.",
        "three-a": "Đội tuyển bóng đá nữ tập luyện cho trận chung kết.",
        "three-b": "Bóng đá Việt Nam có trận đấu đầu tiên.",
        "two": "Trận đấu bóng chuyền diễn ra chiều qua.",
        "none": "Thời tiết hôm nay nắng nhẹ.",
        # Enough other news that no word of the query is in a large share of passages
        # (those only add to passages the rarer words found).
        **{f"filler{i}": f"Tin vắn số {i} về thời tiết trong ngày." for i in range(40)},
    }
    with _index(tmp_path / "ix", texts) as service:
        page = service.search("bóng đá Việt Nam chung kết")
    ranked = [hit.article_id for hit in page.results]
    assert ranked[0] == "all"
    assert set(ranked[1:3]) == {"three-a", "three-b"}  # most of the words, after all of them
    assert ranked[3] == "two" and "none" not in ranked
    assert page.total == 4


def test_a_passage_found_only_through_its_articles_title(tmp_path):
    """``X sinh năm nào`` with X the article's subject, named in its title only."""
    texts = {
        "subject": "Ông sinh năm 1890 tại một làng nhỏ ven sông.",
        "other": "Năm nay mùa lúa được giá, nông dân phấn khởi.",
        **{f"filler{i}": f"Tin vắn số {i} trong ngày." for i in range(5)},
    }
    titles = {"subject": "Tiểu sử Trần Quang Khải"}
    with _index(tmp_path / "ix", texts, titles) as service:
        results = service.search("Trần Quang Khải sinh năm nào").results
    assert results[0].article_id == "subject", [hit.text for hit in results]


def test_quoted_phrase_that_matches_nothing_falls_back_to_its_words(tmp_path):
    texts = {
        "said": "Bộ trưởng nói sẽ không có bất kỳ ngoại lệ nào trong năm nay.",
        "other": "Thời tiết hôm nay nắng nhẹ.",
    }
    with _index(tmp_path / "ix", texts) as service:
        exact = service.search('"sẽ không có bất kỳ ngoại lệ nào"')
        pasted = service.search('Bộ trưởng nói: "Sẽ không có ngoại lệ nào"')
    assert not exact.relaxed and exact.results[0].article_id == "said"
    assert pasted.relaxed  # worded a little differently: its words, and the page says so
    assert pasted.results[0].article_id == "said"


def test_words_of_a_form_with_an_abbreviation_count_one_by_one(tmp_path):
    """ "Bộ Y tế" also means BYT, but a passage about the "Sở Y tế" still holds "y tế":
    each of the form's words counts, as every other word of the query does."""
    texts = {
        "story": "Sở Y tế cho biết sẽ kiểm tra.",
        **{f"check{i}": f"Bộ phận kiểm tra kiểm tra hồ sơ số {i}." for i in range(3)},
        **_other_news(),
    }
    with _index(tmp_path / "ix", texts) as service:
        found = service.first_stage("Bộ Y tế kiểm tra").found  # BM25's own order
        results = service.search("Bộ Y tế kiểm tra").results
    assert found[0].article_id == "story", [p.article_id for p in found]
    assert results[0].article_id == "story", [hit.text for hit in results]


def test_a_passage_writing_the_abbreviation_of_the_query_holds_its_words(tmp_path):
    """SSCĐ is "sẵn sàng chiến đấu": a passage that writes it answers the query better
    than one holding only "chiến đấu", and re-ranking must see that as the first stage
    does."""
    texts = {
        "abbr": "Các đơn vị duy trì nghiêm chế độ trực SSCĐ trong dịp lễ.",
        "part": "Bộ tư lệnh chiến đấu của quân đội Mỹ công bố kỹ thuật mới.",
        **_other_news(),
    }
    with _index(tmp_path / "ix", texts) as service:
        stage = service.first_stage("sẵn sàng chiến đấu")
        results = service.search("sẵn sàng chiến đấu").results
    assert (("sscd",), ("san", "sang", "chien", "dau")) in stage.equivalents
    assert results[0].article_id == "abbr", [hit.text for hit in results]


def test_a_quoted_part_without_marks_in_an_accented_query_means_what_it_says(tmp_path):
    """``".com"`` in a headline typed with accents is the domain, not cơm or cốm."""
    texts = {
        "domain": "Tên miền .com của VeriSign được gia hạn thêm năm năm nữa.",
        "other": "Các công ty đăng ký tên miền .com nhiều hơn năm ngoái.",
        **{f"rice{i}": f"Tên miền mới, cơm tên miền, cốm tên miền {i}." for i in range(6)},
        **_other_news(),
    }
    ids, page = _ranked(tmp_path / "ix", texts, 'tên miền ".com" được gia hạn')
    assert set(ids[:2]) == {"domain", "other"}, ids  # the phrase as typed first
    assert page.relaxed and set(ids[2:]) == {f"rice{i}" for i in range(6)}


def test_passages_without_a_quoted_phrase_follow_those_with_it_never_cut_off(tmp_path):
    """A headline's "scare quotes": many passages hold the phrase, but fewer than are
    ranked; the story's other passages, which never quote it, still follow them."""
    texts = {f"quoted{i}": f"Một nhân viên thuế biến mất, tin số {i}." for i in range(15)}
    texts["story"] = "Tiểu thương ở chợ lo lắng khi nhân viên thuế nghỉ việc không báo."
    texts["other"] = "Thời tiết hôm nay nắng nhẹ."
    ids, page = _ranked(tmp_path / "ix", texts, 'Tiểu thương lo lắng vì nhân viên thuế "biến mất"')
    assert set(ids[:15]) == {f"quoted{i}" for i in range(15)}  # the phrase as written first
    assert "story" in ids[15:] and page.relaxed and page.total == len(ids)


@pytest.mark.parametrize(
    ("query", "kept"),
    [("máy bay", "máy"), ("mấy giờ máy bay cất cánh", "máy"), ("giá dầu", "dầu")],
)
def test_question_words_are_matched_in_their_accented_form_only(tmp_path, query, kept):
    """``mấy``, ``đâu`` are question words; ``máy``, ``dầu``, ``đầu`` are not."""
    texts = {
        "answer": "Máy bay cất cánh lúc bảy giờ, giá dầu không đổi.",
        "other": "Bay qua núi, giá cả ổn định, cất cánh sớm.",
    }
    with _index(tmp_path / "ix", texts) as service:
        searcher = service.index.searcher()
        planner = service.index.planner(searcher, service.abbreviations)
        assert kept in planner.content_syllables(query)
        assert "mấy" not in planner.content_syllables("mấy giờ máy bay cất cánh")
        assert service.search(query).results[0].article_id == "answer"


def _story(folder) -> None:
    """An index where ``giá xăng`` finds a story in ten short paragraphs, an eleventh that
    names only *giá*, once, in a long text, and 150 short news items naming *giá* too."""
    story = "Petrolimex quỹ bình ổn Bộ Công Thương điều hành kỳ điều chỉnh"
    best = [Paragraph(f"Giá xăng giảm lần {i}: {story}.") for i in range(10)]
    far = Paragraph(
        f"Theo {story}, {story}, mức giá mới áp dụng từ ba giờ chiều, "
        "sau khi liên bộ họp bàn cùng các đầu mối nhập khẩu và doanh nghiệp bán lẻ."
    )
    articles = [Article("story", "Tin kinh tế", (*best, far))]
    articles += [
        Article(f"other{i}", "Tin tức", (Paragraph(f"Giá vàng phiên {i} đi ngang, số {i}."),))
        for i in range(150)
    ]
    index_articles(folder, articles, workers=1)


def test_a_page_below_the_fifty_brings_up_the_other_paragraphs_of_the_story(tmp_path):
    """Pseudo-relevance feedback below the re-ranked passages: a paragraph of the story
    the best passages tell, which names the query's word once in a long text, passes
    short passages that name it too but are about something else."""
    _story(tmp_path / "ix")
    with SearchService(tmp_path / "ix") as service:
        by_bm25 = [(p.article_id, p.paragraph) for p in service.first_stage("giá xăng", 300).found]
        deep = service.search("giá xăng", per_page=100).results
        sixth = service.search("giá xăng", page=6, per_page=10).results
        # Fewer than fifty articles among the re-ranked passages: the page grouped by
        # article orders the others as the ranking does, feedback included.
        grouped = service.search("giá xăng", per_page=50, group="article").results
        undated = service.search("giá xăng", per_page=100, sort="date").results
    assert 100 <= by_bm25.index(("story", 10)) < 200  # plain BM25 leaves it off the page
    ranked = [(hit.article_id, hit.paragraph) for hit in deep]
    assert ("story", 10) in ranked[10:60], ranked
    assert [hit.id for hit in sixth] == [hit.id for hit in deep[50:60]]
    firsts = list(dict.fromkeys(hit.article_id for hit in deep))
    assert [hit.article_id for hit in grouped] == firsts[:50]
    assert [hit.id for hit in undated] == [hit.id for hit in deep]  # no dates: ties throughout


def test_scores_never_rise_down_a_deep_page_of_a_relaxed_phrase(tmp_path):
    """A quoted phrase found in too few passages is followed by its words: passages that
    hold them apart, short ones with more BM25 than the best with the phrase, ordered by
    feedback below the re-ranked fifty. The scores shown still fall down the page."""
    story = "Petrolimex quỹ bình ổn Bộ Công Thương điều hành kỳ điều chỉnh"
    sport = "bóng đá đội tuyển huấn luyện viên trận đấu sân vận động khán giả " * 3
    texts = {f"phrase{i}": f"Giá xăng giảm lần {i}: {story}." for i in range(35)}
    texts |= {f"long{i}": f"giá xăng {i} {sport}" for i in range(10)}
    texts |= {f"apart{i}": f"Xăng {story} có giá mới lần {i}." for i in range(200)}
    with _index(tmp_path / "ix", texts) as service:
        page = service.search('"giá xăng"', per_page=100)
    assert page.relaxed and len(page.results) == 100
    assert any(hit.article_id.startswith("apart") for hit in page.results[50:])
    scores = [hit.score for hit in page.results]
    assert scores == sorted(scores, reverse=True)


def test_a_quoted_phrase_counts_and_orders_alike_on_every_page(tmp_path):
    """Whether a phrase's words follow it depends on how many passages hold it, not on
    the page asked: a phrase in sixty passages (more than are re-ranked) gives the same
    count, the same notice and the same order on the first page and on deeper ones."""
    texts = {f"phrase{i}": f"Giá xăng giảm lần {i} theo kỳ điều chỉnh." for i in range(60)}
    texts |= {f"apart{i}": f"Xăng có giá mới lần {i}." for i in range(40)}
    with _index(tmp_path / "ix", texts) as service:
        first = service.search('"giá xăng"')
        sixth = service.search('"giá xăng"', page=6)
        deep = service.search('"giá xăng"', per_page=100)
    assert (first.total, first.relaxed) == (sixth.total, sixth.relaxed) == (60, False)
    assert (deep.total, deep.relaxed) == (60, False)
    assert [hit.id for hit in deep.results[:10]] == [hit.id for hit in first.results]
    assert [hit.id for hit in deep.results[50:60]] == [hit.id for hit in sixth.results]


class _NoTimeForFeedback(LocalShards):
    """A plain index whose search runs out of time when a page is made again to order
    feedback's candidates (the shard's own time limit, as on a slow machine)."""

    def each(self, method, args, timeout=None):
        arrangement = args[0][0].arrangement if method == "search" else None
        if arrangement is not None and arrangement.placed > DEPTH:
            raise SearchTimeout("the search took longer than 2 s")
        return super().each(method, args, timeout)


def test_a_grouped_page_stands_when_ordering_feedbacks_candidates_runs_out_of_time(tmp_path):
    _story(tmp_path / "ix")
    with SearchService(tmp_path / "ix") as service:
        first = service.search("giá xăng", per_page=50, group="article", facets=True)
    with SearchService(tmp_path / "ix", shards=_NoTimeForFeedback([tmp_path / "ix"])) as slow:
        page = slow.search("giá xăng", per_page=50, group="article", facets=True)
    assert len(page.results) == 50 and page.results[0].article_id == "story"
    assert page.total == first.total and page.facets == first.facets
