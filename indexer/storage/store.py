"""Opening the index and bringing it up to date with a set of article files.

One writer per index, and every core busy: this process reads the articles, skips those
whose content hash is already indexed and holds the write lock for the whole run; worker
processes analyse the rest (pyvi's word segmentation, many passages at a time) and each
writes a new Whoosh segment of its own.
After each round of work this process commits the round's segments together with the
deletion of the articles they replace, so a crash loses at most one round and readers
never see an article twice or half-replaced.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.codec.base import Segment
from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.reading import SegmentReader
from whoosh.writing import MERGE_SMALL, NO_MERGE, SegmentWriter

from indexer.analysis.analyzers import analyse_passage, analyse_passages, analyse_syllables
from indexer.analysis.text import fold
from indexer.corpus.articles import Article, ReadError, read_paths
from indexer.storage import vocabulary_files
from indexer.storage.codec import PassageCodec
from indexer.storage.schema import ARTICLE_FIELDS, FILTER_FIELDS, SCHEMA_VERSION, build_schema
from indexer.storage.worker_writer import TEMP_PREFIX, WorkerWriter

INDEX_NAME = "passages"
DEFAULT_INDEX_DIR = "index_data"
# Passages per worker and round: a crash loses at most one round, and each round adds one
# segment per worker, read on every search for a term not yet cached (the whole news
# corpus: 16 segments at 50,000, 8 at 100,000, for ~170 MB more memory per worker).
BATCH_PASSAGES = 100_000
# Indexer workers run at the lowest priority: an indexer started by a scheduler beside a
# running server slows down instead of making searches time out. Alone, it is as fast.
# At nice 10 the server under load (benchmarks/load.py) still lost 6-14 % of its
# requests/s while indexing in four runs of five; at 19, none in three.
WORKER_NICENESS = 19
# Segments stay as separate files: Whoosh 2.7.4 reads a compound segment file by copying
# each part into memory (BytesIO over the map), so every server process would hold a copy
# of the whole index.
COMPOUND = False
MAX_SEGMENTS = 64  # more, and a commit merges the small ones (slow: avoid it)
# Postings per block of a posting list (Whoosh's default is 128). Searches read whole
# posting lists, and each block costs a header, a zlib stream and a pickle: a syllable in
# 100,000 passages is 25 blocks instead of 782. Each segment records its codec, and with
# it this size; any reader reads any size.
BLOCK_POSTINGS = 4096
# Passages analysed together (whole articles, about this many): the segmenter labels a
# batch with a few numpy operations, whatever its size (indexer.analysis.crf).
ANALYSIS_PASSAGES = 2_000


class IndexUnavailable(Exception):
    """The index directory holds no usable index (missing, empty, or unreadable)."""


class IndexBusy(Exception):
    """Another indexer holds the index's write lock."""


@dataclass
class Summary:
    """What one indexing run did, for the closing line and the exit status."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    passages: int = 0
    errors: list[ReadError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.errors)

    def line(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"deleted {self.deleted}, failed {self.failed} articles; "
            f"{self.passages} passages written in {self.seconds:.1f} s"
        )


def index_dir_from_env(value: str | os.PathLike | None = None) -> Path:
    """The index directory: the argument, else $VNSEARCH_INDEX_DIR, else ./index_data."""
    return Path(value or os.environ.get("VNSEARCH_INDEX_DIR") or DEFAULT_INDEX_DIR)


class NoIndex(IndexUnavailable):
    """There is no index in the directory (yet)."""


def exists(index_dir: str | os.PathLike) -> bool:
    """Whether ``index_dir`` holds an index, whether this version can read it or not."""
    try:
        open_index(index_dir).close()
    except NoIndex:
        return False
    except IndexUnavailable:
        return True
    return True


class _OpeningStorage(FileStorage):
    """An index directory that closes the files read while its index is being opened if
    the opening fails: Whoosh's ``TOC.read`` leaves the table of contents open when it
    cannot read it (a codec this version lacks, a damaged file)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self._opening: list | None = []

    def open_file(self, name, **kwargs):
        opened = super().open_file(name, **kwargs)
        if self._opening is not None:
            self._opening.append(opened)
        return opened

    def opened(self) -> None:
        """The index is open: from now on its files are its readers' to close."""
        self._opening = None

    def failed(self) -> None:
        for opened in self._opening or ():
            opened.close()
        self._opening = None


