"""The vocabulary follows the index as segments are added, merged away and deleted from."""

from __future__ import annotations

from indexer.ranking.vocabulary import VocabularyCache
from indexer.storage import store, vocabulary_files


def _all_variants(vocabulary, fieldname):
    keys = vocabulary.tables[fieldname].sorted_keys()
    return {k: vocabulary.variants(fieldname, k) for k in keys if vocabulary.variants(fieldname, k)}


def test_incremental_vocabulary_equals_one_built_afresh(tmp_path, corpus_dir):
    target = tmp_path / "ix"
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    ix = store.open_index(target)
    incremental = VocabularyCache()
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) > 1
        first = incremental.for_searcher(searcher)
        assert [t for t, _ in first.variants("text", "son")][:1] == ["sơn"]

    writer = ix.writer()
    writer.commit(optimize=True)  # every segment merged into one new segment
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 1
        updated = incremental.for_searcher(searcher)
        fresh = VocabularyCache().for_searcher(searcher)
        for fieldname in ("text", "word", "title"):
            assert _all_variants(updated, fieldname) == _all_variants(fresh, fieldname)
            assert _all_variants(fresh, fieldname)


def test_vocabulary_counts_equal_whooshs(service):
    searcher = service.index.searcher()
    vocabulary = service.index.vocabulary(searcher)
    checked = 0
    for fieldname in ("text", "word", "title"):
        for term in list(searcher.lexicon(fieldname))[:300]:
            term = term.decode("utf-8")
            assert vocabulary.doc_frequency(fieldname, term) == searcher.doc_frequency(
                fieldname, term
            )
            checked += 1
    assert checked > 600
    assert vocabulary.doc_frequency("text", "không-có-đâu") == 0


def _vocabulary_files(folder):
    return sorted(p.name for p in folder.glob(f"*.{vocabulary_files.SUFFIX}"))


def test_each_segment_has_a_vocabulary_file_equal_to_its_term_dictionary(tmp_path, corpus_dir):
    target = tmp_path / "ix"
    store.update_index(target, [corpus_dir], workers=2, batch_passages=40)
    ix = store.open_index(target)
    with ix.reader() as reader:
        leaves = [leaf for leaf, _ in reader.leaf_readers()]
        assert len(leaves) > 1
        assert _vocabulary_files(target) == sorted(
            f"{leaf.segment().segment_id()}.{vocabulary_files.SUFFIX}" for leaf in leaves
        )
        for leaf in leaves:
            from_file = vocabulary_files.load(leaf)
            for fieldname in vocabulary_files.FIELDS:
                assert from_file[fieldname] == vocabulary_files.read_terms(leaf, fieldname)
            assert from_file["word"][0]  # not trivially equal

    ix.writer().commit(optimize=True)  # Whoosh merges every segment into a new one
    vocabulary_files.ensure(ix)
    with ix.reader() as reader:
        merged = reader.segment().segment_id()
    # The retired segments' files went with them; the merged one has its own.
    assert _vocabulary_files(target) == [f"{merged}.{vocabulary_files.SUFFIX}"]


def test_a_damaged_vocabulary_file_is_replaced_by_the_term_dictionary(tmp_path, corpus_dir, caplog):
    target = tmp_path / "ix"
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    ix = store.open_index(target)
    with ix.searcher() as searcher:
        good = VocabularyCache().for_searcher(searcher)
        files = list(target.glob(f"*.{vocabulary_files.SUFFIX}"))
        files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
        files[1].unlink()
        damaged = VocabularyCache().for_searcher(searcher)
    assert "unusable vocabulary file" in caplog.text
    for fieldname in vocabulary_files.FIELDS:
        assert _all_variants(damaged, fieldname) == _all_variants(good, fieldname)
