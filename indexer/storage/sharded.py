"""Bringing a sharded index up to date: every article to its shard, each shard written by
one writer of its own, all shards at once.

This process reads the articles and routes each to its shard (``shards.shard_of``); a
shard's writer brings its shard up to date exactly as ``store.index_articles`` does a
plain index (content hashes, rounds, atomic commits, one lock), so everything promised of
one index holds per shard. The writers run in local processes (``LocalWriters``: a
sharded index also uses every core of one machine) or as Ray actors on a cluster
(``storage.ray_writers``). A read error is sent to every shard's writer, so that none of
them prunes articles it would only have missed.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from whoosh.filedb.filestore import FileStorage

from indexer.corpus.articles import Article, ReadError, read_paths
from indexer.storage import store
from indexer.storage.shards import Layout, create_layout, read_layout, shard_of
from indexer.storage.store import Summary

CHUNK = 200  # articles sent to a shard's writer at a time
IN_FLIGHT = 8  # chunks a writer may have waiting before the reader waits for it
_LOCK = "SHARDS_WRITELOCK"


class Writers(Protocol):
    """The writers of a layout's shards, one per shard, each fed chunks of its articles
    and read errors (``put``), then asked for its summary (``finish``)."""

    def put(self, shard: int, items: list[Article | ReadError]) -> None: ...

    def finish(self) -> list[Summary]: ...

    def abort(self) -> None: ...


def update_sharded(
    index_dir: str | os.PathLike,
    paths: Iterable[str | os.PathLike],
    shards: int | None = None,
    writers: Callable[[Layout, dict], Writers] | None = None,
    **options: Any,
) -> Summary:
    """``store.update_index`` for an index of ``shards`` shards (a new directory), or of
    those the directory already has. ``writers``: how each shard is written (default:
    a local process per shard). ``options`` as for ``store.index_articles``."""
    layout = create_layout(index_dir, shards)
    if not layout.sharded:
        return store.update_index(index_dir, paths, **options)
    return index_sharded(layout, read_paths(paths), writers, **options)


def index_sharded(
    layout: Layout,
    items: Iterable[Article | ReadError],
    writers: Callable[[Layout, dict], Writers] | None = None,
    on_article: Callable[[Article | ReadError], None] | None = None,
    wait: float = 0.0,
    **options: Any,
) -> Summary:
    """Route ``items`` to the shards of ``layout`` and write them there."""
    started = time.monotonic()
    summary = Summary()
    with _sharded_lock(layout.root, wait):
        make = writers or LocalWriters
        running = make(layout, {**options, "wait": wait})
        try:
            chunks: list[list] = [[] for _ in range(layout.count)]
            for item in items:
                if on_article:
                    on_article(item)
                if isinstance(item, ReadError):
                    summary.errors.append(item)
                    for i in range(layout.count):  # every shard learns not to prune
                        chunks[i].append(item)
                    continue
                i = shard_of(item.id, layout.count)
                chunks[i].append(item)
                if len(chunks[i]) >= CHUNK:
                    running.put(i, chunks[i])
                    chunks[i] = []
            for i, chunk in enumerate(chunks):
                if chunk:
                    running.put(i, chunk)
            parts = running.finish()
        except BaseException:
            running.abort()
            raise
    sent = set(summary.errors)
    for part in parts:
        summary.added += part.added
        summary.updated += part.updated
        summary.unchanged += part.unchanged
        summary.deleted += part.deleted
        summary.passages += part.passages
        summary.errors += [e for e in part.errors if e not in sent]  # duplicates, mostly
    summary.seconds = time.monotonic() - started
    return summary


def _sharded_lock(root: Path, wait: float):
    """One indexer at a time for the whole sharded index (each shard's own lock is
    taken by its writer too)."""
    return store.hold_lock(FileStorage(str(root)).lock(_LOCK), wait)


def drain(chunks: queue.Queue) -> Iterator[Article | ReadError]:
    """The items of the chunks put on ``chunks``, until a None."""
    while True:
        chunk = chunks.get()
        if chunk is None:
            return
        yield from chunk


def _write_shard(shard_dir: str, chunks, results, options: dict) -> None:
    """A local shard writer's process: index what arrives, then send the summary (or the
    error that stopped it)."""
    try:
        done = store.index_articles(shard_dir, drain(chunks), **options)
        results.put(("ok", done))
    except BaseException as exc:
        results.put(("error", exc))


@dataclass
class LocalWriters:
    """A process per shard on this machine, the cores shared out between them."""

    layout: Layout
    options: dict
    processes: list = field(default_factory=list)
    queues: list = field(default_factory=list)
    results: Any = None

    def __post_init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.results = context.Queue()
        workers = self.options.pop("workers", None) or os.cpu_count() or 1
        per_shard = max(1, workers // self.layout.count)
        for i, shard in enumerate(self.layout.dirs):
            chunks = context.Queue(maxsize=IN_FLIGHT)
            options = {**self.options, "workers": per_shard}
            process = context.Process(
                # Not a daemon: a writer with several workers starts processes of its own.
                target=_write_shard,
                args=(str(shard), chunks, self.results, options),
            )
            process.start()
            self.processes.append((i, process))
            self.queues.append(chunks)

    def put(self, shard: int, items: list) -> None:
        while True:
            try:
                self.queues[shard].put(items, timeout=1.0)
                return
            except queue.Full:
                self._check_alive()

    def _check_alive(self) -> None:
        for i, process in self.processes:
            if not process.is_alive():
                raise self._failure(f"the writer of shard {i} stopped")

    def _failure(self, message: str) -> BaseException:
        try:
            status, value = self.results.get(timeout=1.0)
        except queue.Empty:
            return RuntimeError(message)
        return value if status == "error" else RuntimeError(message)

    def finish(self) -> list[Summary]:
        for chunks in self.queues:
            chunks.put(None)
        parts = []
        for _ in self.processes:
            status, value = self.results.get()
            if status == "error":
                self.abort()
                raise value
            parts.append(value)
        for _, process in self.processes:
            process.join()
        return parts

    def abort(self) -> None:
        for _, process in self.processes:
            if process.is_alive():
                process.kill()
            process.join(timeout=10)


def delete_sharded(index_dir: str | os.PathLike, article_ids: Iterable[str], wait: float = 0.0):
    """``store.delete_articles`` over the shards: each id in its own shard."""
    layout = read_layout(index_dir)
    if not layout.sharded:
        return store.delete_articles(index_dir, article_ids, wait)
    by_shard: dict[int, list[str]] = {}
    for article_id in article_ids:
        by_shard.setdefault(shard_of(article_id, layout.count), []).append(article_id)
    found = 0
    with _sharded_lock(layout.root, wait):
        for i, ids in sorted(by_shard.items()):
            found += store.delete_articles(layout.dirs[i], ids, wait)
    return found


def sharded_stats(index_dir: str | os.PathLike) -> tuple[store.Stats, int]:
    """``store.stats`` summed over the shards, and how many shards there are."""
    layout = read_layout(index_dir)
    if not layout.sharded:
        return store.stats(index_dir), 1
    parts = [store.stats(d) for d in layout.dirs]
    size = sum(f.stat().st_size for f in layout.root.iterdir() if f.is_file())
    return (
        store.Stats(
            str(index_dir),
            sum(p.articles for p in parts),
            sum(p.passages for p in parts),
            sum(p.segments for p in parts),
            size + sum(p.size_bytes for p in parts),
        ),
        layout.count,
    )
