"""Asking every shard at once, on this machine: in this process, or one process per shard.

The coordinator (``search.service``) calls a shard method on every shard (``each``) or on
one (``one``) and gets, for each shard, its answer or a ``ShardFailure`` (it did not
answer within the time limit, its process died, its index cannot be read). The same
calls go to Ray actors on a cluster through ``search.ray_fanout``.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from indexer.search.errors import BadRequest, IndexUnavailable, SearchTimeout
from indexer.search.live_index import REFRESH_EVERY_S
from indexer.search.shard import Shard


@dataclass(frozen=True)
class ShardFailure:
    """A shard that gave no answer, and why."""

    shard: int
    reason: str
    timeout: bool = False


class Fanout(Protocol):
    """The shards of one index, as the coordinator reaches them."""

    count: int

    def each(
        self, method: str, args: Sequence[tuple], timeout: float | None
    ) -> list[Any | ShardFailure]:
        """``method(*args[i])`` on every shard i, at once."""

    def one(self, shard: int, method: str, args: tuple, timeout: float | None) -> Any:
        """``method(*args)`` on one shard; ``IndexUnavailable`` when it cannot answer."""

    def close(self) -> None: ...


def checked_answers(out: list) -> list:
    """Every shard's answer, once none of them refused the request: a request one shard
    refuses, every shard refuses alike, and the user is told why."""
    for item in out:
        if isinstance(item, BadRequest):
            raise item
    return out


def checked_answer(shard: int, answer: Any) -> Any:
    """One shard's answer, or the error its refusal or failure stands for."""
    if isinstance(answer, BadRequest):
        raise answer
    if isinstance(answer, ShardFailure):
        raise IndexUnavailable(f"shard {shard} did not answer: {answer.reason}")
    return answer


def _failure(shard: int, exc: BaseException) -> ShardFailure:
    if isinstance(exc, SearchTimeout):
        return ShardFailure(shard, str(exc), timeout=True)
    return ShardFailure(shard, f"{type(exc).__name__}: {exc}")


class LocalShards:
    """Shards opened in this process, asked one after the other: a plain index (one
    shard), and the command line's searches of a sharded one."""

    def __init__(self, dirs: Sequence[str | os.PathLike]) -> None:
        self.shards = [Shard(d, i) for i, d in enumerate(dirs)]
        self.count = len(self.shards)

    def each(self, method, args, timeout=None):
        out: list[Any] = []
        for i, (shard, call_args) in enumerate(zip(self.shards, args, strict=True)):
            try:
                out.append(getattr(shard, method)(*call_args))
            except BadRequest:
                raise
            except (SearchTimeout, IndexUnavailable) as exc:
                if self.count == 1:  # a plain index says so, as it always did
                    raise
                out.append(_failure(i, exc))
        return out

    def one(self, shard, method, args, timeout=None):
        return getattr(self.shards[shard], method)(*args)

    def close(self) -> None:
        for shard in self.shards:
            shard.close()


def _serve(index_dir: str, number: int, connection: Connection) -> None:
    """A shard's process: answer the coordinator's calls until it hangs up."""
    shard = Shard(index_dir, number)
    while True:
        try:
            method, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            answer = ("ok", getattr(shard, method)(*args))
        except Exception as exc:  # sent back; the coordinator decides
            answer = ("error", exc)
        try:
            connection.send(answer)
        except Exception as exc:  # an answer that cannot be pickled
            connection.send(("error", IndexUnavailable(f"{type(exc).__name__}: {exc}")))


class _Process:
    """One shard's process and the pipe to it; started when first asked (in each server
    worker: gunicorn forks workers after loading the app) and again after it failed."""

    def __init__(self, index_dir: str, number: int) -> None:
        self.index_dir = index_dir
        self.number = number
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None
        self.owner = 0  # the process that started it

    def send(self, message: tuple) -> Connection:
        if self.process is None or self.owner != os.getpid() or not self.process.is_alive():
            self.start()
        assert self.connection is not None
        self.connection.send(message)
        return self.connection

    def start(self) -> None:
        self.stop()
        context = multiprocessing.get_context("spawn")
        mine, theirs = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(self.index_dir, self.number, theirs),
            daemon=True,
            name="vnsearch-shard",
        )
        self.process.start()
        theirs.close()
        self.connection, self.owner = mine, os.getpid()

    def stop(self) -> None:
        """End the process (after a failure its pipe may hold a late answer)."""
        if self.process is not None and self.owner == os.getpid():
            self.process.kill()
            self.process.join(timeout=5)
        if self.connection is not None:
            self.connection.close()
        self.process = self.connection = None


class ProcessShards:
    """One process per shard, asked at once: a sharded index searched on every core of
    this machine. A shard that does not answer in time is restarted."""

    # Seconds between looks at the shards' statistics: as often as a shard refreshes.
    refresh_every = REFRESH_EVERY_S

    def __init__(self, dirs: Sequence[str | os.PathLike]) -> None:
        self.processes = [_Process(str(Path(d)), i) for i, d in enumerate(dirs)]
        self.count = len(self.processes)
        self._lock = threading.Lock()  # one call at a time over each pipe

    def each(self, method, args, timeout=None):
        with self._lock:
            waiting: dict[Connection, int] = {}
            out: list[Any] = [None] * self.count
            for i, (process, call_args) in enumerate(zip(self.processes, args, strict=True)):
                try:
                    waiting[process.send((method, call_args))] = i
                except (OSError, ValueError) as exc:
                    process.stop()
                    out[i] = _failure(i, exc)
            deadline = None if timeout is None else time.monotonic() + timeout
            while waiting:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready = wait(list(waiting), timeout=left)
                if not ready:
                    break
                for connection in ready:
                    i = waiting.pop(connection)
                    out[i] = self._answer(i, connection)
            for i in waiting.values():  # no answer in time: its late answer must not be read
                self.processes[i].stop()
                out[i] = ShardFailure(i, f"no answer within {timeout:g} s", timeout=True)
            return checked_answers(out)

    def _answer(self, i: int, connection: Connection) -> Any:
        try:
            status, value = connection.recv()
        except (EOFError, OSError) as exc:  # the process died
            self.processes[i].stop()
            return ShardFailure(i, f"the shard's process ended ({exc or 'EOF'})")
        if status == "ok":
            return value
        if isinstance(value, BadRequest):
            return value
        return _failure(i, value)

    def one(self, shard, method, args, timeout=None):
        with self._lock:
            process = self.processes[shard]
            try:
                connection = process.send((method, args))
            except (OSError, ValueError) as exc:
                process.stop()
                raise IndexUnavailable(f"shard {shard} did not answer: {exc}") from None
            if not connection.poll(timeout):
                process.stop()
                raise IndexUnavailable(f"shard {shard} did not answer within {timeout:g} s")
            answer = self._answer(shard, connection)
        return checked_answer(shard, answer)

    def close(self) -> None:
        for process in self.processes:
            process.stop()
