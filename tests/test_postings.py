"""Posting lists read into arrays equal what Whoosh itself decodes."""

from __future__ import annotations

import gc
import weakref

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from whoosh.codec.whoosh3 import W3Codec
from whoosh.formats import Positions
from whoosh.writing import SegmentWriter

from indexer.corpus.articles import Article, Paragraph
from indexer.ranking import postings
from indexer.search import SearchService
from indexer.storage import store
from indexer.storage.codec import PassageCodec
from indexer.storage.term_formats import encode_positions


def test_posting_lists_are_written_in_large_blocks(tmp_path):
    articles = [Article(f"a{i}", "Tin", (Paragraph(f"Mưa lớn ở bản {i}"),)) for i in range(300)]
    store.index_articles(tmp_path / "ix", articles, workers=1)
    with store.open_index(tmp_path / "ix").reader() as reader:
        ((leaf, _),) = reader.leaf_readers()
        matcher = leaf._terms.matcher("text", "mưa".encode(), leaf.schema["text"].format)
        assert matcher._blocklength == 300  # Whoosh's default would cut 128, 128, 44


def _whoosh_keys(leaf, fieldname, btext):
    keys = []
    matcher = leaf.postings(fieldname, btext)
    while matcher.is_active():
        doc = matcher.id() << postings.POSITION_BITS
        keys.extend(doc | p for p in matcher.value_as("positions"))
        matcher.next()
    return keys


def test_positions_equal_whoosh_decoding_for_every_term(index_dir):
    cache = postings.PostingsCache()
    ix = store.open_index(index_dir)
    checked = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            for btext, _ in leaf.iter_field("text"):
                keys = cache.positions(leaf, "text", btext)
                assert keys.tolist() == _whoosh_keys(leaf, "text", btext), btext
                checked += 1
    assert checked > 1000


@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 70_000), min_size=1, max_size=6, unique=True).map(sorted),
            st.sampled_from([Positions().encode, encode_positions]),
        ),
        max_size=40,
    )
)
def test_position_values_of_any_shape_are_decoded(encoded):
    """One positions value per document, in our encoding or Whoosh's (which ours falls
    back to past position 65,535), side by side, with small and large positions."""
    documents = [positions for positions, _ in encoded]
    values = [encode(positions) for positions, encode in encoded]
    docs = np.arange(len(values), dtype=np.int64) * 3
    lengths = np.asarray([len(v) for v in values], dtype=np.int64)
    keys = postings._keys(docs, lengths, b"".join(values))
    expected = sorted(
        int(doc) << postings.POSITION_BITS | p
        for doc, positions in zip(docs, documents, strict=True)
        for p in positions
    )
    assert keys.tolist() == expected


def _whoosh_postings(reader, fieldname, btext):
    """(document numbers, weights) of a term over every segment, through Whoosh's matcher."""
    ids, weights = [], []
    for leaf, offset in reader.leaf_readers():
        if (fieldname, btext) not in leaf:
            continue
        matcher = leaf.postings(fieldname, btext)
        while matcher.is_active():
            ids.append(matcher.id() + offset)
            weights.append(matcher.weight())
            matcher.next()
    return ids, weights


def _terms(reader, fieldname):
    return sorted(
        {btext for leaf, _ in reader.leaf_readers() for btext, _ in leaf.iter_field(fieldname)}
    )


def test_postings_of_every_segment_are_numbered_as_the_searcher_numbers_them(tmp_path, corpus_dir):
    target = tmp_path / "index"
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    cache = postings.PostingsCache()
    with store.open_index(target).reader() as reader:
        assert len(reader.leaf_readers()) > 1
        for fieldname in ("text", "word"):
            for btext in _terms(reader, fieldname):
                ids, weights = cache.postings(reader, fieldname, btext)
                assert (ids.tolist(), weights.tolist()) == _whoosh_postings(
                    reader, fieldname, btext
                )
        mask = (1 << postings.POSITION_BITS) - 1
        for btext in _terms(reader, "text")[:300]:
            expected = sorted(
                ((key >> postings.POSITION_BITS) + offset) << postings.POSITION_BITS | key & mask
                for leaf, offset in reader.leaf_readers()
                if ("text", btext) in leaf
                for key in _whoosh_keys(leaf, "text", btext)
            )
            assert cache.positions(reader, "text", btext).tolist() == expected


