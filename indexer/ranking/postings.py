"""Whoosh posting lists and field lengths as numpy arrays, read once per segment and kept.

Whoosh's matchers walk postings one document at a time in Python, about 10 µs each: a
question over a large index touches hundreds of thousands of postings. Reading a posting
list block by block into arrays costs a fraction of that, and since a segment never
changes once written, the arrays stay valid for the segment's life and are cached
(bounded by size, least recently used first). Deletions are not part of a segment's
postings: they are read per reader and applied by the caller.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from whoosh.reading import TermNotFound

from indexer.storage.blocks import block_weights, lengths_and_blob, unpack_ids
from indexer.storage.codec import PassagePerDocReader, PassageTermsReader
from indexer.storage.term_formats import COMPACT, decode_positions

POSITION_BITS = 24  # a passage has far fewer syllables than 2**24
CACHE_BYTES = int(os.environ.get("VNSEARCH_POSTINGS_CACHE_MB", "256")) * 1_000_000
SCORES_CACHE_BYTES = int(os.environ.get("VNSEARCH_SCORES_CACHE_MB", "128")) * 1_000_000

_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float64)
_EMPTY_KEYS = np.zeros(0, dtype=np.int64)


def segment_key(reader) -> str:
    """A name for the segment behind ``reader`` that outlives the reader."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else f"reader-{id(reader)}"


class _ThroughWhoosh(Exception):
    """The segment was written by another codec (a user's own ``ix.writer()``): read its
    postings through Whoosh's matcher."""


def _blocks(reader, fieldname: str, btext: bytes) -> list[tuple] | None:
    """The stored (ids, weights, values) of each block of a term's posting list in one
    segment, read at once (``PassageTermsReader.posting_blocks``); None when the segment
    does not hold the term."""
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, PassageTermsReader):
        raise _ThroughWhoosh
    return terms.posting_blocks(fieldname, btext)


