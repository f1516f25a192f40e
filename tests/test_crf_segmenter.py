"""The batched segmenter gives pyvi's output exactly: real pyvi on both sides, no mocks."""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from itertools import islice

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.analysis import crf as crfseg
from indexer.analysis.crf import TieCount, pyvi_rules, viterbi
from indexer.analysis.crf.features import NgramIndex
from indexer.analysis.crf.model import read_crfsuite, read_pyvi_pickle
from indexer.analysis.segment import word_spans
from indexer.analysis.text import is_mostly_upper
from indexer.cli import main
from tests.conftest import SAMPLES, SHARED_DATA

VNTC = SHARED_DATA / "vntc_news" / "articles.jsonl.gz"
UD = SHARED_DATA / "ud_vtb_wordseg"
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t\r\f\v]*\n")  # indexer/articles.py, for JSON bodies


@pytest.fixture(scope="module")
def pyvi():
    from pyvi.ViTokenizer import ViTokenizer

    return ViTokenizer


@pytest.fixture(scope="module")
def segmenter():
    return crfseg.Segmenter.from_pyvi()


def paragraphs_of(lines) -> list[str]:
    out = []
    for line in lines:
        body = json.loads(line).get("body") or ""
        out += [p.strip() for p in _PARAGRAPH_SPLIT.split(body) if p.strip()]
    return out


EDGE_CASES = {
    "empty": "",
    "space": " ",
    "whitespace only": " \t \u00a0\u2028 ",
    "newline only": "\n",
    "newlines inside": "Hà Nội\nlà thủ đô\n\ncủa Việt Nam",
    "capitals": "BAN CHỈ HUY QUÂN SỰ HUYỆN ĐÌNH LẬP DIỄN TẬP PHÒNG THỦ",
    "title case": "Ủy Ban Nhân Dân Tỉnh Cao Bằng Họp Phiên Thường Kỳ",
    "emoji": "Hà Nội 😀 là 👍🏽 thủ đô 🇻🇳 của Việt Nam❤️",
    "nfd": unicodedata.normalize("NFD", "Sương muối phủ trắng đỉnh Mẫu Sơn sáng nay."),
    "nfd whitespace": unicodedata.normalize("NFD", "  \u0301 \u2000"),
    "digits and punctuation": "Ngày 26-6-2024, 12/3 lúc 7h30: 16.000 người (3,5%) ... ==> >>",
    "runs": "1234567890" * 30 + " " + "!?.,;:" * 40 + " " + "...." * 20,
    "abbreviations": "TP. HCM, Tp.Hà Nội, Mr. Smith, ThS. Nguyễn, UBND. Dr.No",
    "web and email": "Xem http://vnexpress.net/a-b?c=1 hoặc gửi thu.ha@gmail.com.",
    "underscores": "12_34ab 1_2 _a_ a_b Hà_Nội",
    "other scripts": "ΑΣ ΣΑ Σ İstanbul Ǆ ǅ ﬁ Ⅻ ² ١٢٣ 東京 עברית",
    "controls": "a\x00b \x00 c\x1cd\x85e\u200df",
    "long": " ".join(["Chủ tịch Ủy ban nhân dân thành phố Hà Nội"] * 800),
    "no spaces": "Hànộilàthủđôcủaviệtnam" * 50,
}


@pytest.mark.parametrize("text", list(EDGE_CASES.values()), ids=list(EDGE_CASES))
def test_edge_cases_identical_to_pyvi(pyvi, segmenter, text):
    assert segmenter.tokenize(text) == pyvi.tokenize(text)


def test_batched_like_one_by_one(pyvi, segmenter):
    texts = list(EDGE_CASES.values()) * 3
    assert segmenter.tokenize_many(texts) == [pyvi.tokenize(t) for t in texts]
    assert crfseg.tokenize_many(iter(texts)) == [pyvi.tokenize(t) for t in texts]
    assert crfseg.tokenize("Hà Nội") == "Hà_Nội"


def test_text_without_tokens_comes_back_as_it_came(pyvi, segmenter):
    text = " \u2000 "  # NFC turns EN QUAD into EN SPACE; pyvi returns the input unchanged
    assert unicodedata.normalize("NFC", text) != text
    assert segmenter.tokenize(text) == text == pyvi.tokenize(text)


