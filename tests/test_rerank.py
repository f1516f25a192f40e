"""Second-stage ranking: what BM25 cannot see about where the query's words stand."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index

from indexer.analysis.analyzers import analyse_passage
from indexer.analysis.segment import SYLLABLE_RE
from indexer.analysis.text import fold
from indexer.corpus.articles import Article, Paragraph
from indexer.ranking import rerank
from indexer.search.service import SearchService
from indexer.storage import store
from indexer.storage.schema import SCHEMA_VERSION, build_schema
from indexer.storage.store import index_articles

WEIGHTS = {"song": 2.0, "hong": 3.0, "ha": 1.0, "noi": 1.5, "bien": 2.0}
FILLER = [
    *("người", "dân", "trong", "vùng", "vẫn", "thường", "kể", "lại"),
    *("chuyện", "cũ", "vào", "những", "buổi", "chiều", "muộn"),
]


MARKS = "\u0300\u0301\u0309\u0303\u0323"
# Letters, each vowel also with a combining tone mark, digits and separators.
passages = st.lists(
    st.sampled_from(
        [*"bcdghknqtđĐ 0123456789.,-_:"]
        + [v + mark for v in "aăâeêioôơuưyAĂÂEÊIOÔƠUƯY" for mark in ["", *MARKS]]
    ),
    max_size=60,
).map("".join)


@given(passages, st.sampled_from(["NFC", "NFD"]))
def test_folded_syllables_are_those_of_the_folded_text(text, form):
    """Syllables are folded one by one (from a table) instead of folding the passage."""
    text = unicodedata.normalize(form, text)
    assert rerank.folded_syllables(text) == SYLLABLE_RE.findall(fold(text))


@settings(deadline=None)  # pyvi's first call loads its model
@given(passages, st.sampled_from(["NFC", "NFD"]))
def test_stored_syllables_are_those_re_ranking_would_cut(text, form):
    text = unicodedata.normalize(form, text)
    assert analyse_passage(text)["folded"] == rerank.folded_syllables(text)


QUERIES = ["lang son", "Lạng Sơn", "quân sự tỉnh", "hoà bình", "UBND", "biên giới"]


def test_an_index_without_stored_syllables_ranks_the_same(tmp_path, corpus_dir, fresh_index):
    """An index built before passages stored their folded syllables is still written to
    and re-ranked, from the text, in the same order with the same scores."""
    older = tmp_path / "older"
    schema = build_schema()
    schema.remove("folded")
    older.mkdir()
    whoosh_index.create_in(str(older), schema, indexname=store.INDEX_NAME)
    (older / "VERSION").write_text(f"{SCHEMA_VERSION}\n")
    assert store.update_index(older, [corpus_dir], workers=1).failed == 0

    with SearchService(older) as old, SearchService(fresh_index) as new:
        assert not any("folded" in d for d in old.searcher().all_stored_fields())
        assert all("folded" in d for d in new.searcher().all_stored_fields())
        for query in QUERIES:
            before, after = old.search(query), new.search(query)
            assert before.total > 0, query
            assert [(h.id, h.score) for h in before.results] == [
                (h.id, h.score) for h in after.results
            ], query


def test_proximity_counts_pairs_standing_next_to_each_other():
    pairs = [("song", "hong"), ("ha", "noi")]
    assert rerank.proximity(["song", "hong", "o", "ha", "x", "noi"], pairs, WEIGHTS) == 2 / 3
    assert rerank.proximity(["hong", "song", "ha", "noi"], pairs, WEIGHTS) == 1 / 3
    assert rerank.proximity([], pairs, WEIGHTS) == 0.0


def test_best_window_is_the_share_found_close_together():
    terms = ["song", "hong", "ha", "noi"]
    together = ["song", "hong", "chay", "qua", "ha", "noi"]
    assert rerank.best_window(together, terms, WEIGHTS) == 1.0
    apart = ["song", "hong", *["x"] * 30, "ha", "noi"]
    assert rerank.best_window(apart, terms, WEIGHTS) == (2.0 + 3.0) / 7.5
    assert rerank.best_window([], terms, WEIGHTS) == 0.0
    assert rerank.best_window(together, ["khong", "co"], WEIGHTS) == 0.0


def test_passage_with_the_query_in_one_sentence_ranks_first(tmp_path):
    """Same syllables, same counts, same length: only their closeness differs."""
    parts = ["Sông Hồng chảy qua", "thủ đô Hà Nội", "rồi đổ ra biển Đông."]
    close = " ".join(parts) + " " + " ".join(FILLER * 2)
    spread = f"{parts[0]} {' '.join(FILLER)} {parts[1]} {' '.join(FILLER)} {parts[2]}"
    articles = [
        Article("spread", "Tin", (Paragraph(spread),)),
        Article("close", "Tin", (Paragraph(close),)),
    ]
    index_articles(tmp_path / "ix", articles, workers=1)
    service = SearchService(tmp_path / "ix")
    page = service.search("sông Hồng chảy qua Hà Nội đổ ra biển nào")
    assert [hit.article_id for hit in page.results] == ["close", "spread"]
    service.close()


@given(st.lists(st.sampled_from([*WEIGHTS, "x", "y"]), max_size=80), st.integers(1, 30))
def test_best_window_equals_trying_every_window(syls, size):
    terms = ["song", "hong", "ha", "noi", "khong"]
    total = sum(WEIGHTS.get(t, 0.0) for t in terms)
    windows = [set(syls[i : i + size]) for i in range(max(1, len(syls)))]
    best = max(sum(WEIGHTS.get(t, 0.0) for t in w & set(terms)) for w in windows)
    assert rerank.best_window(syls, terms, WEIGHTS, size) == pytest.approx(best / total)


_SCORE_IN_A_NEW_PROCESS = """
from types import SimpleNamespace
from indexer.ranking import rerank
terms = ["sông", "hồng", "hà", "nội", "biển", "đông", "lạng", "sơn"]
terms = [rerank.folded_syllables(t)[0] for t in terms]
weights = {t: 0.1 + i * 0.137 for i, t in enumerate(terms)}
plan = SimpleNamespace(terms=terms, pairs=list(zip(terms, terms[1:])), weights=weights)
text = "sông hồng chảy qua hà nội rồi ra biển đông, xa lạng sơn"
syls = rerank.folded_syllables(text)
print(repr(rerank.scorer_for(plan)(7.0, 9.0, syls, "Biển Đông và sông Hồng")))
"""


def test_final_score_is_the_same_in_every_process():
    """Server workers hash strings differently; tied passages must still sort alike."""
    scores = {
        subprocess.run(
            [sys.executable, "-c", _SCORE_IN_A_NEW_PROCESS],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(8)
    }
    assert len(scores) == 1, scores