def _read_leaf(stored: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Every block of an on-disk posting list, decoded without visiting each posting."""
    id_parts, weight_parts = [], []
    for ids, weights, _values in stored:
        block = unpack_ids(ids)
        id_parts.append(block)
        weight_parts.append(block_weights(weights, len(block)))
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
    """Postings of a matcher of another codec's segment, one at a time."""
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


_UNSET: Any = object()


class TermScores:
    """A reader's BM25 scores of whole posting lists, per field, term and weighting, least
    recently used out past ``max_bytes``: they depend only on the reader's statistics,
    and the common syllables of most queries would otherwise be scored again each time."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, scores: np.ndarray) -> None:
        if scores.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = scores
            self._bytes += scores.nbytes
            while self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1].nbytes


@dataclass(eq=False)
class ReaderState:
    """What the search keeps about one Whoosh reader (a segment's, or the whole index's)
    for as long as the reader lives: held here, keyed by the reader (``state``), never in
    attributes of Whoosh's objects."""

    leaves: Leaves | None = None
    lengths: dict[str, np.ndarray] = field(default_factory=dict)  # a segment of another codec
    all_lengths: dict[str, np.ndarray | None] = field(default_factory=dict)
    deleted: np.ndarray | None = None  # a segment's deleted documents
    all_deleted: np.ndarray | None = _UNSET
    norms: dict[str, tuple] = field(default_factory=dict)  # ``scorer._Index._norms``
    term_scores: TermScores = field(default_factory=lambda: TermScores(SCORES_CACHE_BYTES))


# id(reader) -> (a weak reference to the reader, its state). Looked up on every posting
# list and stored fields read, so a plain dict (a WeakKeyDictionary's lookup is a Python
# call and a new weak reference, a few per cent of a keyword query); the weak reference's
# callback drops the entry when the reader is freed, before its id can be reused.
_STATES: dict[int, tuple[weakref.ref, ReaderState]] = {}
_STATES_LOCK = threading.Lock()


def state(reader) -> ReaderState:
    """The ``ReaderState`` of ``reader``, made on first use; it goes with the reader."""
    found = _STATES.get(id(reader))
    if found is None or found[0]() is not reader:
        with _STATES_LOCK:
            found = _STATES.get(id(reader))
            if found is None or found[0]() is not reader:
                key = id(reader)
                found = (weakref.ref(reader, partial(_forget, key)), ReaderState())
                _STATES[key] = found
    return found[1]


def _forget(key: int, ref: weakref.ref) -> None:
    found = _STATES.get(key)
    if found is not None and found[0] is ref:
        _STATES.pop(key, None)


@dataclass(frozen=True)
class Leaves:
    """A reader's segments and where each starts in its document numbering.

    Posting arrays are kept in this numbering, one array per term for the whole index:
    a query is then scored once, not once per segment (a dozen segments made the same
    small numpy steps a dozen times over).
    """

    keys: tuple[str, ...]
    offsets: tuple[int, ...]
    size: int  # documents, deleted ones included
    segments: tuple = ()  # the segment readers of a multi-segment reader
    # A segment reader's own leaf: held weakly, or its state would keep it alive.
    itself: weakref.ref | None = None

    @property
    def readers(self) -> tuple:
        return self.segments if self.itself is None else (self.itself(),)

    @property
    def layout(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        return self.keys, self.offsets

    @classmethod
    def of(cls, reader) -> Leaves:
        """The leaves of a segment reader or a multi-segment reader; kept with it."""
        kept = state(reader)
        found = kept.leaves
        if found is None:
            pairs = list(reader.leaf_readers())
            readers = tuple(r for r, _ in pairs)
            found = kept.leaves = cls(
                tuple(segment_key(r) for r in readers),
                tuple(int(o) for _, o in pairs),
                reader.doc_count_all(),
                *(((), weakref.ref(reader)) if reader in readers else (readers, None)),
            )
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
        stored = _blocks(reader, fieldname, btext)
    except _ThroughWhoosh:
        m = _matcher(reader, fieldname, btext)
        return (_EMPTY_IDS, _EMPTY_WEIGHTS) if m is None else _read_any(m)
    return (_EMPTY_IDS, _EMPTY_WEIGHTS) if stored is None else _read_leaf(stored)


def segment_postings(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One segment's postings of a term, numbered within the segment, not cached: for
    what is read once per segment and kept elsewhere (``search.passage_table``)."""
    return _read_postings(reader, fieldname, btext)


def _read_keys(reader, fieldname: str, btext: bytes) -> tuple[np.ndarray]:
    """One segment's occurrence keys of a term, numbered within the segment."""
    try:
        stored = _blocks(reader, fieldname, btext)
    except _ThroughWhoosh:
        m = _matcher(reader, fieldname, btext)
        keys = []
        while m is not None and m.is_active():
            keys.extend(m.id() << POSITION_BITS | p for p in m.value_as("positions"))
            m.next()
        return (np.asarray(keys, dtype=np.int64),)
    return (_EMPTY_KEYS,) if stored is None else (_read_positions(stored),)


def _size(arrays: tuple[np.ndarray, ...]) -> int:
    return sum(a.nbytes for a in arrays) + 100


def _items(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of ``counts`` two-byte positions from ``starts``: each item's run and each
    item's byte offset."""
    owner = np.repeat(np.arange(len(starts)), counts)
    first = np.cumsum(counts) - counts
    at = starts[owner] + 2 * (np.arange(int(counts.sum())) - first[owner])
    return owner, at


def _keys(docs: np.ndarray, lengths: np.ndarray, blob: bytes) -> np.ndarray:
    """Sorted ``doc << POSITION_BITS | position`` keys of postings whose position values,
    ``lengths[i]`` bytes each, are laid end to end in ``blob``.

    Compact values (``term_formats``) are read with numpy for all postings at once; a
    value in Whoosh's encoding (written for a passage with a position past 65,535) is
    decoded on its own.
    """
    raw = np.frombuffer(blob, dtype=np.uint8)
    offsets = np.cumsum(lengths) - lengths
    compact = _compact_keys(docs, lengths, raw, offsets)
    if compact is not None:
        return compact
    first_byte = np.zeros(len(docs), dtype=np.uint8)
    nonempty = lengths > 0
    first_byte[nonempty] = raw[offsets[nonempty]]
    ours = (lengths % 2 == 1) & (first_byte == COMPACT)
    chosen = np.flatnonzero(ours)
    owner, at = _items(offsets[chosen] + 1, (lengths[chosen] - 1) // 2)
    doc_parts = [docs[chosen][owner]]
    position_parts = [raw[at].astype(np.int64) | raw[at + 1].astype(np.int64) << 8]
    for i in np.flatnonzero(~ours).tolist():
        start = int(offsets[i])
        found = decode_positions(blob[start : start + int(lengths[i])])
        doc_parts.append(np.full(len(found), docs[i], dtype=np.int64))
        position_parts.append(np.asarray(found, dtype=np.int64))
    keys = np.concatenate(doc_parts).astype(np.int64) << POSITION_BITS
    keys |= np.concatenate(position_parts)
    keys.sort()
    return keys


def _compact_keys(
    docs: np.ndarray, lengths: np.ndarray, raw: np.ndarray, offsets: np.ndarray
) -> np.ndarray | None:
    """``_keys`` when every value is compact (``term_formats``), as in every list but
    those of a passage longer than 65,536 syllables: with each value's marker byte
    dropped, the values end to end are the positions, two bytes each, in order (which
    cut 16–21 % of the CPU time of reading a term's positions, against gathering them
    two bytes at a time). None when some value is not compact."""
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


def _read_positions(stored: list[tuple]) -> np.ndarray:
    """Every occurrence of an on-disk posting list, as sorted keys."""
    id_parts, length_parts, blobs = [], [], []
    for ids, _, values in stored:
        block = unpack_ids(ids)
        id_parts.append(block)
        lengths, blob = lengths_and_blob(values, len(block))
        length_parts.append(lengths)
        blobs.append(blob)
    if not id_parts:
        return _EMPTY_KEYS
    lengths = np.concatenate(length_parts).astype(np.int64)
    return _keys(np.concatenate(id_parts), lengths, b"".join(blobs))


def lengths(reader, fieldname: str) -> np.ndarray | None:
    """Each document's length in ``fieldname`` as Whoosh scores it, over every document of
    a segment reader (None: no lengths)."""
    perdoc = reader._perdoc
    if isinstance(perdoc, PassagePerDocReader):
        return perdoc.length_array(fieldname)
    cache = state(reader).lengths
    if fieldname not in cache:  # a segment of another codec: through Whoosh, slowly
        count = reader.doc_count_all()
        cache[fieldname] = np.fromiter(
            (perdoc.doc_field_length(d, fieldname) or 0 for d in range(count)),
            dtype=np.uint32,
            count=count,
        )
    return cache[fieldname]


def all_lengths(reader, fieldname: str) -> np.ndarray | None:
    """``lengths`` of every document of a (multi-segment) reader; kept with the reader."""
    cache = state(reader).all_lengths
    if fieldname not in cache:
        leaves = Leaves.of(reader)
        readers = leaves.readers
        parts = [lengths(leaf, fieldname) for leaf in readers]
        if all(p is None for p in parts):
            cache[fieldname] = None
        else:  # a segment without the column has no terms in the field: lengths 0
            parts = [
                np.zeros(leaf.doc_count_all(), dtype=np.uint32) if p is None else p
                for leaf, p in zip(readers, parts, strict=True)
            ]
            cache[fieldname] = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return cache[fieldname]


def all_deleted(reader) -> np.ndarray | None:
    """A mask over every document of a (multi-segment) reader, True where deleted; None
    when nothing is. A lookup per match instead of a sorted search: an index that took
    many deletions (replaced articles) holds tens of thousands."""
    kept = state(reader)
    if kept.all_deleted is _UNSET:
        leaves = Leaves.of(reader)
        mask = None
        for leaf, offset in zip(leaves.readers, leaves.offsets, strict=True):
            gone = deleted(leaf)
            if len(gone):
                if mask is None:
                    mask = np.zeros(leaves.size, dtype=bool)
                mask[gone + offset] = True
        kept.all_deleted = mask
    return kept.all_deleted


def deleted(reader) -> np.ndarray:
    """Sorted numbers of the segment's deleted documents."""
    kept = state(reader)
    if kept.deleted is None:
        docs = sorted(reader._perdoc.deleted_docs()) if reader.has_deletions() else []
        kept.deleted = np.asarray(docs, dtype=np.int32)
    return kept.deleted
