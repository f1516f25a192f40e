"""Asking every shard at once on a Ray cluster: each shard served by Ray actors.

``vnsearch serve --ray ADDRESS --replicas R`` starts R actors per shard (``start``),
named after the index and the shard, detached from the server so that every server
process finds the same ones, placed on the shard's node when it is pinned there and
restarted by Ray when one dies; the server's processes reach them through
``RayShards``, the coordinator's ``Fanout`` on Ray. A shard whose actors do not answer
within the time limit is counted as failed in that answer (Elasticsearch's
``_shards``); the next calls reach it again once Ray has restarted it.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
import time
from typing import Any

from indexer.cluster.ray_connection import NAMESPACE, connect, shard_resources
from indexer.search.errors import BadRequest, IndexUnavailable, SearchTimeout
from indexer.search.fanout import ShardFailure, checked_answer, checked_answers
from indexer.search.live_index import REFRESH_EVERY_S
from indexer.search.shard import Shard
from indexer.storage.shards import read_layout

STARTUP_S = 120.0  # how long the actors may take to open their shards


class ShardActor:
    """One replica of one shard, as a Ray actor."""

    def __init__(self, index_dir: str, number: int) -> None:
        self.shard = Shard(index_dir, number)

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.shard, method)(*args)

    def pid(self) -> int:
        return os.getpid()


def actor_name(index_dir: str | os.PathLike, shard: int, replica: int) -> str:
    """The name of a replica's actor: the same in every process serving the index."""
    key = hashlib.sha1(os.path.abspath(index_dir).encode("utf-8", "surrogatepass")).hexdigest()
    return f"vnsearch-{key[:12]}-shard{shard}-replica{replica}"


def _actor_class(ray: Any):
    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(ShardActor)


def _replicas(ray: Any, index_dir: str | os.PathLike, replicas: int) -> list[list]:
    """The actors of each shard of ``index_dir``, started unless they are running:
    spread over the nodes, or on the shard's own node when it is pinned there."""
    actor = _actor_class(ray)
    out = []
    for i, shard in enumerate(read_layout(index_dir).dirs):
        resources = shard_resources(ray, i)
        out.append(
            [
                actor.options(
                    name=actor_name(index_dir, i, r),
                    namespace=NAMESPACE,
                    lifetime="detached",  # shared by every server process
                    get_if_exists=True,
                    scheduling_strategy="DEFAULT" if resources else "SPREAD",
                    resources=resources or None,
                ).remote(str(shard), i)
                for r in range(replicas)
            ]
        )
    return out


def start(address: str, index_dir: str | os.PathLike, replicas: int = 1) -> list:
    """Start (or find) the actors serving every shard of ``index_dir``, and wait until
    each has opened its shard; returns them."""
    ray = connect(address)
    actors = [a for shard in _replicas(ray, index_dir, replicas) for a in shard]
    ray.get([a.call.remote("info", frozenset()) for a in actors], timeout=STARTUP_S)
    return actors


def stop(address: str, index_dir: str | os.PathLike, replicas: int = 1) -> None:
    """End the actors ``start`` started for ``index_dir``."""
    ray = connect(address)
    for i in range(read_layout(index_dir).count):
        for r in range(replicas):
            with contextlib.suppress(ValueError):  # not there
                ray.kill(ray.get_actor(actor_name(index_dir, i, r), namespace=NAMESPACE))


class RayShards:
    """The shards of ``index_dir`` served by Ray actors on the cluster at ``address``:
    joined when first asked (in each server process), each call sent to one replica of
    every shard, the next replica tried when one has died."""

    # Seconds between looks at the shards' statistics: as often as a shard refreshes.
    refresh_every = REFRESH_EVERY_S

    def __init__(self, address: str, index_dir: str | os.PathLike, replicas: int = 1) -> None:
        self.address = address
        self.index_dir = index_dir
        self.replicas = replicas
        self.count = read_layout(index_dir).count
        self._actors: list[list] | None = None
        self._turn = itertools.count(os.getpid())
        self._lock = threading.Lock()

    def _ray_and_actors(self) -> tuple[Any, list[list]]:
        with self._lock:
            try:
                ray = connect(self.address)
            except Exception as exc:  # ClusterUnavailable, and Ray's own
                raise IndexUnavailable(str(exc)) from None
            if self._actors is None:
                self._actors = _replicas(ray, self.index_dir, self.replicas)
            return ray, self._actors

    def each(self, method: str, args: list[tuple], timeout: float | None) -> list:
        ray, actors = self._ray_and_actors()
        waited = timeout if timeout is not None else STARTUP_S
        deadline = time.monotonic() + waited
        turn = next(self._turn)
        tried = [0] * self.count
        calls = {}
        for i in range(self.count):
            calls[self._send(actors, i, turn, method, args[i])] = i
        out: list[Any] = [None] * self.count
        while calls:
            left = max(0.0, deadline - time.monotonic())
            ready, _ = ray.wait(list(calls), num_returns=1, timeout=left)
            if not ready:
                break
            i = calls.pop(ready[0])
            answer = self._answer(ray, ready[0], i)
            if getattr(answer, "died", False) and tried[i] + 1 < self.replicas:
                tried[i] += 1  # another replica of the shard
                calls[self._send(actors, i, turn + tried[i], method, args[i])] = i
                continue
            out[i] = answer
        for i in calls.values():
            out[i] = ShardFailure(i, f"no answer within {waited:g} s", timeout=True)
        return [
            ShardFailure(a.shard, a.reason, a.timeout) if isinstance(a, _Died) else a
            for a in checked_answers(out)
        ]

    @staticmethod
    def _send(actors: list[list], shard: int, turn: int, method: str, args: tuple):
        replicas = actors[shard]
        return replicas[turn % len(replicas)].call.remote(method, *args)

    @staticmethod
    def _answer(ray: Any, ref: Any, shard: int) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            return _Died(shard, f"its actor died ({type(exc).__name__})")
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if hasattr(exc, "cause") else exc
            if isinstance(cause, BadRequest):
                return cause
            return ShardFailure(shard, str(cause), timeout=isinstance(cause, SearchTimeout))
        except ray.exceptions.RayError as exc:
            return ShardFailure(shard, f"{type(exc).__name__}: {exc}")

    def one(self, shard: int, method: str, args: tuple, timeout: float | None) -> Any:
        ray, actors = self._ray_and_actors()
        ref = self._send(actors, shard, next(self._turn), method, args)
        ready, _ = ray.wait([ref], timeout=timeout)
        if not ready:
            raise IndexUnavailable(f"shard {shard} did not answer within {timeout:g} s")
        return checked_answer(shard, self._answer(ray, ref, shard))  # a _Died is a failure

    def close(self) -> None:
        """The actors stay: other server processes share them (``stop`` ends them)."""


class _Died(ShardFailure):
    """A replica whose actor died: the next replica may answer instead."""

    died = True
