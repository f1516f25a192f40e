"""Fixtures: a real index, built with the real analysis, from real Vietnamese articles."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

import pytest

from indexer.search import SearchService
from indexer.storage import store
from indexer.storage.store import update_index

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = SAMPLES / "000_e79570c1fe97e7a4.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Passages written to exercise one property each; the comments say which.
CRAFTED = [
    {
        "id": "nfd-article",  # stored in NFD, as some sources deliver it
        "title": unicodedata.normalize("NFD", "Thời tiết miền núi"),
        "body": unicodedata.normalize("NFD", "Sương muối phủ trắng đỉnh Mẫu Sơn sáng nay."),
        "category": "Đời sống",
        "source": "example.vn",
        "date": "2024-01-15",
    },
    {
        "id": "new-tone-style",  # hoà/thuỷ style, as most sites write today
        "title": "Thuỷ lợi",
        "body": "Công trình thuỷ lợi giúp hoà giải tranh chấp nước tưới giữa hai xã.",
        "category": "Kinh doanh",
        "source": "example.vn",
        "date": "2024-02-20",
    },
    {
        "id": "capitals",  # a headline in capitals, which pyvi segments differently
        "title": "",
        "body": "BAN CHỈ HUY QUÂN SỰ HUYỆN ĐÌNH LẬP DIỄN TẬP PHÒNG THỦ",
        "category": "Chính trị Xã hội",
        "source": "example.vn",
        "date": "2023-09-01",
    },
    {
        "id": "duong-road",  # "đường" written exactly
        "title": "Giao thông",
        "body": "Con đường mới nối hai thôn đã được khánh thành.",
        "category": "Đời sống",
        "source": "other.vn",
        "date": "2024-03-12",
    },
    {
        "id": "duong-ocean",  # only forms that fold to "duong"
        "title": "Biển",
        "body": "Tàu cá ra khơi giữa đại dương trong mùa đương nhiên nhiều gió.",
        "category": "Đời sống",
        "source": "other.vn",
        "date": "2024-03-13",
    },
    {
        "id": "an-ninh",  # "an" and "ở" are words, not stop words
        "title": "An ninh trật tự",
        "paragraphs": [
            "Bảo đảm an ninh chính trị ở vùng biên giới.",
            "Ngày 12/3/2024 lực lượng chức năng tuần tra ở khu vực cửa khẩu.",
        ],
        "category": "Pháp luật",
        "source": "example.vn",
        "date": "2024-03-12",
    },
    {
        "id": "committee-full",  # the long form of UBND, which the seed abbreviates
        "title": "Phiên họp thường kỳ",
        "body": "Ủy ban nhân dân tỉnh Cao Bằng họp phiên thường kỳ tháng Ba.",
        "category": "Chính trị Xã hội",
        "source": "example.vn",
    },
    {
        "id": "script-title",  # markup in articles is text, never markup
        "title": '<script>alert(1)</script> Tin "nóng"',
        "body": "Đoạn văn có <b>thẻ</b> & ký tự đặc biệt về Lạng Sơn.",
        "category": "Vi tính",
        "source": "example.vn",
    },
]

REAL_FROM_SAMPLE = 25

# Dated articles in several categories and sources, beside every sample article (the
# sharding and cluster tests): newest first and the facets have something to order and
# count.
DATED = [
    {
        "id": f"dated-{i}",
        "title": title,
        "body": body,
        "date": f"2024-0{1 + i % 6}-1{i % 10}",
        "category": ["Thể thao", "Kinh doanh", "Đời sống"][i % 3],
        "source": ["vnexpress.net", "tuoitre.vn"][i % 2],
    }
    for i, (title, body) in enumerate(
        [
            ("Giá dầu tăng", "Giá dầu thế giới tăng mạnh trong phiên hôm qua.\n\nGiá vàng giảm."),
            ("Máy bay hạ cánh", "Máy bay của hãng hạ cánh an toàn tại sân bay Nội Bài."),
            ("Bóng đá Việt Nam", "Đội tuyển bóng đá Việt Nam thắng trận mở màn."),
            ("Lạng Sơn mưa lớn", "Mưa lớn kéo dài ở Lạng Sơn gây ngập nhiều nơi."),
            ("Hà Nội", "Hà Nội mưa lớn, nhiều tuyến phố ngập sâu.\n\nGiá dầu ổn định."),
            ("Bắt đầu mùa thi", "Học sinh bắt đầu mùa thi tốt nghiệp."),
            ("Giá dầu giảm", "Giá dầu giảm sau ba phiên tăng liên tiếp."),
        ]
    )
]


def write_corpus(folder: Path, real: int = REAL_FROM_SAMPLE) -> Path:
    """The seed article, the crafted articles and the first ``real`` sample articles."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SEED, folder / SEED.name)
    with (folder / "crafted.jsonl").open("w", encoding="utf-8") as out:
        for record in CRAFTED:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    (folder / "news.jsonl").write_text("\n".join(lines[:real]) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, corpus_dir) -> Path:
    """A real index over the corpus, shared by the read-only tests.

    Written with small posting blocks: the block readers then meet posting lists of many
    blocks, as in a large index, and not one block per list.
    """
    target = tmp_path_factory.mktemp("index")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "BLOCK_POSTINGS", 16)
        summary = update_index(target, [corpus_dir], workers=1)
    assert summary.failed == 0, summary.errors
    return target


@pytest.fixture(scope="session")
def mixed_corpus(tmp_path_factory) -> Path:
    """Every sample article, the crafted ones and the dated ones."""
    folder = write_corpus(tmp_path_factory.mktemp("mixed-corpus"), real=10_000)
    with (folder / "dated.jsonl").open("w", encoding="utf-8") as out:
        for record in DATED:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture(scope="session")
def mixed_plain(tmp_path_factory, mixed_corpus) -> Path:
    """One index of ``mixed_corpus``: what a sharded index must rank exactly as."""
    target = tmp_path_factory.mktemp("mixed-plain")
    update_index(target, [mixed_corpus], workers=1)
    return target


@pytest.fixture(scope="session")
def service(index_dir) -> SearchService:
    svc = SearchService(index_dir)
    yield svc
    svc.close()


@pytest.fixture()
def fresh_index(tmp_path, corpus_dir) -> Path:
    """An index of one's own, for tests that change it."""
    target = tmp_path / "index"
    update_index(target, [corpus_dir], workers=1)
    return target


@pytest.fixture(scope="session")
def app(index_dir):
    from webapp import create_app, service

    app = create_app({"INDEX_DIR": str(index_dir), "TESTING": True})
    yield app
    service(app).close()


@pytest.fixture()
def make_app():
    """``create_app`` for one test; each app's index files are let go at its end."""
    from webapp import create_app, service

    made = []

    def make(config: dict):
        made.append(create_app(config))
        return made[-1]

    yield make
    for app in made:
        service(app).close()


@pytest.fixture()
def client(app):
    return app.test_client()
