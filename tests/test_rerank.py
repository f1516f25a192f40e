"""Second-stage ranking: what BM25 cannot see about where the query's words stand, and
the shipped model that weighs it."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis.analyzers import analyse_passage, folded_syllables
from indexer.analysis.segment import SYLLABLE_RE
from indexer.analysis.text import fold
from indexer.corpus.articles import Article, Paragraph
from indexer.ranking import rerank
from indexer.ranking.features import (
    FEATURES,
    WINDOW_SYLLABLES,
    Candidate,
    QueryTerms,
    likeness,
)
from indexer.ranking.features import feature_matrix as features
from indexer.search import SearchService
from indexer.storage.store import index_articles

WEIGHTS = {"song": 2.0, "hong": 3.0, "ha": 1.0, "noi": 1.5, "bien": 2.0, "khong": 1.0}
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
    assert folded_syllables(text) == SYLLABLE_RE.findall(fold(text))


@settings(deadline=None)  # pyvi's first call loads its model
@given(passages, st.sampled_from(["NFC", "NFD"]))
def test_stored_syllables_are_those_re_ranking_reads(text, form):
    text = unicodedata.normalize(form, text)
    assert analyse_passage(text)["folded"] == folded_syllables(text)


def feature(name: str, query: list[str], *passages: list[str], title: str = "") -> list[float]:
    """One feature of each passage (as folded syllables) for ``query``."""
    terms = QueryTerms.of(query, lambda s: WEIGHTS.get(s, 0.5))
    candidates = [
        Candidate(i, 1.0, {"folded": " ".join(p), "title": title}) for i, p in enumerate(passages)
    ]
    idfs = lambda syllables: np.array([WEIGHTS.get(s, 0.5) for s in syllables])  # noqa: E731
    return features(terms, candidates, idfs, 10.0)[:, FEATURES.index(name)].tolist()


def test_pair_counts_the_query_pairs_standing_next_to_each_other():
    query = ["song", "hong", "ha", "noi"]  # pairs weighted 2.0, 1.0, 1.0
    assert feature("pair", query, ["song", "hong", "o", "ha", "x", "noi"]) == [0.5]
    assert feature("pair", query, ["hong", "song", "ha", "noi"]) == [0.25]
    assert feature("pair", query, ["song", "hong", "ha", "noi"], []) == [1.0, 0.0]


def test_window_is_the_share_found_close_together():
    query = ["song", "hong", "ha", "noi"]
    together = ["song", "hong", "chay", "qua", "ha", "noi"]
    apart = ["song", "hong", *["x"] * 30, "ha", "noi"]
    assert feature("window", query, together, apart, []) == [1.0, (2.0 + 3.0) / 7.5, 0.0]
    assert feature("window", ["khong", "co"], together) == [0.0]


@given(st.lists(st.sampled_from([*WEIGHTS, "x", "y"]), max_size=80))
def test_window_equals_trying_every_window(syls):
    query = ["song", "hong", "ha", "noi", "khong"]
    total = sum(WEIGHTS[t] for t in query)
    size = WINDOW_SYLLABLES
    windows = [set(syls[i : i + size]) for i in range(max(1, len(syls)))]
    best = max(sum(WEIGHTS[t] for t in w & set(query)) for w in windows)
    assert feature("window", query, syls) == [pytest.approx(best / total)]


def test_a_passage_is_read_with_the_query_s_form_of_its_abbreviations():
    """The first stage finds "SSCĐ" for "sẵn sàng chiến đấu" (and the other way round):
    re-ranking reads the passage's form as the query's, so its evidence agrees."""
    long_form = ("san", "sang", "chien", "dau")
    terms = QueryTerms.of(list(long_form), lambda s: 1.0, [(("sscd",), long_form)])
    assert terms.read(["tuc", "truc", "sscd", "o"]) == ["tuc", "truc", *long_form, "o"]
    short = QueryTerms.of(["sscd"], lambda s: 1.0, [(long_form, ("sscd",))])
    passage = [*long_form, "va", "san", "sang"]
    assert short.read(passage) == ["sscd", "va", "san", "sang"]
    assert QueryTerms.of(["sscd"], lambda s: 1.0).read(passage) is passage
    covid = QueryTerms.of(["covid", "19"], lambda s: 1.0, [(("covid",), ("covid", "19"))])
    assert covid.read(["covid", "19", "va", "covid"]) == ["covid", "19", "va", "covid", "19"]

    def pair(equivalents, passage):
        terms = QueryTerms.of(list(long_form), lambda s: 1.0, equivalents)
        candidates = [Candidate(0, 1.0, {"folded": " ".join(passage)})]
        idfs = lambda syllables: np.ones(len(syllables))  # noqa: E731
        return features(terms, candidates, idfs, 10.0)[0, FEATURES.index("pair")]

    assert pair([(("sscd",), long_form)], ["truc", "sscd"]) == 1.0
    assert pair([], ["truc", "sscd"]) == 0.0


def test_a_query_of_one_syllable_keeps_bm25_s_order():
    """The model's evidence is about where the query's syllables stand, and it learned
    from questions and headlines: of one syllable it knows nothing BM25 does not."""
    terms = QueryTerms.of(["duong"], lambda s: 2.0)
    passages = [
        [*FILLER, "binh", "duong", *FILLER],
        ["con", "duong", "moi", "noi", "hai", "thon"],
        ["duong", *FILLER, *FILLER, *FILLER],
        [*FILLER, "duong"],
    ]
    candidates = [
        Candidate(i, 3.0 - i * 0.5, {"folded": " ".join(p)}) for i, p in enumerate(passages)
    ]
    idfs = lambda syllables: np.full(len(syllables), 2.0)  # noqa: E731
    ranked = rerank.rerank(rerank.shipped_model(), terms, candidates, idfs, 10.0)
    assert [c.place for _, c in ranked] == [0, 1, 2, 3]
    assert [score for score, _ in ranked] == sorted((s for s, _ in ranked), reverse=True)


def test_title_and_missing_word_evidence():
    query = ["song", "hong", "bien"]
    passage = ["song", "hong", "chay"]
    assert feature("title", query, passage, title="Biển Đông") == [pytest.approx(2.0 / 7.0)]
    assert feature("missing", query, passage, ["song", "hong", "bien"]) == [2.0 / 7.0, 0.0]


def test_feedback_favours_the_passage_like_the_other_good_ones():
    """Pseudo-relevance feedback: the passages of one story share words beyond the query."""
    story = ["song", "hong", "lu", "vo", "de"]
    odd = ["song", "hong", "ca", "nhac", "tre"]
    got = feature("feedback_new", ["song", "hong"], story, story, story, odd)
    assert got[0] > got[3] and got[3] == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([*WEIGHTS, "lu", "vo", "de", "ca"]), max_size=12),
        min_size=1,
        max_size=14,
    )
)
def test_feedback_is_the_cosine_with_the_mean_of_the_other_best_passages(passages):
    """Both feedback features, computed as defined: IDF-weighted sets of syllables, unit
    length, each passage against the mean of the best ten other than itself."""
    query = ["song", "hong"]
    got_all = feature("feedback", query, *passages)
    got_new = feature("feedback_new", query, *passages)

    def unit(syls, skip=()):
        vector = {s: WEIGHTS.get(s, 0.5) for s in syls}
        norm = sum(w * w for w in vector.values()) ** 0.5 or 1.0
        return {s: w / norm for s, w in vector.items() if s not in skip}

    best = range(min(10, len(passages)))
    for i, syls in enumerate(passages):
        others = [j for j in best if j != i] or [None]
        for got, skip in ((got_all, ()), (got_new, set(query))):
            mine = unit(syls, skip)
            want = sum(
                sum(w * unit(passages[j]).get(s, 0.0) for s, w in mine.items())
                for j in others
                if j is not None
            ) / len(others)
            assert got[i] == pytest.approx(want, abs=1e-12)


def _unit(syls):
    vector = {s: WEIGHTS.get(s, 0.5) for s in syls}
    norm = sum(w * w for w in vector.values()) ** 0.5 or 1.0
    return {s: w / norm for s, w in vector.items()}


def _candidates(passages, scores=None):
    scores = scores or [1.0] * len(passages)
    return [
        Candidate(i, score, {"folded": " ".join(p)})
        for i, (p, score) in enumerate(zip(passages, scores, strict=True))
    ]


def _idfs(syllables):
    return np.array([WEIGHTS.get(s, 0.5) for s in syllables])


syllable_lists = st.lists(
    st.lists(st.sampled_from([*WEIGHTS, "lu", "vo", "de", "ca"]), max_size=12), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(syllable_lists, syllable_lists)
def test_likeness_is_the_cosine_with_the_mean_of_the_best_passages(best, others):
    got = likeness(_candidates(best), _candidates(others), _idfs)
    assert len(got) == len(others)
    for i, syls in enumerate(others):
        mine = _unit(syls)
        want = sum(sum(w * _unit(b).get(s, 0.0) for s, w in mine.items()) for b in best) / max(
            len(best), 1
        )
        assert got[i] == pytest.approx(want, abs=1e-12)


def test_feedback_orders_by_bm25_and_likeness_to_the_best():
    """Below the re-ranked passages, one of the story's passages passes one with a little
    more BM25 that is about something else; with equal likeness BM25 decides."""
    story = ["song", "hong", "lu", "vo", "de"]
    best = _candidates([story] * 10)
    pool = _candidates(
        [["song", "ca", "nhac", "tre"], ["song", "lu", "vo", "de"], ["song", "lu", "vo", "de"]],
        [3.0, 2.8, 2.9],
    )
    ordered = rerank.by_feedback(best, pool, 4.0, _idfs)
    assert [c.score for _, c in ordered] == [2.9, 2.8, 3.0]


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
    with SearchService(tmp_path / "ix") as service:
        page = service.search("sông Hồng chảy qua Hà Nội đổ ra biển nào")
    assert [hit.article_id for hit in page.results] == ["close", "spread"]


def test_the_shipped_model_reads_these_features():
    model = rerank.shipped_model()
    assert tuple(model.booster.feature_name()) == FEATURES
    good = feature("base", ["song"], ["song"])  # any row: the model scores it
    assert np.isfinite(model.scores(np.array([good * len(FEATURES)]))).all()


def test_a_model_trained_on_other_features_is_refused(tmp_path):
    lines = (rerank.shipped_model_path().read_text()).replace(
        "feature_names=base", "feature_names=other"
    )
    path = tmp_path / "ranker.txt"
    path.write_text(lines)
    with pytest.raises(ValueError, match="other features"):
        rerank.RankingModel(path)


_SCORE_IN_A_NEW_PROCESS = """
from indexer.analysis.analyzers import folded_syllables
from indexer.ranking import rerank
from indexer.ranking.features import Candidate, QueryTerms
terms = folded_syllables("sông hồng hà nội biển đông lạng sơn")
weights = {t: 0.1 + i * 0.137 for i, t in enumerate(terms)}
query = QueryTerms.of(terms, weights.get)
texts = ["sông hồng chảy qua hà nội rồi ra biển đông, xa lạng sơn", "biển đông và sông hồng"]
candidates = [
    Candidate(i, 9.0 - i, {"folded": " ".join(folded_syllables(t)), "title": "Biển Đông"})
    for i, t in enumerate(texts)
]
model = rerank.shipped_model()
idfs = lambda syllables: [weights.get(s, 1.0) for s in syllables]
ranked = rerank.rerank(model, query, candidates, idfs, 12.0)
print(repr([(score, c.place) for score, c in ranked]))
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


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.sampled_from([*WEIGHTS, "x"]), min_size=1, max_size=8),
    st.lists(st.lists(st.sampled_from([*WEIGHTS, "x", "y"]), max_size=40), min_size=1, max_size=6),
)
def test_passage_measures_equal_their_definitions(query, passages):
    """The measures computed for all candidates at once equal each one's definition,
    computed passage by passage."""
    weight = {t: WEIGHTS.get(t, 0.5) for t in query}
    distinct = list(dict.fromkeys(query))
    total = sum(weight[t] for t in distinct)

    def longest_run(syls):
        best = 0.0
        for i in range(len(query)):
            for p in range(len(syls)):
                j = 0
                while i + j < len(query) and p + j < len(syls) and syls[p + j] == query[i + j]:
                    j += 1
                if j > 1:
                    best = max(best, sum(weight[t] for t in query[i : i + j]))
        return best / total

    def bm25(syls, b):
        norm = 1.2 * (1 - b + b * len(syls) / 10.0)
        tf = {t: syls.count(t) for t in distinct}
        return sum(weight[t] * f * 2.2 / (f + norm) for t, f in tf.items() if f) / total

    expected = {
        "run": [longest_run(p) for p in passages],
        "coverage": [sum(weight[t] for t in distinct if t in p) / total for p in passages],
        "count": [sum(t in p for t in distinct) / len(distinct) for p in passages],
        "first": [
            next((i / len(p) for i, s in enumerate(p) if s in weight), 1.0) for p in passages
        ],
        "density": [sum(s in weight for s in p) / len(p) if p else 0.0 for p in passages],
        "bm25_b09": [bm25(p, 0.9) for p in passages],
        "bm25_b05": [bm25(p, 0.5) for p in passages],
        "missing": [
            max((weight[t] for t in distinct if t not in p), default=0.0) / total for p in passages
        ],
    }
    for name, want in expected.items():
        assert feature(name, query, *passages) == pytest.approx(want, abs=1e-12), name
