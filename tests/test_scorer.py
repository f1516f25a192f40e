"""The vectorised scorer must rank exactly as Whoosh's own collector does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import collectors

from indexer.analysis.text import fold
from indexer.ranking import scorer
from indexer.ranking.postings import PostingsCache, TermScores, state
from indexer.ranking.syntax import parse
from indexer.search import Filters, SearchService
from indexer.search.live_index import WEIGHTING
from indexer.storage import store

QUERIES = [
    "Lạng Sơn",
    "lang son",
    "quốc phòng an ninh",
    "quoc phong an ninh tren dia ban",
    "Ban chỉ huy quân sự huyện Đình Lập diễn tập phòng thủ",
    "UBND tỉnh",
    "ủy ban nhân dân",
    "TP HCM",
    '"Lạng Sơn" an ninh',
    '"lang son" -"Mẫu Sơn"',
    "title:Thuỷ lợi",
    'title:"an ninh" biên giới',
    "thuỷ lợi hoà giải",
    "đường",
    "duong",
    "ngày 12/3/2024 cửa khẩu",
    "kinh tế xã hội phát triển của tỉnh trong năm nay như thế nào",
    "du toan 23 03",
]


def whoosh_ranking(searcher, q, filter_query, limit):
    top = collectors.TopCollector(limit=limit, usequality=False)
    top.replace = 0  # as the product ran it: no matcher rewriting mid-search
    outer = collectors.FilterCollector(top, filter_query) if filter_query else top
    searcher.search_with_collector(q, outer)
    results = outer.results()
    return len(results), results.top_n


def assert_same(searcher, q, filter_query=None, limit=100):
    expected_total, expected = whoosh_ranking(searcher, q, filter_query, limit)
    got = scorer.search(searcher, q, WEIGHTING, PostingsCache(), limit, filter_query)
    assert got.total == expected_total
    assert [d for _, d in got.top_n] == [d for _, d in expected]
    for (a, _), (b, _) in zip(got.top_n, expected, strict=True):
        assert a == pytest.approx(b, rel=1e-9)


def plans(service, searcher):
    planner = service.index.planner(searcher, service.abbreviations)
    for text in QUERIES:
        plan = planner.plan(parse(text))
        yield text, plan


def queries_of(plan):
    """The first-stage queries of a plan: as asked, and without its quotes."""
    return [q for q in (plan.query, plan.relaxed) if q is not None]


def test_same_ranking_as_whoosh(service):
    searcher = service.index.searcher()
    checked = 0
    for _text, plan in plans(service, searcher):
        for q in queries_of(plan):
            assert_same(searcher, q)
            checked += 1
    assert checked > len(QUERIES)


def test_same_ranking_with_filters(service):
    searcher = service.index.searcher()
    filters = [
        Filters(category="Đời sống"),
        Filters(source="example.vn", date_from="2024-01-01"),
        Filters(date_from="2024-02-01", date_to="2024-03-12"),
    ]
    for _text, plan in plans(service, searcher):
        for f in filters:
            assert_same(searcher, plan.query, f.query())


def test_same_ranking_over_segments_with_deletions(tmp_path, corpus_dir):
    """Several segments, some documents deleted: offsets and deletions as Whoosh has them."""
    target = tmp_path / "index"
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    ix = store.open_index(target)
    with ix.searcher() as s:
        assert len(s.reader().leaf_readers()) > 1
    store.delete_articles(target, ["committee-full", "duong-road"])
    service = SearchService(target)
    searcher = service.index.searcher()
    assert searcher.reader().has_deletions()
    for _text, plan in plans(service, searcher):
        assert_same(searcher, plan.query)
        assert_same(searcher, plan.query, limit=3)
    service.close()


def test_phrase_needs_adjacent_syllables(service):
    """A quoted phrase matches only where its syllables stand together, in order."""
    words = service.search("lạng sơn", per_page=100).results
    holding = {hit.id for hit in words if "lang son" in fold(hit.text)}
    together = service.search('"lạng sơn"', per_page=100)
    assert holding and {hit.id for hit in together.results[: len(holding)]} == holding
    apart = service.search('"sơn lạng"')  # no passage has it: its words, with a notice
    assert apart.relaxed
    assert apart.results and all("son lang" not in fold(hit.text) for hit in apart.results)


def test_time_limit_is_enforced(service):
    searcher = service.index.searcher()
    planner = service.index.planner(searcher, service.abbreviations)
    plan = planner.plan(parse("lang son quoc phong an ninh"))
    with pytest.raises(scorer.TimeLimit):
        scorer.search(searcher, plan.query, WEIGHTING, PostingsCache(), 10, time_limit=1e-9)


def test_cache_stays_within_its_budget(service):
    searcher = service.index.searcher()
    cache = PostingsCache(max_bytes=2_000)
    planner = service.index.planner(searcher, service.abbreviations)
    for text in QUERIES:
        scorer.search(searcher, planner.plan(parse(text)).query, WEIGHTING, cache, 10)
        assert cache._bytes <= 2_000 or len(cache._items) == 1


def test_term_scores_are_kept_within_their_budget_least_recently_used_out():
    kept = TermScores(max_bytes=3 * 800)
    for name in "abc":
        kept.put((name,), np.full(100, 1.0))  # 800 bytes each
    assert kept.get(("a",)) is not None  # "a" used: "b" is now the oldest
    kept.put(("d",), np.full(100, 2.0))
    assert kept.get(("b",)) is None
    assert [kept.get((n,)) is not None for n in "acd"] == [True, True, True]
    kept.put(("huge",), np.zeros(1000))  # larger than the whole budget: not kept
    assert kept.get(("huge",)) is None and kept.get(("a",)) is not None


def test_kept_term_scores_are_the_scores_computed_afresh(service):
    """A query scored from kept whole-list scores (and parts of them, over given
    documents) gives what scoring from the postings gives."""
    searcher = service.index.searcher()
    planner = service.index.planner(searcher, service.abbreviations)
    reader_state = state(searcher.reader())
    kept = reader_state.term_scores
    try:
        for text in QUERIES:
            query = planner.plan(parse(text)).query
            reader_state.term_scores = kept
            first = scorer.search(searcher, query, WEIGHTING, service.index.postings, 20)
            again = scorer.search(searcher, query, WEIGHTING, service.index.postings, 20)
            reader_state.term_scores = TermScores(0)  # nothing kept
            fresh = scorer.search(searcher, query, WEIGHTING, service.index.postings, 20)
            assert first.top_n == again.top_n == fresh.top_n and first.total == fresh.total
    finally:
        reader_state.term_scores = kept


def test_kept_term_scores_are_kept_apart_per_weighting(service):
    """Scores kept for the product's weighting are never taken for another's."""
    from whoosh.scoring import BM25F

    searcher = service.index.searcher()
    planner = service.index.planner(searcher, service.abbreviations)
    other = BM25F(B=WEIGHTING.B, K1=WEIGHTING.K1)  # same parameters, Whoosh's own IDF
    reader_state = state(searcher.reader())
    kept = reader_state.term_scores
    try:
        for text in QUERIES:
            query = planner.plan(parse(text)).query
            reader_state.term_scores = TermScores(10_000_000)
            scorer.search(searcher, query, WEIGHTING, service.index.postings, 20)
            after = scorer.search(searcher, query, other, service.index.postings, 20)
            reader_state.term_scores = TermScores(0)  # nothing kept
            alone = scorer.search(searcher, query, other, service.index.postings, 20)
            assert after.top_n == alone.top_n, text
    finally:
        reader_state.term_scores = kept


def _subqueries(q):
    yield q
    for sub in getattr(q, "subqueries", ()):
        yield from _subqueries(sub)
    for sub in (getattr(q, "a", None), getattr(q, "b", None)):
        if sub is not None:
            yield from _subqueries(sub)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), share=st.floats(0.01, 1.0))
def test_scoring_within_documents_equals_scoring_all(service, seed, share):
    """``_within`` (AND and AND-MAYBE score only the documents left) gives, for those
    documents, what scoring every document gives."""
    searcher = service.index.searcher()
    index = scorer._Index(searcher, WEIGHTING, PostingsCache(), None)
    rng = np.random.default_rng(seed)
    ids = np.flatnonzero(rng.random(index.size) < share).astype(np.int32)
    for _text, plan in plans(service, searcher):
        for q in _subqueries(plan.query):
            all_ids, all_scores = index.evaluate(q)
            found, scores = index._within(q, ids)
            assert ids[found].tolist() == np.intersect1d(ids, all_ids).tolist()
            expected = dict(zip(all_ids.tolist(), all_scores.tolist(), strict=True))
            assert scores[found] == pytest.approx([expected[d] for d in ids[found].tolist()])
            assert not scores[~found].any()
