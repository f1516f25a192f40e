"""A sharded index: N ordinary indexes in sub-directories, articles routed by their id.

``vnsearch index --shards N`` on a new directory writes ``SHARDS`` (how many, how
articles are routed) and one index per shard, ``shard-000``, ``shard-001``, ...; later
runs follow it. An article goes to the shard a stable hash of its id names (as
Elasticsearch routes a document by a hash of its id), so an updated or deleted article
is changed in its own shard only. A directory without ``SHARDS`` is a plain index: one
shard, the directory itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from indexer.storage.store import exists

SHARDS_FILE = "SHARDS"
ROUTING = "sha1-mod"  # the first 8 bytes of SHA-1 of the id's UTF-8, modulo the shards
MAX_SHARDS = 256


class LayoutError(Exception):
    """The directory's shards are not what was asked, or cannot be read."""


def shard_of(article_id: str, shards: int) -> int:
    """The shard of an article: the same on every machine, in every process and run."""
    if shards == 1:
        return 0
    digest = hashlib.sha1(article_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True)
class Layout:
    """Where an index's shards are: ``dirs[i]`` holds shard i."""

    root: Path
    dirs: tuple[Path, ...]

    @property
    def count(self) -> int:
        return len(self.dirs)

    @property
    def sharded(self) -> bool:
        """Whether the directory holds shards (else it is a plain index)."""
        return (self.root / SHARDS_FILE).is_file()


def shard_dir(root: str | os.PathLike, shard: int) -> Path:
    return Path(root) / f"shard-{shard:03d}"


def read_layout(index_dir: str | os.PathLike) -> Layout:
    """The shards of ``index_dir``: those its ``SHARDS`` file names, else the directory
    itself as the one shard of a plain index."""
    root = Path(index_dir)
    path = root / SHARDS_FILE
    if not path.is_file():
        return Layout(root, (root,))
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        count = int(found["shards"])
        routing = found.get("routing", ROUTING)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LayoutError(f"{path} cannot be read: {exc}") from exc
    if routing != ROUTING or not 1 <= count <= MAX_SHARDS:
        raise LayoutError(f"{path} describes shards this version cannot route ({found})")
    return Layout(root, tuple(shard_dir(root, i) for i in range(count)))


def create_layout(index_dir: str | os.PathLike, shards: int | None) -> Layout:
    """The layout to index into: the existing one, or a new one of ``shards`` shards
    (None or 1: a plain index) when the directory holds no index yet.

    ``LayoutError`` when ``shards`` contradicts what the directory already holds.
    """
    root = Path(index_dir)
    current = read_layout(root)
    if current.sharded or exists(root):
        if shards is not None and shards != current.count:
            raise LayoutError(
                f"{root} already holds {current.count} shard(s); it cannot be indexed with "
                f"--shards {shards} (build a new index directory to change it)"
            )
        return current
    if shards is None or shards == 1:
        return current
    if not 1 <= shards <= MAX_SHARDS:
        raise LayoutError(f"--shards must be between 1 and {MAX_SHARDS}")
    root.mkdir(parents=True, exist_ok=True)
    if any(not entry.name.startswith(".") for entry in root.iterdir()):
        raise LayoutError(f"{root} is not empty and holds no index: choose an empty directory")
    for i in range(shards):
        shard_dir(root, i).mkdir()
    record = {"shards": shards, "routing": ROUTING}
    temporary = root / f"{SHARDS_FILE}.tmp"
    temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
    os.replace(temporary, root / SHARDS_FILE)  # the index exists once this is in place
    return read_layout(root)
