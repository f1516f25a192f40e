from whoosh.codec import whoosh3

from indexer import store, whoosh_speedups


def test_cached_lengths_equal_whooshs_own(index_dir):
    ix = store.open_index(index_dir)
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            perdoc = leaf._perdoc
            assert isinstance(perdoc, whoosh3.W3PerDocReader)
            for fieldname in ("text", "word", "title"):
                for docnum in range(perdoc.doc_count_all()):
                    original = whoosh_speedups._original_doc_field_length(perdoc, docnum, fieldname)
                    assert perdoc.doc_field_length(docnum, fieldname) == original


def test_stored_fields_equal_whooshs_own(index_dir):
    ix = store.open_index(index_dir)
    read = 0
    with ix.reader() as reader:
        for leaf, _ in reader.leaf_readers():
            perdoc = leaf._perdoc
            assert whoosh_speedups._stored_column(perdoc) is not None  # the fast path
            for docnum in range(perdoc.doc_count_all()):
                original = whoosh_speedups._original_stored_fields(perdoc, docnum)
                assert perdoc.stored_fields(docnum) == original
                read += bool(original)
    assert read > 100
