"""Whoosh posting lists and field lengths as numpy arrays, read once per segment and kept.

Whoosh's matchers walk postings one document at a time in Python, about 10 µs each: a
question over a large index touches hundreds of thousands of postings. Reading a posting
list block by block into arrays costs a fraction of that, and since a segment never
changes once written, the arrays stay valid for the segment's life and are cached
(bounded by size, least recently used first). Deletions are not part of a segment's
postings: they are read per reader and applied by the caller.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pickle import Unpickler, loads

import numpy as np
from whoosh.codec import whoosh3
from whoosh.matching import ListMatcher
from whoosh.reading import TermNotFound

from indexer import whoosh_blocks  # also patches Whoosh to read both shapes of blocks
from indexer.term_formats import COMPACT, decode_positions
from indexer.whoosh_speedups import field_lengths

POSITION_BITS = 24  # a passage has far fewer syllables than 2**24
CACHE_BYTES = int(os.environ.get("VNSEARCH_POSTINGS_CACHE_MB", "256")) * 1_000_000

_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float64)
_EMPTY_KEYS = np.zeros(0, dtype=np.int64)


def segment_key(reader) -> str:
    """A name for the segment behind ``reader`` that outlives the reader."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else f"reader-{id(reader)}"


# Pickle opcodes of a Whoosh 2.7 posting block: the tuple (ids, weights, values).
_MARK, _TUPLE, _FLOAT, _NONE = ord("("), ord("t"), ord("G"), ord("N")
_INT1 = ord("K")
_BINPUT, _LONG_BINPUT = ord("q"), ord("r")
_FLOAT_RECORD = np.dtype([("op", "u1"), ("value", ">f8")])


def _ints(raw: np.ndarray, at: int, count: int) -> tuple[np.ndarray, int] | None:
    """``count`` pickled one-byte ints from ``at`` (values, offset after them), or None.

    Other widths are left to ``pickle.loads``: with packed values (``whoosh_blocks``) it
    unpickles a block faster than a Python loop over the opcodes would.
    """
    end = at + 2 * count
    if (raw[at:end:2] == _INT1).all():
        return raw[at + 1 : end : 2].astype(np.int64), end
    return None


def _ids_and_weights(data: bytes, count: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The ids and weights of a pickled block, read without unpickling it.

    Unpickling also decodes the block's values: for blocks written before values were
    packed (``whoosh_blocks``) every posting's positions, and even packed blocks of
    one-byte ids unpickle slower (28 vs 19 µs). Handles the shapes Whoosh writes for a
    block of four postings or more (one-byte ints, then no weights, one weight or a run
    of floats); None for anything else, which the caller unpickles.
    """
    if count < 4 or len(data) < 3 + 2 * count or data[2] != _MARK:  # short tuples: no MARK
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    found = _ints(raw, 3, count)
    if found is None or data[found[1]] != _TUPLE:
        return None
    ids, at = found[0], found[1] + 1
    at += {_BINPUT: 2, _LONG_BINPUT: 5}.get(data[at], 0)  # the tuple's memo entry
    op = data[at]
    if op == _NONE:
        return ids, np.ones(count)
    if op == _FLOAT:
        return ids, np.full(count, np.frombuffer(data, ">f8", 1, at + 1)[0], dtype=np.float64)
    after = at + 1 + 9 * count
    if op != _MARK or len(data) <= after or data[after] != _TUPLE:
        return None
    records = np.frombuffer(data, _FLOAT_RECORD, count, at + 1)
    if not (records["op"] == _FLOAT).all():
        return None
    return ids, records["value"].astype(np.float64)


_LIST_HEADER = whoosh3.WHOOSH3_HEADER_MAGIC
_BLOCK_SIZE = struct.Struct("!i")  # a block's length; negative for the last block


def _list_blocks(reader, fieldname: str, btext: bytes) -> list[tuple[int, bytes]] | None:
    """(postings, decompressed data) of each block of a term's posting list in a segment,
    the list read from disk at once; None when the segment does not hold the term.

    Whoosh's matcher reads a list a few bytes at a time (the header, then each block's
    length, statistics and data) and walks the term table the same way: that was most
    of the cost of reading a short list. Inlined lists (never written here) raise
    ``_Inlined``.
    """
    terms = reader._terms
    try:
        info = whoosh3.W3TermInfo.from_bytes(terms._tindex[terms._keycoder(fieldname, btext)])
    except KeyError:
        return None
    if info.is_inlined():
        raise _Inlined
    offset, length = info.extent()
    length = length[0] if isinstance(length, tuple) else length  # Whoosh unpacks a 1-tuple
    raw = terms._postfile.get(offset, length)
    if raw[: len(_LIST_HEADER)] != _LIST_HEADER:
        raise ValueError(f"no posting list at {offset} for {fieldname}:{btext!r}")
    stream = io.BytesIO(raw)
    blocks = []
    at = len(_LIST_HEADER)
    while at < len(raw):
        (size,) = _BLOCK_SIZE.unpack_from(raw, at)
        stream.seek(at + _BLOCK_SIZE.size)
        count, _, _, compression, _, _ = Unpickler(stream).load()
        end = at + _BLOCK_SIZE.size + abs(size)
        data = raw[stream.tell() : end]
        blocks.append((count, zlib.decompress(data) if compression else data))
        at = end
        if size < 0:
            break
    return blocks


class _Inlined(Exception):
    """The term's postings are inlined in the term table: read them through Whoosh."""


