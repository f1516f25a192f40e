"""The product's codec: recorded in every segment, found by any process that opens the
index, and the only way the product reads and writes Whoosh's files."""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from whoosh.codec import whoosh3
from whoosh.filedb.structfile import StructFile
from whoosh.formats import Existence

from indexer.corpus.articles import Article, Paragraph
from indexer.ranking import postings
from indexer.storage import store
from indexer.storage.codec import (
    PassageCodec,
    PassageLeafMatcher,
    PassagePerDocReader,
    PassageTermsReader,
    PreadFile,
)


def _plain_python(script: str, *args: str, stdin: str = "", cwd: Path) -> str:
    """Run ``script`` in a fresh interpreter, away from the source tree: what it imports
    of the product comes from the installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_codec_pickles_as_its_name_and_settings():
    codec = PassageCodec(blocklimit=4096)
    data = pickle.dumps(codec, 2)
    assert b"indexer.storage.codec" in data and b"PassageCodec" in data
    assert b"_blocklimit" not in data  # not the base class's attributes: the settings
    again = pickle.loads(data)
    assert type(again) is PassageCodec
    assert (again._blocklimit, again._compression, again._inlinelimit) == (4096, 3, 1)


def test_every_segment_records_the_codec_merged_ones_too(tmp_path, corpus_dir, monkeypatch):
    target = tmp_path / "index"
    store.update_index(target, [corpus_dir], workers=2, batch_passages=40)
    before = {s.segment_id() for s in store.open_index(target)._segments()}
    monkeypatch.setattr(store, "MAX_SEGMENTS", 2)  # merge small segments (five or more)
    for i in range(4):
        article = Article(f"new-{i}", "Tin mới", (Paragraph(f"Mưa lớn ở Lạng Sơn, bản {i}."),))
        store.index_articles(target, [article], workers=1)
    segments = store.open_index(target)._segments()
    assert before - {s.segment_id() for s in segments}  # some were merged away
    for segment in segments:
        codec = segment.codec()
        assert type(codec) is PassageCodec
        assert codec._blocklimit == store.BLOCK_POSTINGS
    (toc,) = target.glob("_passages_*.toc")
    assert b"PassageCodec" in toc.read_bytes() and b"W3Codec" not in toc.read_bytes()


def test_readers_are_the_codecs_own(index_dir):
    with store.open_index(index_dir).reader() as reader:
        for leaf, _ in reader.leaf_readers():
            assert isinstance(leaf._terms, PassageTermsReader)
            assert isinstance(leaf._terms._postfile, PreadFile)
            assert isinstance(leaf._perdoc, PassagePerDocReader)
            matcher = leaf.postings("text", "sơn")
            assert isinstance(matcher, PassageLeafMatcher)


def _first_blocks(index_dir, fieldname: str, term: str):
    """(compression, the stored tuple) of the first block of ``term`` in every segment,
    read from the postings file as it is."""
    found = []
    with store.open_index(index_dir).reader() as reader:
        for leaf, _ in reader.leaf_readers():
            m = leaf.postings(fieldname, term)
            data = m._postfile.get(m._dataoffset, m._nextoffset - m._dataoffset)
            found.append(
                (m._compression, pickle.loads(zlib.decompress(data) if m._compression else data))
            )
    return found


def test_blocks_are_written_in_the_compact_layout(index_dir):
    (text,) = _first_blocks(index_dir, "text", "của")  # 16 postings: past squeezing size
    compression, (ids, weights, values) = text
    assert compression == 0  # positions: each part compressed on its own
    assert isinstance(ids, bytes) and ids[:1] in (b"H", b"h")
    assert isinstance(weights, bytes | float | None)
    assert values[0] == "p" and isinstance(values[1], bytes)
    (word,) = _first_blocks(index_dir, "word", "công_ty")
    compression, (ids, _, values) = word
    assert compression == 3  # counts only: the block compressed whole
    assert isinstance(ids, bytes) and ids[:1] == b"H"


def test_field_lengths_equal_whooshs_own(index_dir):
    with store.open_index(index_dir).reader() as reader:
        for leaf, _ in reader.leaf_readers():
            perdoc = leaf._perdoc
            for fieldname in ("text", "word", "title", "article_id"):
                for docnum in range(perdoc.doc_count_all()):
                    whooshs = whoosh3.W3PerDocReader.doc_field_length(perdoc, docnum, fieldname)
                    assert perdoc.doc_field_length(docnum, fieldname) == whooshs


def test_stored_fields_equal_whooshs_own(index_dir):
    read = 0
    with store.open_index(index_dir).reader() as reader:
        for leaf, _ in reader.leaf_readers():
            perdoc = leaf._perdoc
            assert perdoc._stored_column() is not None  # the fast path
            for docnum in range(perdoc.doc_count_all()):
                whooshs = whoosh3.W3PerDocReader.stored_fields(perdoc, docnum)
                assert perdoc.stored_fields(docnum) == whooshs
                read += bool(whooshs)
    assert read > 100


# Only Whoosh, as a user's own script would: the codec comes from the index's TOC.
PLAIN_WHOOSH = """
import json, sys
from whoosh import index