def open_index(index_dir: str | os.PathLike) -> FileIndex:
    """Open an existing index for reading; ``IndexUnavailable`` says why it cannot be."""
    path = Path(index_dir)
    if not path.is_dir():
        raise NoIndex(f"no index at {path}: run 'vnsearch index PATH' first")
    version = path / "VERSION"
    found = version.read_text().strip() if version.is_file() else "?"
    another = IndexUnavailable(
        f"the index in {path} was built by another version of vnsearch (schema {found}, "
        f"this one reads {SCHEMA_VERSION}): rebuild it (delete it, run 'vnsearch index PATH')"
    )
    storage = _OpeningStorage(str(path))
    try:
        ix = FileIndex(storage, indexname=INDEX_NAME)
        storage.opened()
    except whoosh_index.EmptyIndexError:
        storage.failed()
        raise NoIndex(f"no index in {path}: run 'vnsearch index PATH' first") from None
    except Exception as exc:  # Whoosh raises many kinds for a damaged directory
        storage.failed()
        if found not in ("?", str(SCHEMA_VERSION)):  # e.g. a codec this version lacks
            raise another from exc
        raise IndexUnavailable(f"the index in {path} cannot be opened: {exc}") from exc
    if "article_hash" not in ix.schema or found != str(SCHEMA_VERSION):
        raise another
    return ix


def create_or_open(index_dir: str | os.PathLike) -> FileIndex:
    """Open the index for writing, creating an empty one if there is none."""
    path = Path(index_dir)
    path.mkdir(parents=True, exist_ok=True)
    try:
        return open_index(path)
    except NoIndex:
        pass
    ix = whoosh_index.create_in(str(path), build_schema(), indexname=INDEX_NAME)
    (path / "VERSION").write_text(f"{SCHEMA_VERSION}\n")
    return ix


def indexed_hashes(ix: FileIndex) -> dict[str, str]:
    """article id -> content hash of every article in the index."""
    hashes: dict[str, str] = {}
    with ix.reader() as reader:
        if reader.doc_count() == 0:
            return hashes
        column = reader.column_reader("article_hash")
        for docnum in reader.all_doc_ids():
            value = column[docnum]
            if value:
                article_id, _, digest = value.decode("utf-8").rpartition(" ")
                hashes[article_id] = digest
    return hashes


def passage_documents(article: Article, digest: str) -> list[dict]:
    """The index documents of one article, analysed."""
    ((_, documents),) = article_documents([(article, digest)])
    return documents


def article_documents(
    jobs: Iterable[tuple[Article, str]],
) -> Iterator[tuple[Article, list[dict]]]:
    """Each (article, content hash) with its index documents, the passages of about
    ``ANALYSIS_PASSAGES`` at a time analysed together: what workers compute."""
    jobs = iter(jobs)
    while True:
        group = []
        size = 0
        for article, digest in jobs:
            group.append((article, digest, _passages(article)))
            size += len(group[-1][2])
            if size >= ANALYSIS_PASSAGES:
                break
        if not group:
            return
        views = iter(analyse_passages([text for *_, passages in group for text, _ in passages]))
        for article, digest, passages in group:
            title = analyse_syllables(article.title)
            first, rest = _metadata(article, digest)
            documents = []
            for number, (text, kind) in enumerate(passages):
                view = next(views)
                doc = {
                    "article_id": article.id,
                    "paragraph": number,
                    "kind": kind,
                    "title": title,
                    "_stored_title": article.title,
                    "text": view["text"],
                    "_stored_text": text,
                    "word": view["word"],
                    "folded": " ".join(view["folded"]),
                }
                doc.update(rest if number else first)
                documents.append(doc)
            yield article, documents


def _passages(article: Article) -> tuple[tuple[str, str], ...]:
    """(text, kind) of each passage; an article without paragraphs is its title alone,
    which is then still findable."""
    if not article.paragraphs:
        return ((article.title, "title"),)
    return tuple((p.text, p.kind) for p in article.paragraphs)


