"""Our writing shortcuts (pool, formats, codec) write what Whoosh's own code writes."""

from whoosh import index as whoosh_index
from whoosh.formats import Frequency, Positions
from whoosh.writing import SegmentWriter

from indexer.corpus.articles import Article, read_paths
from indexer.storage import store
from indexer.storage.codec import PassageCodec
from indexer.storage.posting_pool import TermGroupedPool
from indexer.storage.schema import build_schema
from indexer.storage.term_formats import TermFrequency, TermPositions
from indexer.storage.worker_writer import WorkerWriter
from tests.index_contents import decoded_postings


def _documents(corpus_dir):
    articles = [a for a in read_paths([corpus_dir]) if isinstance(a, Article)]
    return [d for a in articles for d in store.passage_documents(a, a.content_hash())]


def _write(index_dir, documents, ours: bool):
    schema = build_schema()
    if not ours:
        for name in ("text", "word", "title"):
            field = schema[name]
            field.format = Positions() if isinstance(field.format, Positions) else Frequency()
    index_dir.mkdir()
    ix = whoosh_index.create_in(index_dir, schema)
    if ours:  # the product's codec and pool
        writer = WorkerWriter(ix, PassageCodec(blocklimit=store.BLOCK_POSTINGS))
        assert isinstance(writer.pool, TermGroupedPool)
    else:  # Whoosh's own, its pool spilling sorted runs at this size
        writer = SegmentWriter(ix, limitmb=0.05)
    for doc in documents:
        writer.add_document(**doc)
    writer.commit(merge=False)
    return ix


def test_our_pool_and_formats_write_what_whoosh_writes(tmp_path, corpus_dir):
    documents = _documents(corpus_dir)
    whoosh_ix = _write(tmp_path / "whoosh", documents, ours=False)
    our_ix = _write(tmp_path / "ours", documents, ours=True)
    assert type(our_ix.schema["text"].format) is TermPositions

    with whoosh_ix.reader() as expected, our_ix.reader() as actual:
        want = decoded_postings(expected)
        assert len(want) > 10_000
        assert decoded_postings(actual) == want
        assert list(actual.all_stored_fields()) == list(expected.all_stored_fields())
        for name in ("text", "word", "title"):
            assert [actual.doc_field_length(n, name) for n in range(len(documents))] == [
                expected.doc_field_length(n, name) for n in range(len(documents))
            ]


def _segment_files(ix) -> dict[str, bytes]:
    """The bytes of each file of the index's one segment, by extension."""
    (segment,) = ix._segments()
    prefix = segment.segment_id()
    return {
        name[len(prefix) :]: ix.storage.open_file(name).read()
        for name in ix.storage.list()
        if name.startswith(prefix)
    }


def _both_writers(tmp_path, documents) -> tuple[dict, dict]:
    """The segment files Whoosh's writer and ``WorkerWriter`` make of ``documents``."""
    written = []
    for name in ("whoosh", "worker"):
        (tmp_path / name).mkdir()
        ix = whoosh_index.create_in(tmp_path / name, build_schema())
        codec = PassageCodec(blocklimit=16)
        if name == "whoosh":
            writer = SegmentWriter(ix, codec=codec, limitmb=0.05, compound=False)
        else:
            writer = WorkerWriter(ix, codec)
        for doc in documents:
            writer.add_document(**doc)
        writer.commit(merge=False)
        written.append(_segment_files(ix))
    return written[0], written[1]


def test_worker_writer_writes_the_bytes_whooshs_writer_writes(tmp_path, corpus_dir):
    """Documents added field by field and lists written whole (``WorkerWriter``) make the
    same files as Whoosh's writer adding and writing one posting at a time, with the same
    codec and formats: blocks of 16 postings, so that long lists have many blocks, each
    with its own statistics."""
    whoosh, worker = _both_writers(tmp_path, _documents(corpus_dir))
    assert {".pst", ".trm", "._stored.col", "._text_len.col"} <= set(whoosh)
    assert len(whoosh[".pst"]) > 100_000
    assert whoosh == worker


def test_worker_writer_writes_odd_documents_as_whoosh_does(tmp_path):
    """Empty lists, boosts, a term repeated, and a passage longer than two-byte positions
    (its values in Whoosh's own encoding)."""
    long = [f"s{i % 300}" for i in range(70_000)]
    documents = [
        {"article_id": "a", "text": ["x", "y", "x"], "word": [], "title": []},
        {"article_id": "b", "text": [], "word": ["x_y", "x_y"], "title": ["x"], "_boost": 2.0},
        {"article_id": "c", "text": long, "word": ["s1_s2"], "title": ["t"], "_text_boost": 0.5},
        {"article_id": "d", "text": ["y", "z"], "title": ["x", "x", "y"], "paragraph": 3},
        {"article_id": "e", "date": "2024-01-02", "text": ["x"] * 20},
    ]
    whoosh, worker = _both_writers(tmp_path, documents)
    assert whoosh == worker


def test_term_formats_return_what_whoosh_formats_return(corpus_dir):
    pairs = ((Positions(), TermPositions()), (Frequency(), TermFrequency()))
    for doc in _documents(corpus_dir)[:200]:
        for terms in (doc["text"], doc["word"], ["a", "b", "a", "a"], []):
            for whoosh_format, ours in pairs:
                got = [(*v[:3], _value(ours, v[3])) for v in ours.word_values(terms, None)]
                want = whoosh_format.word_values(terms, None)
                assert got == [(*v[:3], _value(whoosh_format, v[3])) for v in want]


def _value(fmt, value: bytes):
    """What a posting value says: positions, or the count."""
    if fmt.supports("positions"):
        return fmt.decode_positions(value), fmt.decode_frequency(value)
    return value


def test_grouped_pool_sorts_terms_and_keeps_document_order():
    pool = TermGroupedPool()
    pool.add(("text", b"b", 0, 1.0, b"x"))
    pool.add(("text", "ă".encode(), 0, 2.0, b"y"))
    pool.add(("text", b"b", 3, 1.0, b"x"))
    pool.add(("date", b"2020", 3, 1.0, None))
    assert list(pool.iter_postings()) == [
        ("date", b"2020", 3, 1.0, None),
        ("text", b"b", 0, 1.0, b"x"),
        ("text", b"b", 3, 1.0, b"x"),
        ("text", "ă".encode(), 0, 2.0, b"y"),
    ]
    assert pool.fieldnames == {"date", "text"}