_ALPHABET = [
    *"aAđĐôƠưỨắẰ  \t\n.,:;@/_-+=>!?\"'()0123456789",
    "Hà ",
    "Nội ",
    "thủ đô ",
    "HÀ NỘI ",
    "http://",
    "Tp.",
    "...",
    "ΑΣ",
    "😀",
    "\u0301",
    "\x00",
    "١",
    "\u00a0",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=40).map("".join))
def test_random_text_identical_to_pyvi(text):
    from pyvi.ViTokenizer import ViTokenizer

    assert crfseg.tokenize(text) == ViTokenizer.tokenize(text)


def test_sample_articles_identical_to_pyvi(pyvi, segmenter):
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    texts = paragraphs_of(lines)
    assert len(texts) > 100
    assert segmenter.tokenize_many(texts) == [pyvi.tokenize(t) for t in texts]


@pytest.mark.data
@pytest.mark.skipif(not VNTC.is_file(), reason="needs ../shared/data/vntc_news")
def test_real_paragraphs_identical_to_pyvi(pyvi, segmenter):
    with gzip.open(VNTC, "rt", encoding="utf-8") as stream:
        texts = paragraphs_of(islice(stream, 400))[:3000]
    assert len(texts) == 3000
    assert segmenter.tokenize_many(texts) == [pyvi.tokenize(t) for t in texts]
    # and in capitals, which pyvi glues differently
    upper = [t.upper() for t in texts[:500]]
    assert segmenter.tokenize_many(upper) == [pyvi.tokenize(t) for t in upper]


@pytest.mark.data
@pytest.mark.skipif(not UD.is_dir(), reason="needs ../shared/data/ud_vtb_wordseg")
def test_gold_corpus_sentences_identical_to_pyvi(pyvi, segmenter):
    texts = []
    for path in sorted(UD.glob("*.raw.txt")):
        texts += path.read_text(encoding="utf-8").splitlines()
    assert len(texts) > 3000
    assert segmenter.tokenize_many(texts) == [pyvi.tokenize(t) for t in texts]


def test_tokens_are_pyvis_sylabelize(pyvi):
    splitter = pyvi_rules.TokenSplitter()
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [unicodedata.normalize("NFC", t) for t in paragraphs_of(lines)]
    texts += [unicodedata.normalize("NFC", t) for t in EDGE_CASES.values()]
    assert splitter.split_many(texts) == [pyvi.sylabelize(t)[1] for t in texts]


def test_ngrams_are_pyvis(pyvi):
    folder = pyvi_rules.pyvi_dir() / "models"
    bi_grams, tri_grams = pyvi_rules.read_ngrams(folder / "words.txt")
    assert bi_grams == pyvi.bi_grams
    assert tri_grams == pyvi.tri_grams


def test_ngram_lookup_matches_the_sets(pyvi):
    index = NgramIndex(pyvi.bi_grams, pyvi.tri_grams)
    words = ["hà", "nội", "thủ", "đô", "xyz", "", "ủy", "ban", "nhân"]
    for trigram in sorted(pyvi.tri_grams)[100:103]:
        words += trigram.split(" ")
    ids = np.array([index.id(w) for w in words])
    a, b, c = np.meshgrid(ids, ids, ids, indexing="ij")
    pairs = index.pairs(a[:, :, 0].ravel(), b[:, :, 0].ravel())
    expected = [f"{x} {y}" in pyvi.bi_grams for x in words for y in words]
    assert pairs.tolist() == expected
    triples = index.triples(a.ravel(), b.ravel(), c.ravel())
    expected = [f"{x} {y} {z}" in pyvi.tri_grams for x in words for y in words for z in words]
    assert triples.tolist() == expected
    assert any(expected)


def test_weights_are_the_models_own(pyvi, tmp_path):
    """Every weight rounds to what crfsuite's own dump prints (six decimals)."""
    model = read_crfsuite(read_pyvi_pickle(pyvi_rules.pyvi_dir() / "models" / "pyvi3.pkl"))
    assert model.labels == ("B_W", "I_W")
    dump = tmp_path / "dump.txt"
    pyvi.model.tagger_.dump(str(dump))
    text = dump.read_text(encoding="utf-8")
    line = re.compile(r"^  \((\d)\) (.+?) --> (B_W|I_W): (\S+)$", re.M | re.S)
    seen = {0: 0, 1: 0}
    for kind, name, label, printed in line.findall(text):
        to = model.labels.index(label)
        if kind == "1":
            weight = model.transition[model.labels.index(name), to]
        else:
            weight = model.weights(name)[to]
        assert f"{weight:.6f}" == printed, (name, label)
        seen[int(kind)] += 1
    assert seen == {0: np.count_nonzero(model.state), 1: 4}