ix = index.open_dir(sys.argv[1], indexname="passages")
terms = json.load(sys.stdin)
out = {"codecs": [type(s.codec()).__name__ for s in ix._segments()], "postings": {}}
with ix.searcher() as searcher:
    for fieldname, text in terms:
        m = searcher.postings(fieldname, text)
        ids, weights = [], []
        while m.is_active():
            ids.append(m.id())
            weights.append(m.weight())
            m.next()
        entry = {"ids": ids, "weights": weights}
        if fieldname == "text":
            entry["positions"] = list(searcher.postings(fieldname, text).items_as("positions"))
        else:
            entry["frequency"] = list(searcher.postings(fieldname, text).items_as("frequency"))
        out["postings"][f"{fieldname}:{text}"] = entry
    reader = searcher.reader()
    out["stored"] = {d: searcher.stored_fields(d) for d in reader.all_doc_ids()}
    out["lengths"] = [
        searcher.doc_field_length(d, "text") or 0 for d in range(reader.doc_count_all())
    ]
out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("indexer", "webapp", "pyvi"))
print(json.dumps(out, ensure_ascii=False))
"""


def test_plain_whoosh_in_another_process_reads_what_the_product_reads(
    tmp_path, corpus_dir, monkeypatch
):
    """A process that never imports the product, ``whoosh.index.open_dir`` alone, reads
    the same postings, positions, lengths and stored fields: Whoosh finds the codec."""
    target = tmp_path / "index"
    monkeypatch.setattr(store, "BLOCK_POSTINGS", 16)  # lists of many blocks
    store.update_index(target, [corpus_dir], workers=1, batch_passages=40)
    store.delete_articles(target, ["duong-road"])

    cache = postings.PostingsCache()
    expected = {}
    with store.open_index(target).reader() as reader:
        assert len(reader.leaf_readers()) > 1 and reader.has_deletions()
        terms = []
        for fieldname in ("text", "word", "title"):
            every = sorted(
                {t for leaf, _ in reader.leaf_readers() for t, _ in leaf.iter_field(fieldname)}
            )
            terms += [(fieldname, t.decode("utf-8")) for t in every[::7]]
        for fieldname, text in terms:
            ids, weights = cache.postings(reader, fieldname, text.encode("utf-8"))
            entry = {"ids": ids.tolist(), "weights": weights.astype(float).tolist()}
            if fieldname == "text":
                keys = cache.positions(reader, "text", text.encode("utf-8"))
                docs = (keys >> postings.POSITION_BITS).tolist()
                places = (keys & ((1 << postings.POSITION_BITS) - 1)).tolist()
                grouped: dict[int, list[int]] = {}
                for doc, place in zip(docs, places, strict=True):
                    grouped.setdefault(doc, []).append(place)
                entry["positions"] = [[d, p] for d, p in grouped.items()]
            else:
                entry["frequency"] = [
                    [d, int(w)] for d, w in zip(ids.tolist(), weights, strict=True)
                ]
            expected[f"{fieldname}:{text}"] = entry
        stored = {}
        for leaf, offset in reader.leaf_readers():
            for docnum in leaf.all_doc_ids():
                fields = whoosh3.W3PerDocReader.stored_fields(leaf._perdoc, docnum)
                stored[str(docnum + offset)] = fields
        lengths = postings.all_lengths(reader, "text").tolist()
    assert len(terms) > 300

    out = json.loads(
        _plain_python(PLAIN_WHOOSH, str(target), stdin=json.dumps(terms), cwd=tmp_path)
    )
    assert set(out["codecs"]) == {"PassageCodec"}
    # Whoosh imported what the TOC names (the codec; the schema's formats and analysers)
    assert "indexer.storage.codec" in out["modules"]
    assert not {"indexer.storage.store", "indexer.ranking.postings", "webapp", "pyvi"} & set(
        out["modules"]
    )
    assert out["postings"] == expected
    assert out["stored"] == stored
    assert out["lengths"] == lengths


# Every Whoosh module and class, before and after importing every module of the product.
NO_PATCHES = """
import importlib, json, pkgutil, sys
import whoosh


