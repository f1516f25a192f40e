import gc
import json
import multiprocessing
import os

import pytest

from indexer.search import SearchService
from indexer.storage import store
from tests import pyvi_reference
from tests.conftest import SAMPLES, write_corpus
from tests.index_contents import decoded_postings


def _jsonl(path, records):
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )


def _passage_ids(index_dir):
    ix = store.open_index(index_dir)
    with ix.searcher() as searcher:
        return sorted(f"{d['article_id']}#{d['paragraph']}" for d in searcher.all_stored_fields())


def test_rerun_skips_unchanged_articles(fresh_index, corpus_dir):
    before = _passage_ids(fresh_index)
    summary = store.update_index(fresh_index, [corpus_dir], workers=1)
    assert (summary.added, summary.updated, summary.passages) == (0, 0, 0)
    assert summary.unchanged > 0
    assert _passage_ids(fresh_index) == before


def test_changed_article_replaces_all_its_passages(tmp_path):
    data = tmp_path / "a.jsonl"
    index_dir = tmp_path / "ix"
    _jsonl(data, [{"id": "x", "title": "T", "paragraphs": ["một hai", "ba bốn", "năm sáu"]}])
    store.update_index(index_dir, [data])
    _jsonl(data, [{"id": "x", "title": "T", "paragraphs": ["bảy tám"]}])
    summary = store.update_index(index_dir, [data])
    assert (summary.added, summary.updated) == (0, 1)
    assert _passage_ids(index_dir) == ["x#0"]
    with SearchService(index_dir) as service:
        assert service.search("ba bốn").total == 0
        assert service.search("bảy tám").total == 1


def test_bad_records_are_reported_and_the_rest_indexed(tmp_path):
    data = tmp_path / "a.jsonl"
    data.write_text(
        '{"id": "ok", "body": "Hà Nội"}\n{broken\n{"body": "no id"}\n', encoding="utf-8"
    )
    summary = store.update_index(tmp_path / "ix", [data])
    assert summary.added == 1
    assert [e.line for e in summary.errors] == [2, 3]


def test_duplicate_ids_keep_the_first(tmp_path):
    data = tmp_path / "a.jsonl"
    _jsonl(data, [{"id": "d", "body": "thứ nhất"}, {"id": "d", "body": "thứ hai"}])
    summary = store.update_index(tmp_path / "ix", [data])
    assert summary.added == 1 and summary.failed == 1
    with SearchService(tmp_path / "ix") as service:
        assert service.search("thứ nhất").total == 1


def test_delete_articles(fresh_index):
    assert store.delete_articles(fresh_index, ["duong-road", "no-such"]) == 1
    assert not any(i.startswith("duong-road#") for i in _passage_ids(fresh_index))
    with SearchService(fresh_index) as service:
        assert service.article("duong-road") is None


def test_delete_waits_for_the_indexer_then_gives_up(fresh_index):
    ix = store.open_index(fresh_index)
    holder = ix.writer()
    try:
        with pytest.raises(store.IndexBusy, match="another indexer"):
            store.delete_articles(fresh_index, ["duong-road"], wait=0.6)
    finally:
        holder.cancel()
    assert any(i.startswith("duong-road#") for i in _passage_ids(fresh_index))  # untouched
    assert store.delete_articles(fresh_index, ["duong-road"]) == 1  # free again


def test_second_writer_is_refused_with_a_clear_message(fresh_index, corpus_dir, tmp_path):
    data = tmp_path / "new.jsonl"
    _jsonl(data, [{"id": "new", "body": "bài mới"}])
    ix = store.open_index(fresh_index)
    holder = ix.writer()
    try:
        with pytest.raises(store.IndexBusy, match="another indexer"):
            store.update_index(fresh_index, [data], wait=0.6)
    finally:
        holder.cancel()
    assert store.update_index(fresh_index, [data]).added == 1