def _block_ids(stored) -> np.ndarray:
    """A block's document numbers from its stored deltas, in any of the shapes
    ``whoosh_blocks`` reads."""
    if isinstance(stored, bytes):
        return whoosh_blocks.unpack_ids(stored)
    return np.cumsum(np.asarray(stored, dtype=np.int64))


def _block_weights(weights, count: int) -> np.ndarray:
    if weights is None:
        return np.ones(count)
    if isinstance(weights, float):
        return np.full(count, weights)
    if isinstance(weights, bytes):
        return whoosh_blocks.unpack_weights(weights)
    return np.fromiter(weights, dtype=np.float64, count=len(weights))


def _read_leaf(blocks: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """Every block of an on-disk posting list, decoded without visiting each posting."""
    id_parts, weight_parts = [], []
    for count, data in blocks:
        fast = _ids_and_weights(data, count)
        if fast is not None:
            id_parts.append(_block_ids(fast[0]))
            weight_parts.append(fast[1])
            continue
        ids, weights, _values = loads(data)
        block = _block_ids(ids)
        id_parts.append(block)
        weight_parts.append(_block_weights(weights, len(block)))
    if not id_parts:
        return _EMPTY_IDS, _EMPTY_WEIGHTS
    if len(id_parts) == 1:  # most lists in a segment: no copies (a third of a short read)
        return id_parts[0].astype(np.int32), _compact(weight_parts[0])
    return np.concatenate(id_parts).astype(np.int32), _compact(np.concatenate(weight_parts))


def _compact(weights: np.ndarray) -> np.ndarray:
    """Term frequencies in one byte each when they fit exactly (almost always): a cached
    posting takes 5 bytes instead of 12. Scores convert back to float64."""
    if weights.dtype == np.uint8:  # compact blocks store them so
        return weights
    small = weights.astype(np.uint8)
    return small if np.array_equal(small, weights) else weights


def _read_any(m) -> tuple[np.ndarray, np.ndarray]:
    """Postings of a matcher Whoosh built some other way (inlined short lists)."""
    if isinstance(m, ListMatcher):
        ids = np.asarray(list(m._ids), dtype=np.int32)
        weights = m._weights
        if weights is None:
            return ids, np.ones(len(ids))
        return ids, np.asarray(list(weights), dtype=np.float64)
    ids, weights = [], []
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        m.next()
    return np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float64)


def _matcher(reader, fieldname: str, btext: bytes):
    """The segment's raw matcher for a term, or None; one lookup in the term table where
    ``in`` and then ``matcher`` would make two."""
    try:
        return reader._terms.matcher(fieldname, btext, reader.schema[fieldname].format)
    except TermNotFound:
        return None


