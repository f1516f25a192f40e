"""Indexing on a Ray cluster: each shard written by one Ray actor, its articles segmented
and written as Ray tasks on every node.

This process reads the articles and routes them (``sharded.index_sharded``), as a local
run does; a shard's actor is its single writer: it takes the shard's lock, skips the
articles whose content hash it holds, and hands each round's shares to Ray tasks, which
analyse them and write a segment each into the shard's directory (what local worker
processes do); the actor then commits the round's segments at once. Tasks run on any
node when the shards live on a file system every node mounts, on the shard's own node
when it is pinned there (``cluster.ray_connection``).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from indexer.cluster.ray_connection import cluster_cpus, connect, shard_resources
from indexer.corpus.articles import read_paths
from indexer.storage import sharded, store
from indexer.storage.shards import Layout, create_layout
from indexer.storage.store import Summary

IN_FLIGHT = 4  # chunks sent to a writer and not yet taken in


def _run_job(function: Callable, job: Any) -> Any:
    """A worker's job, as a Ray task."""
    return function(job)


class _Pending:
    def __init__(self, ray: Any, refs: list) -> None:
        self.ray, self.refs = ray, refs

    def get(self) -> list:
        return self.ray.get(self.refs)


class RayPool:
    """What ``store.index_articles`` asks of a process pool, with Ray tasks: each job on
    one CPU of the cluster (of the shard's node when the shard is pinned there)."""

    def __init__(self, ray: Any, resources: dict[str, float]) -> None:
        self.ray = ray
        self.task = ray.remote(num_cpus=1, resources=resources or None, max_retries=0)(_run_job)

    def map_async(self, function: Callable, jobs: Iterable, chunksize: int = 1) -> _Pending:
        return _Pending(self.ray, [self.task.remote(function, job) for job in jobs])


class ShardWriter:
    """A Ray actor that brings one shard up to date with the chunks of articles it is
    sent (``put``), until ``finish``; runs ``store.index_articles`` in a thread."""

    def __init__(self, shard_dir: str, options: dict, resources: dict[str, float]) -> None:
        import ray

        self.chunks: queue.Queue = queue.Queue(maxsize=IN_FLIGHT)
        self.summary: Summary | None = None
        self.error: BaseException | None = None
        pool = RayPool(ray, resources)
        self.thread = threading.Thread(
            target=self._run, args=(shard_dir, options, pool), daemon=True
        )
        self.thread.start()

    def _run(self, shard_dir: str, options: dict, pool: RayPool) -> None:
        try:
            self.summary = store.index_articles(
                shard_dir, sharded.drain(self.chunks), pool=pool, **options
            )
        except BaseException as exc:
            self.error = exc
            while True:  # let ``put`` calls waiting on a full queue through
                try:
                    self.chunks.get_nowait()
                except queue.Empty:
                    break

    def put(self, items: list) -> None:
        if self.error is None:
            self.chunks.put(items)

    def finish(self) -> Summary:
        if self.error is None:
            self.chunks.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.summary is not None
        return self.summary


@dataclass
class RayWriters:
    """One ``ShardWriter`` actor per shard of ``layout``, placed on the shard's node when
    it is pinned there, else anywhere."""

    ray: Any
    layout: Layout
    options: dict
    workers: int | None = None
    actors: list = field(default_factory=list)
    pending: list = field(default_factory=list)

    def __post_init__(self) -> None:
        per_shard = self.workers or max(1, cluster_cpus(self.ray) // self.layout.count)
        writer = self.ray.remote(num_cpus=0, max_concurrency=4)(ShardWriter)
        for i, shard in enumerate(self.layout.dirs):
            resources = shard_resources(self.ray, i)
            actor = writer.options(resources=resources or None).remote(
                str(shard), {**self.options, "workers": per_shard}, resources
            )
            self.actors.append(actor)
            self.pending.append([])

    def put(self, shard: int, items: list) -> None:
        waiting = self.pending[shard]
        waiting.append(self.actors[shard].put.remote(items))
        if len(waiting) >= IN_FLIGHT:  # the reader waits for a slow shard
            self.ray.get(waiting.pop(0))

    def finish(self) -> list[Summary]:
        for waiting in self.pending:
            self.ray.get(waiting)
        return self.ray.get([actor.finish.remote() for actor in self.actors])

    def abort(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def update_on_ray(
    address: str,
    index_dir: str | os.PathLike,
    paths: Iterable[str | os.PathLike],
    shards: int | None = None,
    workers: int | None = None,
    **options: Any,
) -> Summary:
    """``sharded.update_sharded`` with the writing done on the Ray cluster at
    ``address``; ``workers``: segmentation tasks per shard at a time (default: the
    cluster's CPUs shared out between the shards)."""
    ray = connect(address)
    layout = create_layout(index_dir, shards)

    def writers(layout: Layout, chosen: dict) -> RayWriters:
        return RayWriters(ray, layout, chosen, workers)

    return sharded.index_sharded(layout, read_paths(paths), writers, **options)