def test_cached_postings_follow_the_index_as_it_changes(tmp_path, corpus_dir, monkeypatch):
    """After commits that add segments, merge others away and delete documents, the kept
    arrays are renumbered and completed: equal to reading everything afresh."""
    target = tmp_path / "index"
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    cache = postings.PostingsCache()
    with store.open_index(target).reader() as before:
        old = postings.Leaves.of(before)
        terms = _terms(before, "text")
        for btext in terms:
            cache.postings(before, "text", btext)
            cache.positions(before, "text", btext)
    monkeypatch.setattr(store, "MAX_SEGMENTS", 2)  # merge small segments (five or more)
    for i in range(6):
        article = Article(f"new-{i}", "Tin mới", (Paragraph(f"Mưa lớn ở Lạng Sơn, bản {i}."),))
        store.index_articles(target, [article], workers=1)
    store.delete_articles(target, ["committee-full"])
    with store.open_index(target).reader() as after:
        new = postings.Leaves.of(after)
        was = dict(zip(old.keys, old.offsets, strict=True))
        moved = {k for k, o in zip(new.keys, new.offsets, strict=True) if was.get(k, o) != o}
        assert moved and set(old.keys) - set(new.keys)  # kept segments renumbered, some gone
        fresh = postings.PostingsCache()
        for btext in terms:
            got, want = cache.postings(after, "text", btext), fresh.postings(after, "text", btext)
            assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
            got = cache.positions(after, "text", btext)
            assert got.tolist() == fresh.positions(after, "text", btext).tolist()


def test_a_segment_of_whooshs_own_codec_is_read_through_whoosh(tmp_path, corpus_dir):
    """Each segment is read as its codec says: one written by plain Whoosh (a user's own
    ``ix.writer()``) beside the product's is read through Whoosh's matchers."""
    target = tmp_path / "index"
    store.update_index(target, [corpus_dir], workers=1)
    ix = store.open_index(target)
    writer = SegmentWriter(ix, codec=W3Codec())
    article = Article("plain", "Tin thêm", (Paragraph("Mưa lớn ở Lạng Sơn cả ngày."),))
    for doc in store.passage_documents(article, article.content_hash()):
        writer.add_document(**doc)
    writer.commit(merge=False)
    with store.open_index(target).reader() as reader:
        codecs = [type(leaf.codec()) for leaf, _ in reader.leaf_readers()]
        assert codecs == [PassageCodec, W3Codec]
        cache = postings.PostingsCache()
        for btext in ("mưa".encode(), "sơn".encode(), "lạng".encode()):
            ids, weights = cache.postings(reader, "text", btext)
            assert (ids.tolist(), weights.tolist()) == _whoosh_postings(reader, "text", btext)
            expected = sorted(
                (key >> postings.POSITION_BITS) + offset << postings.POSITION_BITS
                | key & ((1 << postings.POSITION_BITS) - 1)
                for leaf, offset in reader.leaf_readers()
                if ("text", btext) in leaf
                for key in _whoosh_keys(leaf, "text", btext)
            )
            assert cache.positions(reader, "text", btext).tolist() == expected
        assert postings.all_lengths(reader, "text")[-1] == reader.doc_field_length(
            reader.doc_count_all() - 1, "text"
        )
    with SearchService(target) as service:
        assert service.search('"lạng sơn cả ngày"').results[0].article_id == "plain"


def test_reader_state_goes_with_its_reader(fresh_index):
    """What the search keeps per reader lives beside it, not in it, and not past it."""
    for multi in (False, True):
        if multi:  # a second segment: a multi-segment reader
            store.index_articles(fresh_index, [Article("extra", "Tin", (Paragraph("Mưa"),))])
        reader = store.open_index(fresh_index).reader()
        assert reader.is_atomic() != multi
        leaves = postings.Leaves.of(reader)
        assert all(leaf is not None for leaf in leaves.readers)
        postings.all_lengths(reader, "text")
        postings.all_deleted(reader)
        assert postings.state(reader) is postings.state(reader)
        assert not any(k.startswith("_vnsearch") for k in vars(reader))
        gone = weakref.ref(reader)
        reader.close()
        del reader, leaves
        gc.collect()
        assert gone() is None  # its state (leaves included) did not keep it alive
        assert all(ref() is not None for ref, _ in postings._STATES.values())
