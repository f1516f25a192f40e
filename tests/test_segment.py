import gzip
import json
import os
import re
import subprocess
import sys
from itertools import islice

import pytest

from indexer.analysis.segment import syllables, word_spans, word_spans_many
from indexer.analysis.text import is_mostly_upper
from tests import pyvi_reference
from tests.conftest import ROOT, SAMPLES, SHARED_DATA

VNTC = SHARED_DATA / "vntc_news" / "articles.jsonl.gz"
UD = SHARED_DATA / "ud_vtb_wordseg"
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t\r\f\v]*\n")  # indexer/corpus/articles.py, JSON bodies


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
    tokenized = pyvi_reference.tokenizer().tokenize(text)
    assert words == [w.replace("_", " ") for w in tokenized.split() if "_" in w]
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
    assert word_spans_many([]) == []
    assert word_spans_many(["", " ", "\n", "Hà Nội"]) == [[], [], [], word_spans("Hà Nội")]
    assert syllables("— …") == []


def sample_texts() -> list[str]:
    texts = []
    for line in (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        texts.append(article["title"])
        texts.extend(p.strip() for p in _PARAGRAPH_SPLIT.split(article["body"]) if p.strip())
    return texts


def test_word_spans_are_pyvis_on_the_sample_articles():
    """Every title and paragraph of the samples, as written and in capitals (labelled in
    lower case), one batch: the words and offsets pyvi's own labels give."""
    texts = sample_texts()
    texts += [t.upper() for t in texts[:500]]
    assert len(texts) > 3000 and sum(map(is_mostly_upper, texts)) > 450
    got = word_spans_many(texts)
    assert sum(map(len, got)) > 30_000
    for text, spans in zip(texts, got, strict=True):
        assert spans == pyvi_reference.word_spans(text), text
    assert [word_spans(t) for t in texts[:50]] == got[:50]  # alone as in a batch


@pytest.mark.data
@pytest.mark.skipif(not VNTC.is_file(), reason="needs ../shared/data/vntc_news")
def test_word_spans_are_pyvis_on_news_paragraphs():
    with gzip.open(VNTC, "rt", encoding="utf-8") as stream:
        texts = []
        for line in islice(stream, 1_500):
            body = json.loads(line).get("body") or ""
            texts += [p.strip() for p in _PARAGRAPH_SPLIT.split(body) if p.strip()]
    assert len(texts) > 10_000
    for text, spans in zip(texts, word_spans_many(texts), strict=True):
        assert spans == pyvi_reference.word_spans(text), text


@pytest.mark.data
@pytest.mark.skipif(not UD.is_dir(), reason="needs ../shared/data/ud_vtb_wordseg")
def test_word_spans_are_pyvis_on_the_gold_corpus():
    sentences = []
    for path in sorted(UD.glob("*.raw.txt")):
        sentences.extend(line for line in path.read_text(encoding="utf-8").splitlines() if line)
    assert len(sentences) > 3000
    for sentence, spans in zip(sentences, word_spans_many(sentences), strict=True):
        assert spans == pyvi_reference.word_spans(sentence), sentence


def test_segmenting_leaves_no_file_in_a_process_that_is_killed(tmp_path):
    # A pool worker ended by terminate() exits without running any clean-up; pyvi's own
    # loader wrote its model to a temporary file.
    script = (
        "import os\n"
        "from indexer.analysis.segment import word_spans\n"
        "assert word_spans('Lạng Sơn khởi động dự án')\n"
        "os._exit(0)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT)
    assert list(tmp_path.iterdir()) == []