def _crfsuite_viterbi(state: list[list[float]], trans: list[list[float]]) -> list[int]:
    """crf1dc_viterbi, transcribed line by line."""
    n, labels = len(state), len(trans)
    alpha = [list(state[0])]
    back = [[0] * labels]
    for t in range(1, n):
        cur, links = [], []
        for j in range(labels):
            best, arg = -1.7976931348623157e308, -1
            for i in range(labels):
                score = alpha[-1][i] + trans[i][j]
                if best < score:
                    best, arg = score, i
            links.append(arg)
            cur.append(best + state[t][j])
        alpha.append(cur)
        back.append(links)
    path = [0] * n
    best = -1.7976931348623157e308
    for i in range(labels):
        if best < alpha[-1][i]:
            best, path[-1] = alpha[-1][i], i
    for t in range(n - 2, -1, -1):
        path[t] = back[t + 1][path[t + 1]]
    return path


def test_decoder_is_crfsuites_including_ties():
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 30, size=200)
    # Small integers: many exact ties, which must go to the first label as in crfsuite.
    scores = rng.integers(-2, 3, size=(int(lengths.sum()), 2)).astype(np.float64)
    trans = rng.integers(-1, 2, size=(2, 2)).astype(np.float64)
    ties = TieCount()
    labels = viterbi.decode(scores.T.copy(), lengths, trans, ties)
    at = 0
    for n in lengths:
        expected = _crfsuite_viterbi(scores[at : at + n].tolist(), trans.tolist())
        assert labels[at : at + n].tolist() == expected
        at += n
    assert ties.exact > 0 and ties.path_exact > 0
    assert ties.path_decisions == len(scores)  # one link per token after the first, one end


def test_real_decisions_are_counted(segmenter):
    ties = TieCount()
    segmenter.tokenize_many(["Hà Nội là thủ đô của Việt Nam", "Tôi"], ties=ties)
    assert ties.path_decisions == 9
    assert ties.decisions == 2 + 2 * 7  # two last labels, two links per later token
    assert ties.smallest_gap > viterbi.NEAR_TIE


def test_segmentation_records(segmenter, pyvi):
    text = "Chiều 26-6, Ủy ban nhân dân TP. Hà  Nội họp."
    (seg,) = segmenter.segment_many([text])
    assert seg.tokens == pyvi.sylabelize(text)[1]
    assert " ".join(w.word for w in seg.words()) == pyvi.tokenize(text)
    for token, (start, end) in zip(seg.tokens, seg.offsets(), strict=True):
        assert text[start:end] == token
    words = {w.word: text[w.start : w.end] for w in seg.words()}
    assert words["Hà_Nội"] == "Hà  Nội"  # the text as written, two spaces and all


def test_offsets_are_in_the_nfc_text(segmenter):
    text = unicodedata.normalize("NFD", "Thủ đô Hà Nội")
    (seg,) = segmenter.segment_many([text])
    assert seg.text == unicodedata.normalize("NFC", text)
    assert [(w.word, w.start, w.end) for w in seg.words()] == [
        ("Thủ_đô", 0, 6),
        ("Hà_Nội", 7, 13),
    ]


def test_lowercase_model_input_keeps_the_tokens(segmenter):
    """As the indexer does for text in capitals (indexer.analysis.segment.word_spans)."""
    texts = [
        "BAN CHỈ HUY QUÂN SỰ HUYỆN ĐÌNH LẬP DIỄN TẬP PHÒNG THỦ",
        "Đảng ủy quân sự tỉnh Lạng Sơn tổ chức hội nghị",
        "CHỦ TỊCH ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI NGUYỄN VĂN A",
    ]
    flags = [is_mostly_upper(t) for t in texts]
    assert flags == [True, False, True]
    for seg, text in zip(segmenter.segment_many(texts, lowercase=flags), texts, strict=True):
        assert "".join(seg.tokens) == "".join(text.split())  # the text's own tokens
        spans = [(w.start, w.end) for w in seg.words() if "_" in w.word]
        assert spans == [(s.start, s.end) for s in word_spans(text)]
    lowered = segmenter.segment_many([texts[2]], lowercase=True)[0]
    as_written = segmenter.segment_many([texts[2]])[0]
    assert lowered.tokens == as_written.tokens
    words = [w.word for w in lowered.words()]
    assert "HÀ_NỘI" in words and "ỦY_BAN" in words
    assert [w.word for w in as_written.words()][1:3] == ["ỦY", "BAN"]  # as pyvi: capitals