def _metadata(article: Article, digest: str) -> tuple[dict, dict]:
    """The fields of an article's first passage and of the others beside their text:
    the hash and the metadata are stored with the first only, the date is indexed in
    every passage, and so are the filter keys."""
    keys = {}
    for name in FILTER_FIELDS:
        value = getattr(article, name)
        if value:
            keys[f"{name}_key"] = fold(value)
    first = {"article_hash": f"{article.id} {digest}".encode(), **keys}
    for name in ARTICLE_FIELDS:
        value = getattr(article, name)
        if value:
            first[name] = value
    rest = dict(keys)
    if article.date:
        rest["date"], rest["_stored_date"] = article.date, None  # indexed, not stored
    return first, rest


def _codec() -> PassageCodec:
    """The codec of every segment this product writes, merged ones included: Whoosh
    records it in the segment, and every reader of the segment reads through it."""
    return PassageCodec(blocklimit=BLOCK_POSTINGS)


def _segment_writer(ix: FileIndex) -> SegmentWriter:
    """A writer of separate segment files in the product's codec, taking no lock."""
    return SegmentWriter(ix, _lk=False, compound=COMPOUND, codec=_codec())


def _write_segment(job: tuple[str, list[tuple[Article, str]]]) -> tuple[Segment | None, list]:
    """Analyse a share of a round's articles and write them as a new segment of their own.

    Runs in a worker: analysis and Whoosh's writing, mostly Python, then use every core.
    The segment stays invisible until the parent lists it in a commit. The share's list
    is emptied as its articles are analysed: their text then lives in the segment being
    written, not twice.
    """
    index_dir, batch = job
    ix = whoosh_index.open_dir(index_dir, indexname=INDEX_NAME)
    writer = WorkerWriter(ix, _codec(), COMPOUND)
    counts = []
    try:
        for article, documents in article_documents(_drained(batch)):
            for doc in documents:
                writer.add_document(**doc)
            counts.append((article.id, len(documents)))
        if not writer._added:
            writer.cancel()
            return None, counts
        segment = writer._finalize_segment()
        writer._finish()
        with SegmentReader(ix.storage, ix.schema, segment) as reader:
            vocabulary_files.write(reader)
        return segment, counts
    except BaseException:
        writer.cancel()
        raise


def _drained(items: list) -> Iterator:
    """The items of a list in order, each removed from it as it is taken."""
    items.reverse()
    while items:
        yield items.pop()


def _start_worker() -> None:
    """Yield the CPU to a server on the same machine, then load the segmenter once."""
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    analyse_passage("khởi động")


def _write_lock(ix: FileIndex, wait: float):
    """Hold the index's write lock (an flock: freed if this process dies)."""
    return hold_lock(ix.lock("WRITELOCK"), wait)


@contextmanager
def hold_lock(lock, wait: float) -> Iterator[None]:
    """Hold ``lock`` (a Whoosh file lock), waiting at most ``wait`` seconds for another
    indexer to let it go (``IndexBusy``)."""
    deadline = time.monotonic() + wait
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise IndexBusy(
                "another indexer is writing to this index; try again later or use --wait"
            )
        time.sleep(0.5)
    try:
        yield
    finally:
        lock.release()


def _commit(ix: FileIndex, new_segments: list[Segment], replaced: Iterable[str]) -> None:
    """Make the round's segments visible, the replaced articles' old passages gone, at once."""
    writer = _segment_writer(ix)
    try:
        for article_id in replaced:
            writer.delete_by_term("article_id", article_id)
        # Merge only when segments pile up: merging rewrites every posting, in this process.
        many = len(writer.segments) + len(new_segments) > MAX_SEGMENTS
        final = writer._merge_segments(MERGE_SMALL if many else NO_MERGE, False, True)
        final = final + new_segments
        if writer._added:
            final.append(writer._finalize_segment())
        else:
            writer._close_segment()
        writer._commit_toc(final)
    except BaseException:
        writer.cancel()
        raise
    writer._finish()
    vocabulary_files.ensure(ix)  # a merged segment has no file yet


def _rounds(jobs: Iterator[tuple[Article, str]], shares: int, batch_passages: int):
    """Rounds of work: ``shares`` lists of articles with about ``batch_passages`` each."""
    while True:
        round_: list[list[tuple[Article, str]]] = [[] for _ in range(shares)]
        sizes = [0] * shares
        for job in jobs:
            i = sizes.index(min(sizes))
            round_[i].append(job)
            sizes[i] += max(1, len(job[0].paragraphs))
            if min(sizes) >= batch_passages:
                break
        if not any(round_):
            return
        yield [share for share in round_ if share]


