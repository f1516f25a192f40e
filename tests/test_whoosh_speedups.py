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
