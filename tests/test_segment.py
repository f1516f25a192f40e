import json
import os
import subprocess
import sys

import pytest

from indexer.analysis import segment
from indexer.analysis.segment import pyvi_tokenize, syllables, word_spans
from tests.conftest import ROOT, SAMPLES, SHARED_DATA


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


def pyvi_labels(tokens: list[str]) -> list[str]:
    """pyvi's own feature extraction and prediction, as ``ViTokenizer.tokenize`` runs them."""
    tokenizer = segment._pyvi()
    return list(tokenizer.model.predict([tokenizer.sent2features(tokens, False)])[0])


def sample_texts() -> list[str]:
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    texts = []
    for line in lines[:60]:
        article = json.loads(line)
        texts.append(article["title"])
        texts.extend(p for p in article["body"].split("\n\n") if p.strip())
    return texts


def test_fast_features_give_pyvis_labels_on_sample_articles():
    checked = 0
    for text in sample_texts():
        _, tokens = segment._pyvi().sylabelize(text)
        if tokens:
            assert list(segment.labels(tokens)) == pyvi_labels(tokens), text
            lowered = [t.lower() for t in tokens]
            assert list(segment.labels(lowered)) == pyvi_labels(lowered), text
            checked += 1
    assert checked > 300


@pytest.mark.data
@pytest.mark.skipif(
    not (SHARED_DATA / "ud_vtb_wordseg").is_dir(), reason="needs ../shared/data/ud_vtb_wordseg"
)
def test_fast_features_give_pyvis_labels_on_the_gold_corpus():
    sentences = []
    for path in sorted((SHARED_DATA / "ud_vtb_wordseg").glob("*.raw.txt")):
        sentences.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line)
    assert len(sentences) > 3000
    for sentence in sentences:
        _, tokens = segment._pyvi().sylabelize(sentence)
        if tokens:
            assert list(segment.labels(tokens)) == pyvi_labels(tokens), sentence


def test_pyvi_leaves_no_model_file_in_a_process_that_is_killed(tmp_path):
    # A pool worker ended by terminate() exits without running any clean-up.
    script = (
        "import os\n"
        "from indexer.analysis.segment import word_spans\n"
        "assert word_spans('Lạng Sơn khởi động dự án')\n"
        "os._exit(0)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
    assert list(tmp_path.iterdir()) == []