def test_unencodable_text_raises_and_the_segmenter_recovers(pyvi, segmenter):
    with pytest.raises(UnicodeEncodeError):
        segmenter.tokenize("a \ud800 b")  # pyvi fails on it too (a SystemError)
    assert segmenter.tokenize("Hà Nội là thủ đô") == pyvi.tokenize("Hà Nội là thủ đô")


def test_caches_stay_bounded(pyvi):
    small = crfseg.Segmenter.from_pyvi()
    small.vocabulary.max_tokens = 50
    small._splitter.max_chunks = 20
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    texts = paragraphs_of(lines)[:200]
    expected = [pyvi.tokenize(t) for t in texts]
    got = []
    for i in range(0, len(texts), 10):
        got += small.tokenize_many(texts[i : i + 10])
        assert len(small.vocabulary) <= 50 + 2000
    assert got == expected


def test_one_string_is_not_a_batch(segmenter):
    with pytest.raises(TypeError):
        segmenter.tokenize_many("Hà Nội")


# vnsearch segment


def test_cli_plain_from_stdin(pyvi):
    lines = ["Hà Nội là thủ đô của Việt Nam", "", "   ", "THỦ ĐÔ HÀ NỘI", "26-6, 16.000 người"]
    result = CliRunner().invoke(main, ["segment"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == [pyvi.tokenize(line) for line in lines] + [""]


def test_cli_json_from_files(tmp_path):
    first = tmp_path / "a.txt"
    first.write_text("Hà Nội là thủ đô\n\n", encoding="utf-8")
    second = tmp_path / "b.txt"
    second.write_bytes("\ufeffChiều 26-6\r\nTP. Hồ Chí Minh".encode())  # BOM, CRLF, no end
    result = CliRunner().invoke(main, ["segment", "--json", str(first), str(second)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0] == {
        "text": "Hà Nội là thủ đô",
        "words": [
            {"word": "Hà_Nội", "start": 0, "end": 6},
            {"word": "là", "start": 7, "end": 9},
            {"word": "thủ_đô", "start": 10, "end": 16},
        ],
    }
    assert records[1] == {"text": "", "words": []}
    assert records[2]["text"] == "Chiều 26-6"
    assert [w["word"] for w in records[2]["words"]] == ["Chiều", "26", "-", "6"]
    assert records[3]["text"] == "TP. Hồ Chí Minh"
    for record in records:
        for w in record["words"]:
            written = record["text"][w["start"] : w["end"]]
            assert written.split() == w["word"].split("_") or written == w["word"]
    assert len(records) == 4


def test_cli_reports_bad_bytes_and_goes_on(tmp_path, pyvi):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Ha Noi\n\xff\xfe Vi\xe1t Nam\nth\xe1\xbb\xa7 \xc4\x91\xc3\xb4\n")
    result = CliRunner().invoke(main, ["segment", str(path)])
    assert result.exit_code == 0
    assert f"{path}:2: not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
    expected = ["Ha Noi", "\ufffd\ufffd Vi\ufffdt Nam", "thủ đô"]
    assert result.stdout.splitlines() == [pyvi.tokenize(line) for line in expected]


def test_cli_stdin_dash_and_missing_file(tmp_path):
    result = CliRunner().invoke(main, ["segment", "-"], input="Việt Nam")
    assert result.exit_code == 0 and result.stdout == "Việt_Nam\n"
    missing = CliRunner().invoke(main, ["segment", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_cli_help_has_an_example():
    result = CliRunner().invoke(main, ["segment", "--help"])
    assert result.exit_code == 0
    assert "Example: echo" in result.output and "--json" in result.output