def test_open_index_errors(tmp_path):
    with pytest.raises(store.IndexUnavailable, match="no index"):
        store.open_index(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(store.IndexUnavailable, match="no index"):
        store.open_index(tmp_path / "empty")


def test_stats(fresh_index):
    info = store.stats(fresh_index)
    assert info.articles >= 30
    assert info.passages > info.articles
    assert info.size_bytes > 0


def test_index_of_another_schema_version_asks_for_a_rebuild(fresh_index):
    (fresh_index / "VERSION").write_text("4\n")
    with pytest.raises(store.IndexUnavailable, match=r"another version.*rebuild"):
        store.open_index(fresh_index)


@pytest.mark.filterwarnings("error::ResourceWarning")
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_index_whose_codec_this_version_lacks_asks_for_a_rebuild(fresh_index):
    """A later version's index may name a codec class this one does not have; its table
    of contents is not left open."""
    (toc,) = fresh_index.glob("_passages_*.toc")
    toc.write_bytes(toc.read_bytes().replace(b"PassageCodec", b"PassageCodeX"))
    with pytest.raises(store.IndexUnavailable, match="cannot be opened") as caught:
        store.open_index(fresh_index)
    del caught  # with it, the frames that held the file
    with pytest.raises(store.IndexUnavailable, match="cannot be opened") as caught:
        store.create_or_open(fresh_index)  # the indexer writes no new index over it
    del caught
    assert store.exists(fresh_index)
    gc.collect()  # a file left open would warn here
    (fresh_index / "VERSION").write_text("6\n")
    with pytest.raises(store.IndexUnavailable, match=r"schema 6.*rebuild"):
        store.open_index(fresh_index)


def test_parallel_workers_index_the_same_passages(tmp_path, corpus_dir, fresh_index):
    """Workers writing their own segments, in several rounds, index what one process does."""
    target = tmp_path / "parallel"
    summary = store.update_index(target, [corpus_dir], workers=2, batch_passages=30)
    assert summary.failed == 0
    single = store.stats(fresh_index)
    parallel = store.stats(target)
    assert parallel.segments > 2
    assert (parallel.articles, parallel.passages) == (single.articles, single.passages)
    assert _passage_ids(target) == _passage_ids(fresh_index)


def test_workers_run_below_normal_priority():
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, initializer=store._start_worker) as pool:
        assert pool.apply(os.nice, (0,)) == min(19, os.nice(0) + store.WORKER_NICENESS)


def _contents(index_dir) -> dict:
    """Everything a search can read: every posting of every field (positions decoded),
    field lengths, columns and stored fields, document by document."""
    with store.open_index(index_dir).reader() as reader:
        postings = decoded_postings(reader)
        docs = range(reader.doc_count_all())
        hashes = reader.column_reader("article_hash")
        return {
            "postings": postings,
            "lengths": [[reader.doc_field_length(d, f) for f in ("text", "word")] for d in docs],
            "hashes": [hashes[d] for d in docs],
            "stored": list(reader.all_stored_fields()),
        }


def test_index_holds_what_pyvis_own_segmentation_gives(tmp_path, monkeypatch):
    """An index built by the product equals one analysed as the indexer did with pyvi's
    tagger: words from pyvi's own sylabelize, features, model and joining rule, and the
    syllables that start within each (``tests/pyvi_reference``). The same terms in every
    field, the same stored fields. Real articles, some in capitals."""
    corpus = write_corpus(tmp_path / "corpus", real=60)
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()[60:75]
    capitals = []
    for line in lines:
        article = json.loads(line)
        capitals.append({"id": article["id"] + "-caps", "body": article["body"].upper()})
    _jsonl(corpus / "capitals.jsonl", capitals)

    summary = store.update_index(tmp_path / "product", [corpus], workers=1)
    assert summary.failed == 0 and summary.passages > 600

    analysed = []

    def pyvi_analysis(texts):
        analysed.extend(texts)
        return [pyvi_reference.analyse_passage(text) for text in texts]

    monkeypatch.setattr(store, "analyse_passages", pyvi_analysis)
    store.update_index(tmp_path / "pyvi", [corpus], workers=1)
    assert len(analysed) == summary.passages  # every passage went through pyvi

    product, pyvi = _contents(tmp_path / "product"), _contents(tmp_path / "pyvi")
    words = [p for p in pyvi["postings"] if p[0] == "word"]
    assert len(words) > 5_000 and any(p[1].decode().startswith("ủy_ban") for p in words)
    for part in ("postings", "lengths", "hashes", "stored"):
        assert product[part] == pyvi[part], part
