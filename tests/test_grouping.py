"""One result per article, newest first and facet counts, checked against the plain
passage ranking of the same query over the same real index."""

from __future__ import annotations

from collections import Counter

import pytest

from indexer.search import BadRequest, Filters

QUERIES = ["lang son", "và", "quốc phòng", '"Lạng Sơn quốc phòng"', "duong"]


def every_passage(service, query, **kwargs):
    """The whole passage ranking of ``query``, page after page."""
    hits, page = [], 1
    while True:
        found = service.search(query, page=page, per_page=100, **kwargs)
        hits.extend(found.results)
        if page >= found.pages:
            return hits, found
        page += 1


def every_article(service, query, per_page, **kwargs):
    hits, page = [], 1
    while True:
        found = service.search(query, page=page, per_page=per_page, group="article", **kwargs)
        hits.extend(found.results)
        if page >= found.pages:
            return hits, found
        page += 1


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_one_result_per_article_is_its_best_passage_and_pages_are_exact(service, query, sort):
    passages, plain = every_passage(service, query, sort=sort)
    best: dict[str, str] = {}
    for hit in passages:
        best.setdefault(hit.article_id, hit.id)
    per_article = Counter(hit.article_id for hit in passages)
    grouped, page = every_article(service, query, per_page=3, sort=sort)
    assert [hit.article_id for hit in grouped] == list(best)  # each once, in order
    assert [hit.id for hit in grouped] == list(best.values())
    assert [hit.more for hit in grouped] == [per_article[a] - 1 for a in best]
    assert page.articles == len(best) and page.total == plain.total == len(passages)


def test_grouping_folds_the_paragraphs_of_one_article(service):
    plain = service.search("lang son", per_page=4).results
    assert len({hit.article_id for hit in plain}) < 4  # several passages of one article
    grouped = service.search("lang son", per_page=4, group="article").results
    assert len({hit.article_id for hit in grouped}) == len(grouped) == 4
    assert grouped[0].more >= 3


@pytest.mark.parametrize("query", ["duong", "duong và an ninh", "lang son"])
def test_newest_first_then_undated_ties_by_relevance(service, query):
    relevance, _ = every_passage(service, query)
    by_date, _ = every_passage(service, query, sort="date")
    assert sorted(h.id for h in by_date) == sorted(h.id for h in relevance)
    dates = [hit.date for hit in by_date]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True) and dated
    assert dates == dated + [None] * (len(dates) - len(dated))  # undated last
    place = {hit.id: i for i, hit in enumerate(relevance)}
    for date in set(dates):
        same_day = [place[h.id] for h in by_date if h.date == date]
        assert same_day == sorted(same_day)  # ties keep the relevance order


def test_the_plain_ranking_is_the_same_with_facets(service):
    plain = service.search("quốc phòng", per_page=30)
    counted = service.search("quốc phòng", per_page=30, facets=True)
    assert [h.id for h in counted.results] == [h.id for h in plain.results]
    assert [h.score for h in counted.results] == [h.score for h in plain.results]
    assert plain.facets is None and counted.facets is not None


@pytest.mark.parametrize("group", ["passage", "article"])
@pytest.mark.parametrize(
    "filters", [None, Filters(source="example.vn"), Filters(date_from="2024-03-01")]
)
def test_facet_counts_are_those_of_the_results(service, group, filters):
    passages, _ = every_passage(service, "duong và lang son", filters=filters)
    page = service.search("duong và lang son", group=group, facets=True, filters=filters)
    if group == "article":
        firsts = {}
        for hit in passages:
            firsts.setdefault(hit.article_id, hit)
        counted = list(firsts.values())
    else:
        counted = passages
    expected = {
        "category": Counter(h.category for h in counted if h.category),
        "source": Counter(h.source for h in counted if h.source),
        "date": Counter(h.date[:7] for h in counted if h.date),
    }
    for name, counts in expected.items():
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        assert list(page.facets[name].items()) == top, name
    if group == "article":
        assert page.articles == len({h.article_id for h in passages})
    else:
        assert page.articles is None  # counted only where the page is arranged


def test_facets_of_no_match_are_empty(service):
    page = service.search("zzqqxx", facets=True, group="article")
    assert page.facets == {"category": {}, "source": {}, "date": {}}
    assert page.articles == 0 and page.results == ()


@pytest.mark.parametrize(("name", "value"), [("group", "paragraph"), ("sort", "newest")])
def test_unknown_group_or_sort_is_a_bad_request(service, name, value):
    with pytest.raises(BadRequest, match=name):
        service.search("lang son", **{name: value})


def test_article_lists_and_highlights_the_paragraphs_a_query_matches(service):
    view = service.article("000_e79570c1fe97e7a4", "lang son")
    plain = every_passage(service, "lang son")[0]
    expected = sorted(h.paragraph for h in plain if h.article_id == view.id)
    assert list(view.matches) == expected
    marked = [p["paragraph"] for p in view.paragraphs if "<mark>" in p["highlight"]]
    assert set(marked) <= set(view.matches) and marked
    assert service.article(view.id).matches == ()


def test_a_new_commit_is_counted_on_the_next_search(fresh_index, tmp_path):
    from indexer.search import SearchService
    from indexer.storage.store import update_index

    with SearchService(fresh_index, result_cache=0) as service:
        before = service.search("kỳ lân", facets=True)
        new = tmp_path / "new.jsonl"
        new.write_text(
            '{"id": "k1", "title": "Kỳ lân", "body": "Kỳ lân.\\n\\nKỳ lân xanh.", '
            '"source": "moi.vn", "date": "2025-05-05"}\n',
            encoding="utf-8",
        )
        update_index(fresh_index, [new])
        service.index.close()  # reopen at once instead of within a second
        after = service.search("kỳ lân", facets=True, group="article")
        assert "moi.vn" not in before.facets["source"]
        assert after.facets["source"]["moi.vn"] == 1 and after.facets["date"]["2025-05"] == 1
        assert after.results[0].article_id == "k1" and after.results[0].more == 1


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 7, 500, 9000, 20000])
def test_partial_ordering_equals_a_full_sort(seed, k):
    """Many ties on the first keys, as dates and rank bands have: the partition path."""
    import numpy as np

    from indexer.search.ordering import smallest as _smallest

    rng = np.random.default_rng(seed)
    size = 12_000
    keys = [
        -rng.integers(0, 4, size) * 10_000_000,  # a handful of dates
        rng.integers(0, 3, size).astype(np.int32),  # bands
        -np.round(rng.random(size), 2),  # scores with ties
        rng.permutation(size),  # document numbers: unique
    ]
    expected = np.lexsort(keys[::-1])[:k]
    assert _smallest(keys, k).tolist() == expected.tolist()