def whoosh_modules():
    for info in pkgutil.walk_packages(whoosh.__path__, "whoosh.", onerror=lambda name: None):
        try:
            importlib.import_module(info.name)
        except Exception:  # optional dependencies (Google App Engine, ...)
            pass
    return {n: m for n, m in sys.modules.items() if n.split(".")[0] == "whoosh" and m}


def snapshot():
    found = {}
    for name, module in whoosh_modules().items():
        found[name] = dict(vars(module))
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                found[f"{name}.{value.__qualname__}"] = dict(vars(value))
    return found


def shallow(value):
    if isinstance(value, dict):
        return dict(value)
    return list(value) if isinstance(value, (list, set)) else None


before = snapshot()
contents = {k: {a: shallow(v) for a, v in d.items()} for k, d in before.items()}
imported = []
for package in ("indexer", "webapp"):
    top = importlib.import_module(package)
    for info in pkgutil.walk_packages(top.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
            imported.append(info.name)
after = snapshot()
changed = []
for key in before.keys() | after.keys():
    old, new = before.get(key, {}), after.get(key, {})
    for attr in old.keys() | new.keys():
        if attr not in old or attr not in new or old[attr] is not new[attr]:
            changed.append(f"{key}.{attr}")
        elif contents[key][attr] != shallow(new[attr]):
            changed.append(f"{key}.{attr} (contents)")
print(json.dumps({"modules": len(before), "imported": imported, "changed": sorted(changed)}))
"""


def test_importing_the_product_changes_nothing_in_whoosh(tmp_path):
    out = json.loads(_plain_python(NO_PATCHES, cwd=tmp_path))
    assert out["modules"] > 50
    assert {
        "indexer.storage.store",
        "indexer.ranking.postings",
        "indexer.storage.codec",
        "webapp.api",
    } <= set(out["imported"])
    assert out["changed"] == []


@pytest.mark.parametrize("level", [0, 3])
def test_values_of_one_size_are_written_as_whoosh_writes_them(level):
    """A format whose values all have one size (here: none) keeps Whoosh's encoding of
    them inside the compact block, and the block is compressed whole."""
    out = StructFile(io.BytesIO())
    writer = PassageCodec(compression=level).postings_writer(out)
    writer.start_postings(Existence(), whoosh3.W3TermInfo())
    for docnum in (3, 5, 70_000):
        writer.add_posting(docnum, 1.0, b"")
    offset, length = writer.finish_postings().extent()
    matcher = PassageLeafMatcher(
        StructFile(io.BytesIO(out.file.getvalue())), offset, length, Existence()
    )
    assert matcher._compression == level
    assert list(matcher.all_ids()) == [3, 5, 70_000]
    matcher.reset()
    assert matcher._data is None and matcher.weight() == 1.0 and matcher.value() is None
    assert matcher._data[0][:1] == b"I" and matcher._data[1:] == (None, None)
