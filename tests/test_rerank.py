"""Second-stage ranking: what BM25 cannot see about where the query's words stand."""

from __future__ import annotations

from indexer import rerank
from indexer.articles import Article, Paragraph
from indexer.search import SearchService
from indexer.store import index_articles

WEIGHTS = {"song": 2.0, "hong": 3.0, "ha": 1.0, "noi": 1.5, "bien": 2.0}
FILLER = [
    *("người", "dân", "trong", "vùng", "vẫn", "thường", "kể", "lại"),
    *("chuyện", "cũ", "vào", "những", "buổi", "chiều", "muộn"),
]


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
