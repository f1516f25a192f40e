"""The vocabulary follows the index as segments are added, merged away and deleted from."""

from __future__ import annotations

from indexer import store
from indexer.vocabulary import VocabularyCache


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
    searcher = service.searcher()
    vocabulary = service.planner(searcher).vocabulary
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
