"""Posting blocks in compact shapes, and blocks in Whoosh's own shape, both read."""

from __future__ import annotations

import itertools
import zlib
from pickle import loads

from hypothesis import given
from hypothesis import strategies as st
from whoosh.codec import whoosh3

from indexer import whoosh_blocks
from indexer.articles import Article, Paragraph
from indexer.search import SearchService
from indexer.store import index_articles, open_index
from tests.conftest import whoosh_own_shapes


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=200))
def test_pack_then_unpack_gives_the_values_back(values):
    assert whoosh_blocks.unpack(whoosh_blocks.pack(values), len(values)) == values


@given(
    st.sets(st.integers(0, 2**31 - 1), min_size=1, max_size=300).map(sorted),
    st.sampled_from([0, 3]),
)
def test_packed_ids_are_the_ids(ids, level):
    packed = whoosh_blocks.pack_ids(ids, level)
    assert whoosh_blocks.unpack_ids(packed).tolist() == ids
    wide = ids[0] >= 1 << 16 or any(b - a >= 1 << 16 for a, b in itertools.pairwise(ids))
    assert packed[:1].upper() == (b"I" if wide else b"H")


@given(st.binary(max_size=500), st.sampled_from([0, 1, 9]))
def test_squeezed_parts_come_back(data, level):
    packed = whoosh_blocks.squeeze(b"B", data, level)
    assert whoosh_blocks.unsqueeze(packed) == (ord("B"), data)
    assert len(packed) <= len(data) + 1


def _articles(prefix: str, count: int):
    for i in range(count):
        text = f"Mưa lớn ở Lạng Sơn, bản tin số {i} của {prefix}. Trời mưa lớn cả ngày."
        yield Article(f"{prefix}{i}", "Thời tiết", (Paragraph(text),))


def _block_values(index_dir, term: str):
    """The (ids, weights, values) of the first on-disk block of ``term`` in every segment."""
    found = []
    with open_index(index_dir).reader() as reader:
        for leaf, _ in reader.leaf_readers():
            m = leaf._terms.matcher("text", term.encode(), leaf.schema["text"].format)
            if isinstance(m, whoosh3.W3LeafMatcher):
                data = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
                found.append(loads(zlib.decompress(data) if m._compression else data))
    return found


def test_old_and_new_blocks_side_by_side_answer_phrases(tmp_path, monkeypatch):
    target = tmp_path / "ix"
    with whoosh_own_shapes():  # a segment as Whoosh itself writes it
        index_articles(target, _articles("old", 300), workers=1)
    index_articles(target, _articles("new", 300), workers=1)

    blocks = _block_values(target, "mưa")
    shapes = {(type(ids), type(weights), type(values)) for ids, weights, values in blocks}
    assert shapes == {(tuple, float, tuple), (bytes, float, tuple)}  # one segment of each
    ours = [values for ids, _, values in blocks if isinstance(ids, bytes)]
    assert [values[0] for values in ours] == ["p"]  # the positions compressed on their own

    service = SearchService(target)
    page = service.search('"lạng sơn, bản tin số 7 của"', per_page=100)
    assert {hit.article_id for hit in page.results} == {"old7", "new7"}
    assert service.search('"mưa lớn"').total == 600  # both occurrences, every passage
    service.close()