@dataclass(frozen=True)
class Leaves:
    """A reader's segments and where each starts in its document numbering.

    Posting arrays are kept in this numbering, one array per term for the whole index:
    a query is then scored once, not once per segment (a dozen segments made the same
    small numpy steps a dozen times over).
    """

    readers: tuple
    keys: tuple[str, ...]
    offsets: tuple[int, ...]
    size: int  # documents, deleted ones included

    @property
    def layout(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        return self.keys, self.offsets

    @classmethod
    def of(cls, reader) -> Leaves:
        """The leaves of a segment reader or a multi-segment reader; kept with it."""
        found = reader.__dict__.get("_vnsearch_leaves")
        if found is None:
            pairs = list(reader.leaf_readers())
            found = cls(
                tuple(r for r, _ in pairs),
                tuple(segment_key(r) for r, _ in pairs),
                tuple(int(o) for _, o in pairs),
                reader.doc_count_all(),
            )
            reader.__dict__["_vnsearch_leaves"] = found
        return found


@dataclass
class _Entry:
    """Arrays of one term over a whole index, and which slice came from which segment."""

    arrays: tuple[np.ndarray, ...]
    pieces: dict[str, tuple[int, int, int]]  # segment key -> (start, end, doc offset)
    layout: tuple[tuple[str, ...], tuple[int, ...]]
    nbytes: int


_IDS, _KEYS = "ids", "keys"  # how an entry's first array holds document numbers


def _shift(arrays: tuple[np.ndarray, ...], kind: str, delta: int) -> tuple[np.ndarray, ...]:
    """The same postings numbered ``delta`` documents further on."""
    if not delta:
        return arrays
    first = arrays[0] + (delta << POSITION_BITS if kind == _KEYS else delta)
    return (first.astype(arrays[0].dtype, copy=False), *arrays[1:])


class PostingsCache:
    """Posting arrays per (field, term) over a whole index, size-bounded, least recently
    used out.

    Two kinds per term: (document numbers, term frequencies) for scoring, and the sorted
    occurrence keys for phrases, read only when a phrase needs them. Each array is the
    concatenation of the term's postings in every segment, renumbered; when the index
    changes, the slices of segments still live are reused and only new segments are read.
    """

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def postings(self, reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Sorted document numbers of ``reader`` (deleted documents included) and term
        frequencies (one byte each when they fit, see ``_compact``)."""
        return self._cached(Leaves.of(reader), (fieldname, btext), _IDS)

    def positions(self, reader, fieldname: str, btext: bytes) -> np.ndarray:
        """Sorted keys ``document << POSITION_BITS | position`` of every occurrence."""
        return self._cached(Leaves.of(reader), (fieldname, btext, "positions"), _KEYS)[0]

    def _cached(self, leaves: Leaves, key: tuple, kind: str) -> tuple[np.ndarray, ...]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                if found.layout == leaves.layout:
                    return found.arrays
        entry = self._build(leaves, key, kind, found)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = entry
            self._bytes += entry.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes
        return entry.arrays

    @staticmethod
    def _build(leaves: Leaves, key: tuple, kind: str, previous: _Entry | None) -> _Entry:
        fieldname, btext = key[0], key[1]
        parts: list[tuple[np.ndarray, ...]] = []
        pieces: dict[str, tuple[int, int, int]] = {}
        start = 0
        for reader, segment, offset in zip(
            leaves.readers, leaves.keys, leaves.offsets, strict=True
        ):
            kept = previous.pieces.get(segment) if previous is not None else None
            if kept is not None:
                begin, end, was = kept
                part = _shift(tuple(a[begin:end] for a in previous.arrays), kind, offset - was)
            else:
                read = _read_keys if kind == _KEYS else _read_postings
                part = _shift(read(reader, fieldname, btext), kind, offset)
            count = len(part[0])
            pieces[segment] = (start, start + count, offset)
            start += count
            parts.append(part)
        parts = [p for p in parts if len(p[0])]
        if len(parts) == 1:
            arrays = parts[0]
        elif not parts:
            arrays = (_EMPTY_KEYS,) if kind == _KEYS else (_EMPTY_IDS, _EMPTY_WEIGHTS)
        else:
            arrays = tuple(_concatenate([p[i] for p in parts]) for i in range(len(parts[0])))
        return _Entry(arrays, pieces, leaves.layout, _size(arrays))

    def retain(self, live_segments: set[str]) -> None:
        """Forget the arrays that hold nothing of a live segment (their terms are only in
        segments merged away or replaced); the others are renumbered when next used."""
        with self._lock:
            for key in [k for k, e in self._items.items() if not live_segments & e.pieces.keys()]:
                self._bytes -= self._items.pop(key).nbytes


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    """One array of the parts, in the widest of their types (weights may be one byte in
    one segment and float in another)."""
    return np.concatenate(arrays, dtype=np.result_type(*arrays))


def _read_postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One segment's postings of a term, numbered within the segment."""
    try:
        blocks = _list_blocks(reader, fieldname, btext)
    except _Inlined:
        return _read_any(_matcher(reader, fieldname, btext))
    return (_EMPTY_IDS, _EMPTY_WEIGHTS) if blocks is None else _read_leaf(blocks)


def _read_keys(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray]:
    """One segment's occurrence keys of a term, numbered within the segment."""
    try:
        blocks = _list_blocks(reader, fieldname, btext)
    except _Inlined:
        m = _matcher(reader, fieldname, btext)
        keys = []
        while m.is_active():
            keys.extend(m.id() << POSITION_BITS | p for p in m.value_as("positions"))
            m.next()
        return (np.asarray(keys, dtype=np.int64),)
    return (_EMPTY_KEYS,) if blocks is None else (_read_positions(blocks),)


def _size(arrays: tuple[np.ndarray, ...]) -> int:
    return sum(a.nbytes for a in arrays) + 100


def _decode_positions(value: bytes) -> list[int]:
    return decode_positions(value)


# A position value: 4-byte big-endian count, then pickle protocol 2 of the list of deltas:
# PROTO 2, EMPTY_LIST, BINPUT 0, then one int and APPEND, or MARK, the ints and APPENDS.
_LIST_HEAD = np.frombuffer(b"\x80\x02]q\x00", dtype=np.uint8)
_APPENDS = ord("e")


def _items(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For lists of ``counts`` one-byte pickled ints from ``starts``: each item's list, the
    index of each list's first item, and each item's opcode offset."""
    owner = np.repeat(np.arange(len(starts)), counts)
    first = np.cumsum(counts) - counts
    at = starts[owner] + 2 * (np.arange(int(counts.sum())) - first[owner])
    return owner, first, at


def _keys(docs: np.ndarray, lengths: np.ndarray, blob: bytes) -> np.ndarray:
    """Sorted ``doc << POSITION_BITS | position`` keys of postings whose position values,
    ``lengths[i]`` bytes each, are laid end to end in ``blob``.

    Compact values and the usual shapes of Whoosh's (one position under 256; several,
    each delta under 256) are read with numpy for all postings at once; any other value
    is decoded on its own.
    """
    raw = np.frombuffer(blob, dtype=np.uint8)
    offsets = np.cumsum(lengths) - lengths
    compact = _compact_keys(docs, lengths, raw, offsets)
    if compact is not None:
        return compact
    # Values long enough for the shortest usual shape: count, list head, int, APPEND.
    ok = lengths >= 12
    starts = np.where(ok, offsets, 0)  # 0: the other values are read from a safe place
    if not ok.any():  # nothing to read with numpy, and the blob may be too short for it
        starts, ok = starts[:0], ok[:0]
    head = raw[starts[:, None] + np.arange(4, 9)]
    ok &= (head == _LIST_HEAD).all(axis=1)
    counts = np.zeros(len(starts), dtype=np.int64)
    for i in range(4):
        counts = counts << 8 | raw[starts + i]
    op = raw[starts + 9]
    handled = np.zeros(len(docs), dtype=bool)

    single = np.flatnonzero(ok & (counts == 1) & (op == _INT1))
    handled[single] = True
    doc_parts = [docs[single]]
    position_parts = [raw[starts[single] + 10].astype(np.int64)]

    multi = np.flatnonzero(ok & (counts > 1) & (op == _MARK))
    ends = starts[multi] + 10 + 2 * counts[multi]  # where APPENDS is, if all ints are K
    fits = ends < offsets[multi] + lengths[multi]
    multi, ends = multi[fits], ends[fits]
    owner, _, at = _items(starts[multi] + 10, counts[multi])
    bad = np.bincount(owner, weights=raw[at] != _INT1, minlength=len(multi)) > 0
    bad |= raw[ends] != _APPENDS
    multi = multi[~bad]
    handled[multi] = True
    owner, first, at = _items(starts[multi] + 10, counts[multi])
    deltas = raw[at + 1].astype(np.int64)
    running = np.cumsum(deltas)
    before = running[first] - deltas[first] if len(first) else running[:0]
    doc_parts.append(docs[multi][owner])
    position_parts.append(running - before[owner])

    # Compact values (``term_formats``): the marker, then two bytes a position.
    first_byte = np.zeros(len(docs), dtype=np.uint8)
    nonempty = lengths > 0
    first_byte[nonempty] = raw[offsets[nonempty]]
    compact = np.flatnonzero(~handled & (lengths % 2 == 1) & (first_byte == COMPACT))
    handled[compact] = True
    owner, _, at = _items(offsets[compact] + 1, (lengths[compact] - 1) // 2)
    doc_parts.append(docs[compact][owner])
    position_parts.append(raw[at].astype(np.int64) | raw[at + 1].astype(np.int64) << 8)

    for i in np.flatnonzero(~handled).tolist():
        start = int(offsets[i])
        found = _decode_positions(blob[start : start + int(lengths[i])])
        doc_parts.append(np.full(len(found), docs[i], dtype=np.int64))
        position_parts.append(np.asarray(found, dtype=np.int64))
    keys = np.concatenate(doc_parts).astype(np.int64) << POSITION_BITS
    keys |= np.concatenate(position_parts)
    keys.sort()
    return keys


def _compact_keys(
    docs: np.ndarray, lengths: np.ndarray, raw: np.ndarray, offsets: np.ndarray
) -> np.ndarray | None:
    """``_keys`` when every value is compact (``term_formats``), as in every segment
    written since: with each value's marker byte dropped, the values end to end are the
    positions, two bytes each, in order (which cut 16–21 % of the CPU time of reading a
    term's positions, against gathering them two bytes at a time). None when some value
    is not compact."""
    if not len(docs) or (lengths < 3).any() or not (lengths % 2 == 1).all():
        return None
    if int(lengths.sum()) != len(raw) or not (raw[offsets] == COMPACT).all():
        return None
    body = np.ones(len(raw), dtype=bool)
    body[offsets] = False
    positions = raw[body].view("<u2")
    keys = np.repeat(docs.astype(np.int64) << POSITION_BITS, (lengths - 1) // 2)
    keys |= positions
    if len(keys) > 1 and not (keys[1:] > keys[:-1]).all():  # never written so; cheap to check
        keys.sort()
    return keys


def _read_positions(blocks: list[tuple[int, bytes]]) -> np.ndarray:
    """Every occurrence of an on-disk posting list, as sorted keys."""
    id_parts, length_parts, blobs = [], [], []
    for _count, data in blocks:
        ids, _, values = loads(data)
        block = _block_ids(ids)
        id_parts.append(block)
        lengths, blob = whoosh_blocks.lengths_and_blob(values, len(block))
        length_parts.append(lengths)
        blobs.append(blob)
    if not id_parts:
        return _EMPTY_KEYS
    lengths = np.concatenate(length_parts).astype(np.int64)
    return _keys(np.concatenate(id_parts), lengths, b"".join(blobs))


def lengths(reader, fieldname: str) -> np.ndarray | None:
    """Each document's length in ``fieldname`` as Whoosh scores it (None: no lengths)."""
    cache = reader.__dict__.setdefault("_vnsearch_np_lengths", {})
    if fieldname not in cache:
        column = field_lengths(reader._perdoc, fieldname)
        if column is None:
            cache[fieldname] = None
        else:
            found = np.frombuffer(column, dtype=np.uint32)
            missing = reader.doc_count_all() - len(found)
            # Documents past the column's end have no terms in the field.
            cache[fieldname] = np.pad(found, (0, missing)) if missing > 0 else found
    return cache[fieldname]


def all_lengths(reader, fieldname: str) -> np.ndarray | None:
    """``lengths`` of every document of a (multi-segment) reader; kept with the reader."""
    cache = reader.__dict__.setdefault("_vnsearch_all_lengths", {})
    if fieldname not in cache:
        leaves = Leaves.of(reader)
        parts = [lengths(leaf, fieldname) for leaf in leaves.readers]
        if all(p is None for p in parts):
            cache[fieldname] = None
        else:  # a segment without the column has no terms in the field: lengths 0
            parts = [
                np.zeros(leaf.doc_count_all(), dtype=np.uint32) if p is None else p
                for leaf, p in zip(leaves.readers, parts, strict=True)
            ]
            cache[fieldname] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return cache[fieldname]


def all_deleted(reader) -> np.ndarray | None:
    """A mask over every document of a (multi-segment) reader, True where deleted; None
    when nothing is. A lookup per match instead of a sorted search: an index that took
    many deletions (replaced articles) holds tens of thousands."""
    cache = reader.__dict__
    if "_vnsearch_all_deleted" not in cache:
        leaves = Leaves.of(reader)
        mask = None
        for leaf, offset in zip(leaves.readers, leaves.offsets, strict=True):
            gone = deleted(leaf)
            if len(gone):
                if mask is None:
                    mask = np.zeros(leaves.size, dtype=bool)
                mask[gone + offset] = True
        cache["_vnsearch_all_deleted"] = mask
    return cache["_vnsearch_all_deleted"]


def deleted(reader) -> np.ndarray:
    """Sorted numbers of the segment's deleted documents."""
    cache = reader.__dict__
    if "_vnsearch_deleted" not in cache:
        docs = sorted(reader._perdoc.deleted_docs()) if reader.has_deletions() else []
        cache["_vnsearch_deleted"] = np.asarray(docs, dtype=np.int32)
    return cache["_vnsearch_deleted"]