def update_index(
    index_dir: str | os.PathLike, paths: Iterable[str | os.PathLike], **options: Any
) -> Summary:
    """Bring the index up to date with the articles under ``paths`` (``options`` as for
    ``index_articles``: workers, wait, on_article, batch_passages, prune).

    Unchanged articles (same content hash) are skipped; a changed article's passages are
    all replaced. ``on_article`` is called once per article read, for progress reports.
    """
    return index_articles(index_dir, read_paths(paths), **options)


def index_articles(
    index_dir: str | os.PathLike,
    items: Iterable[Article | ReadError],
    workers: int = 1,
    wait: float = 0.0,
    on_article: Callable[[Article | ReadError], None] | None = None,
    batch_passages: int = BATCH_PASSAGES,
    prune: bool = False,
    pool: Any = None,
) -> Summary:
    """``update_index`` over articles already read (or read errors to report).

    ``prune`` deletes indexed articles that were not among ``items``, unless some input
    could not be read (its articles would look gone and be lost). ``pool``: where the
    workers' jobs run instead of local processes (``map_async`` as a multiprocessing
    pool's: Ray tasks, ``storage.ray_writers``), ``workers`` of them at a time.
    """
    started = time.monotonic()
    summary = Summary()
    ix = create_or_open(index_dir)
    known = indexed_hashes(ix)
    seen: set[str] = set()

    def jobs() -> Iterator[tuple[Article, str]]:
        for item in items:
            if on_article:
                on_article(item)
            if isinstance(item, ReadError):
                summary.errors.append(item)
                continue
            if item.id in seen:
                summary.errors.append(
                    ReadError(item.origin, None, f"duplicate article id {item.id!r}, skipped")
                )
                continue
            seen.add(item.id)
            digest = item.content_hash()
            if known.get(item.id) == digest:
                summary.unchanged += 1
                continue
            yield item, digest

    own_pool = pool is None and workers > 1
    if own_pool:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(workers, initializer=_start_worker)
    path = str(Path(index_dir))
    try:
        with _write_lock(ix, wait):
            for leftover in Path(index_dir).glob(f"{TEMP_PREFIX}*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)  # from a killed run
            rounds = _rounds(jobs(), workers, batch_passages)
            round_ = next(rounds, None)
            while round_ is not None:
                shares = [(path, share) for share in round_]
                if pool is not None:
                    pending = pool.map_async(_write_segment, shares, chunksize=1)
                    # Read the next round while the workers analyse and write this one:
                    # otherwise both cores wait for this process at every round.
                    del shares, round_
                    round_ = next(rounds, None)
                    results = pending.get()
                else:
                    results = [_write_segment(share) for share in shares]
                    round_ = next(rounds, None)
                replaced = []
                for _, counts in results:
                    for article_id, passages in counts:
                        if article_id in known:
                            replaced.append(article_id)
                            summary.updated += 1
                        else:
                            summary.added += 1
                        summary.passages += passages
                _commit(ix, [segment for segment, _ in results if segment], replaced)
            gone = sorted(set(known) - seen) if prune and not summary.errors else []
            if gone:
                _commit(ix, [], gone)
                summary.deleted = len(gone)
    finally:
        if own_pool:
            pool.terminate()
            pool.join()
    summary.seconds = time.monotonic() - started
    return summary


def delete_articles(index_dir: str | os.PathLike, article_ids: Iterable[str], wait: float = 0.0):
    """Remove articles and all their passages; returns how many were in the index."""
    ix = open_index(index_dir)
    with _write_lock(ix, wait):
        known = indexed_hashes(ix)
        found = sorted({article_id for article_id in article_ids if article_id in known})
        if found:
            _commit(ix, [], found)
    return len(found)


@dataclass(frozen=True)
class Stats:
    """What is in the index, for ``vnsearch stats``."""

    path: str
    articles: int
    passages: int
    segments: int
    size_bytes: int


def stats(index_dir: str | os.PathLike) -> Stats:
    ix = open_index(index_dir)
    with ix.searcher() as searcher:
        passages = searcher.doc_count()
        segments = len(searcher.reader().leaf_readers())
    articles = len(indexed_hashes(ix))
    size = sum(f.stat().st_size for f in Path(index_dir).iterdir() if f.is_file())
    return Stats(str(index_dir), articles, passages, segments, size)
