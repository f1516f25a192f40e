import codecs
import gzip
import json
import unicodedata

import pytest

from indexer.corpus.articles import Article, ReadError, parse_text_article, read_paths
from tests.conftest import SEED


def test_seed_article_structure():
    [article] = list(read_paths([SEED]))
    assert isinstance(article, Article)
    assert article.id == "000_e79570c1fe97e7a4"
    assert article.title.startswith("Đảng ủy Quân sự tỉnh Lạng Sơn")
    kinds = [p.kind for p in article.paragraphs]
    assert kinds.count("caption") == 2
    captions = [p.text for p in article.paragraphs if p.kind == "caption"]
    assert captions[0].startswith("Đồng chí Nguyễn Quốc Đoàn")
    assert captions[1].startswith("Thiếu tướng Đỗ Văn Tuấn")
    assert article.author == "Bùi Hiệp"
    assert all("Bùi Hiệp" not in p.text for p in article.paragraphs)
    assert article.paragraphs[0].text.startswith("Chiều 26-6")


def test_plain_text_without_byline_or_captions():
    article = parse_text_article("a", "Tiêu đề\n\nĐoạn một.\n\nĐoạn hai.\n")
    assert article.title == "Tiêu đề"
    assert [p.text for p in article.paragraphs] == ["Đoạn một.", "Đoạn hai."]
    assert {p.kind for p in article.paragraphs} == {"body"}
    assert article.author is None


def test_empty_text_file_is_an_error(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n  \n")
    [error] = list(read_paths([tmp_path]))
    assert isinstance(error, ReadError)
    assert "empty.txt" in str(error)


def test_utf16_and_bom(tmp_path):
    (tmp_path / "u16.txt").write_bytes(
        codecs.BOM_UTF16_LE + "Tiêu đề\n\nNội dung.".encode("utf-16-le")
    )
    (tmp_path / "bom.txt").write_bytes(codecs.BOM_UTF8 + "Tiêu đề\n\nNội dung.".encode())
    articles = list(read_paths([tmp_path]))
    assert [a.title for a in articles] == ["Tiêu đề", "Tiêu đề"]


def test_undecodable_file_is_reported_with_its_line(tmp_path):
    (tmp_path / "bad.txt").write_bytes("Tiêu đề\n\nDòng hai\n".encode() + b"\xff\xfe\xfa broken\n")
    [error] = list(read_paths([tmp_path]))
    assert isinstance(error, ReadError)
    assert error.line == 4
    assert "bad.txt:4" in str(error)


def _jsonl(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_records_and_errors_with_line_numbers(tmp_path):
    good = {"id": "a1", "title": "T", "body": "Một.\n\nHai.", "date": "2024-03-12T08:00:00+07:00"}
    path = _jsonl(
        tmp_path / "x.jsonl",
        [
            json.dumps(good, ensure_ascii=False),
            "{not json",
            json.dumps({"title": "no id", "body": "x"}),
            json.dumps({"id": "a2", "paragraphs": ["P1", "", "P2"], "category": "Thể thao"}),
            json.dumps({"id": "a3", "body": "x", "date": "yesterday"}),
        ],
    )
    items = list(read_paths([path]))
    articles = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, ReadError)]
    assert [a.id for a in articles] == ["a1", "a2"]
    assert [p.text for p in articles[0].paragraphs] == ["Một.", "Hai."]
    assert articles[0].date == "2024-03-12"
    assert [p.text for p in articles[1].paragraphs] == ["P1", "P2"]
    assert [e.line for e in errors] == [2, 3, 5]
    assert "malformed JSON" in errors[0].message
    assert 'missing "id"' in errors[1].message
    assert "date" in errors[2].message


def test_gzipped_jsonl_and_directory_walk(tmp_path):
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    with gzip.open(nested / "n.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write(json.dumps({"id": "g1", "title": "Nén", "body": "Văn bản."}) + "\n")
    (tmp_path / "notes.md").write_text("ignored")
    assert [a.id for a in read_paths([tmp_path])] == ["g1"]


def test_missing_path_is_an_error(tmp_path):
    [error] = list(read_paths([tmp_path / "nope"]))
    assert isinstance(error, ReadError)


def test_content_hash_changes_with_content():
    a = parse_text_article("x", "Tiêu đề\n\nMột.")
    b = parse_text_article("x", "Tiêu đề\n\nMột!")
    assert a.content_hash() == parse_text_article("x", "Tiêu đề\n\nMột.").content_hash()
    assert a.content_hash() != b.content_hash()


def _cp1258(text: str) -> bytes:
    """Windows-1258 keeps letters like ê precomposed but writes tone marks as combining."""
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = []
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        tone = "".join(c for c in parts if c in tones)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + tone)
    return "".join(out).encode("cp1258")


def test_legacy_windows_1258_is_reported_not_indexed_as_mojibake(tmp_path):
    (tmp_path / "legacy.txt").write_bytes(_cp1258("Tiêu đề\n\nHà Nội mùa thu."))
    [error] = list(read_paths([tmp_path]))
    assert isinstance(error, ReadError)
    assert "UTF-8" in error.message


URL_ID = "https://example.vn/thoi-su/abc-123.html"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (URL_ID, URL_ID),
        ("/thoi-su/a b~c?d#e%20f", "/thoi-su/a b~c?d#e%20f"),
        ("  Tin nhanh/Đà Nẵng  ", "Tin nhanh/Đà Nẵng"),
        (unicodedata.normalize("NFD", "bài-Lạng-Sơn"), "bài-Lạng-Sơn"),
        ("x" * 512, "x" * 512),
        (42, "42"),
    ],
)
def test_any_printable_id_is_kept_exactly(tmp_path, raw, stored):
    path = _jsonl(tmp_path / "ids.jsonl", [json.dumps({"id": raw, "title": "T", "body": "B."})])
    [article] = list(read_paths([path]))
    assert isinstance(article, Article), article
    assert article.id == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("a\u0007b", "control character U+0007"),
        ("a\nb", "control character U+000A"),
        ("a\u0085b", "control character U+0085"),
        ("a\ud800b", "lone surrogate U+D800"),
        ("x" * 513, "more than 512"),
        ("   ", 'missing "id"'),
    ],
)
def test_unusable_ids_are_reported_with_file_and_line(tmp_path, raw, reason):
    good = json.dumps({"id": "ok", "title": "T", "body": "B."})
    bad = json.dumps({"id": raw, "title": "T", "body": "B."})
    path = _jsonl(tmp_path / "ids.jsonl", [good, bad])
    items = list(read_paths([path]))
    assert [i.id for i in items if isinstance(i, Article)] == ["ok"]
    [error] = [i for i in items if isinstance(i, ReadError)]
    assert str(error).startswith(f"{path}:2: ")
    assert reason in error.message


def test_text_article_id_is_its_file_name(tmp_path):
    (tmp_path / "bài số 1~v2.txt").write_text("Tiêu đề\n\nNội dung.", encoding="utf-8")
    [article] = list(read_paths([tmp_path]))
    assert article.id == "bài số 1~v2"
