from indexer.segment import pyvi_tokenize, syllables, word_spans


def test_syllable_offsets_point_into_the_text():
    text = "Chiều 26-6, ngày 12/3/2024, có 16.000 khách"
    spans = syllables(text)
    assert [s.text for s in spans] == [
        "Chiều",
        "26",
        "6",
        "ngày",
        "12",
        "3",
        "2024",
        "có",
        "16.000",
        "khách",
    ]
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_word_spans_follow_pyvi():
    text = "Đảng ủy quân sự tỉnh Lạng Sơn tổ chức hội nghị"
    words = [w.text for w in word_spans(text)]
    expected = [w.replace("_", " ") for w in pyvi_tokenize(text).split() if "_" in w]
    assert words == expected
    assert "Lạng Sơn" in words


def test_word_offsets_survive_pyvi_respacing():
    # pyvi rewrites "26-6" as "26 - 6"; our spans still point into the original text.
    text = "Chiều 26-6, Đảng ủy quân sự họp"
    for span in word_spans(text):
        assert text[span.start : span.end] == span.text


def test_capitals_are_segmented_like_lower_case():
    lower = [w.text.lower() for w in word_spans("ban chỉ huy quân sự huyện diễn tập phòng thủ")]
    upper = [w.text.lower() for w in word_spans("BAN CHỈ HUY QUÂN SỰ HUYỆN DIỄN TẬP PHÒNG THỦ")]
    assert upper == lower


def test_empty_and_punctuation_only_text():
    assert word_spans("") == []
    assert word_spans("... !!!") == []
    assert syllables("— …") == []
