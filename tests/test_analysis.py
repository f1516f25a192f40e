import pytest

from indexer.analysis.analyzers import (
    analyse_passage,
    analyse_passages,
    analyse_syllables,
    folded_syllables,
    syllable_analyzer,
    word_analyzer,
)
from tests import pyvi_reference
from tests.test_segment import sample_texts


def test_syllable_analyzer_is_canonical():
    tokens = [t.text for t in syllable_analyzer()("Hoà bình THUỶ lợi Lạng Sơn")]
    assert tokens == ["hòa", "bình", "thủy", "lợi", "lạng", "sơn"]


def test_english_stop_words_are_not_dropped():
    # Whoosh's StandardAnalyzer turns "an ninh" into "ninh"; "ở" is a word too.
    assert analyse_syllables("an ninh ở biên giới") == ["an", "ninh", "ở", "biên", "giới"]


def test_word_analyzer_gives_pyvi_words():
    words = [t.text for t in word_analyzer()("Đảng ủy quân sự tỉnh Lạng Sơn")]
    assert words == ["đảng_ủy", "quân_sự", "lạng_sơn"]


@pytest.mark.parametrize(
    "text",
    [
        "Chiều 26-6, Đảng ủy quân sự tỉnh Lạng Sơn tổ chức hội nghị.",
        "Tăng cường quốc phòng và kết quả thực hiện nhiệm vụ",
        "BAN CHỈ HUY QUÂN SỰ HUYỆN ĐÌNH LẬP",
        "Công trình thuỷ lợi giúp hoà giải",
    ],
)
def test_worker_analysis_equals_the_schema_analyzers(text):
    views = analyse_passage(text)
    assert views["text"] == [t.text for t in syllable_analyzer()(text)]
    assert views["word"] == [t.text for t in word_analyzer()(text)]
    assert views["folded"] == folded_syllables(text)


def test_analysis_keeps_positions_and_chars():
    tokens = [
        (t.text, t.pos, t.startchar, t.endchar)
        for t in syllable_analyzer()("Hà Nội: 26-6", positions=True, chars=True)
    ]
    assert tokens == [("hà", 0, 0, 2), ("nội", 1, 3, 6), ("26", 2, 8, 10), ("6", 3, 11, 12)]


def test_passages_are_analysed_as_with_pyvis_tagger():
    """Every sample title and paragraph, as written and in capitals, and numbers that run
    on from a word into the next of pyvi's tokens ("x_1.5": one syllable "1.5" across
    "x_1", "." and "5"), where the words' syllables are found by their offsets instead."""
    texts = sample_texts()
    texts += [t.upper() for t in texts[:300]]
    texts += [
        "Ông Trần x_1.5 Hà Nội đồng ý",
        "Phố Hàng_2,5 Bài Hà Nội",
        "mã AB_12.3.4 của Việt Nam",
    ]
    got = analyse_passages(texts)
    assert any(w.startswith("trần_x_1.5") for w in got[-3]["word"])
    for text, views in zip(texts, got, strict=True):
        assert views == pyvi_reference.analyse_passage(text), text
