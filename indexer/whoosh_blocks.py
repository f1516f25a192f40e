"""Posting blocks in compact shapes (Whoosh 2.7.4, pinned), applied once, on import.

Whoosh pickles a block of postings as (ids, weights, values) with pickle protocol 2: the
ids as a tuple of ints, the weights as a tuple of floats (9 bytes each), the values (here:
each posting's positions) as a tuple of byte strings, each of which protocol 2 writes as
a latin-1 text to be encoded again on reading. Decoding a block was most of the cost of
reading a posting list. Written here instead:

- ids as one string of little-endian deltas (``H``: 2 bytes each, ``I``: 4);
- weights, when they are small whole numbers (term counts), as one string of bytes;
- values of varying length as one string: their lengths (4 bytes each), then them;
- with positions, each of the three compressed on its own (a lower-case tag: ``h``,
  ``i``, ``b``, or the values as ``("p", data)``), the block itself not: ids and weights
  are read without inflating the positions, four fifths of a text block (a block without
  positions is compressed whole, as Whoosh does);
- the block with pickle protocol 3, which stores byte strings as they are.

A reader then takes ids and weights with ``numpy.frombuffer``. Reading accepts every
shape, Whoosh's included, so indexes written before keep working and a segment written
either way can sit beside the other.
"""

from __future__ import annotations

import pickle
import zlib
from array import array

import numpy as np
from whoosh.codec import whoosh3

_original_mini_ids = whoosh3.W3PostingsWriter._mini_ids
_original_mini_weights = whoosh3.W3PostingsWriter._mini_weights
_original_mini_values = whoosh3.W3PostingsWriter._mini_values
_original_read_ids = whoosh3.W3LeafMatcher._read_ids
_original_read_weights = whoosh3.W3LeafMatcher._read_weights
_original_read_values = whoosh3.W3LeafMatcher._read_values
_original_write_block = whoosh3.W3PostingsWriter._write_block

_ID_TYPES = {ord("H"): np.dtype("<u2"), ord("I"): np.dtype("<u4")}
_SQUEEZE_FROM = 64  # bytes; a shorter part is stored as it is
_PACKED_VALUES = "p"  # values compressed: ("p", zlib data)


def squeeze(tag: bytes, data: bytes, level: int) -> bytes:
    """``tag`` and ``data``, or the tag in lower case and ``data`` compressed if that is
    shorter."""
    if level and len(data) >= _SQUEEZE_FROM:
        packed = zlib.compress(data, level)
        if len(packed) < len(data):
            return tag.lower() + packed
    return tag + data


def unsqueeze(packed: bytes) -> tuple[int, bytes]:
    """(the tag in upper case, the data) of ``squeeze``'s string."""
    tag = packed[0]
    if 97 <= tag <= 122:  # a lower-case tag: compressed
        return tag - 32, zlib.decompress(memoryview(packed)[1:])
    return tag, packed[1:]


def _part_level(writer) -> int:
    return getattr(writer, "_vnsearch_level", writer._compression)


def _variable(fixedsize: int | None) -> bool:
    return fixedsize is None or fixedsize < 0


def pack(values: list[bytes]) -> bytes:
    """Values of varying length as one string: their lengths (4 bytes each), then them."""
    return array("I", map(len, values)).tobytes() + b"".join(values)


def _inflated(values):
    """A block's stored values with ``_mini_values``' compression undone."""
    if isinstance(values, tuple) and values and values[0] == _PACKED_VALUES:
        return zlib.decompress(values[1])
    return values


def lengths_and_blob(values: bytes | tuple, count: int) -> tuple[np.ndarray, bytes]:
    """A block's ``count`` values in any shape as (their lengths, them end to end)."""
    values = _inflated(values)
    if isinstance(values, bytes):
        return np.frombuffer(values, dtype=np.uint32, count=count), values[4 * count :]
    return np.fromiter(map(len, values), dtype=np.uint32, count=count), b"".join(values)


def unpack(packed: bytes, count: int) -> list[bytes]:
    lengths, blob = lengths_and_blob(packed, count)
    out = []
    at = 0
    for length in lengths.tolist():
        out.append(blob[at : at + length])
        at += length
    return out


def pack_ids(ids: list[int], level: int = 0) -> bytes:
    """Increasing document numbers as a string of deltas, 2 bytes each when they fit,
    compressed at zlib ``level`` (0: not)."""
    deltas = np.diff(np.asarray(ids, dtype=np.int64), prepend=0)
    if int(deltas.max(initial=0)) < 1 << 16:
        return squeeze(b"H", deltas.astype("<u2").tobytes(), level)
    return squeeze(b"I", deltas.astype("<u4").tobytes(), level)


def unpack_ids(packed: bytes) -> np.ndarray:
    """The document numbers of ``pack_ids``."""
    tag, data = unsqueeze(packed)
    return np.cumsum(np.frombuffer(data, dtype=_ID_TYPES[tag]), dtype=np.int64)


def unpack_weights(packed: bytes) -> np.ndarray:
    """The weights of ``_mini_weights``'s string of bytes."""
    return np.frombuffer(unsqueeze(packed)[1], dtype=np.uint8)


def _dumps(obj, protocol: int = 2) -> bytes:
    # Whoosh asks for protocol 2 everywhere; 3 differs only in writing byte strings as
    # they are. Every reader of these pickles is ``pickle.loads``, which takes both.
    return pickle.dumps(obj, max(protocol, 3))


def _write_block(self, last=False):
    # With positions, each part is compressed on its own (``_mini_ids`` ...) and the block
    # as a whole not; without, the block is little more than its ids, compressed whole.
    if not _variable(self._format.fixed_value_size()):
        self._vnsearch_level = 0
        _original_write_block(self, last)
        return
    self._vnsearch_level = level = self._compression
    self._compression = 0
    try:
        _original_write_block(self, last)
    finally:
        self._compression = level


def _mini_ids(self):
    if self._byteids:
        return _original_mini_ids(self)
    return pack_ids(self._ids, _part_level(self))


def _mini_weights(self):
    found = _original_mini_weights(self)
    if isinstance(found, tuple):
        weights = np.asarray(found)
        small = weights.astype(np.uint8)
        if np.array_equal(small, weights):  # term counts, each under 256
            return squeeze(b"B", small.tobytes(), _part_level(self))
    return found


def _mini_values(self):
    if _variable(self._format.fixed_value_size()):
        packed = pack(self._values)
        level = _part_level(self)
        if level and len(packed) >= _SQUEEZE_FROM:
            return (_PACKED_VALUES, zlib.compress(packed, level))
        return packed
    return _original_mini_values(self)


def _read_ids(self):
    if self._data is None:
        self._read_data()
    packed = self._data[0]
    if isinstance(packed, bytes) and not self._byteids:
        self._ids = unpack_ids(packed).tolist()
    else:
        _original_read_ids(self)


def _read_weights(self):
    if self._data is None:
        self._read_data()
    packed = self._data[1]
    if isinstance(packed, bytes):
        self._weights = unpack_weights(packed).astype(np.float64).tolist()
    else:
        _original_read_weights(self)


def _read_values(self):
    if self._data is None:
        self._read_data()
    packed = _inflated(self._data[2])
    if _variable(self._fixedsize) and isinstance(packed, bytes):
        self._values = unpack(packed, self._blocklength)
    else:
        _original_read_values(self)


whoosh3.dumps = _dumps
whoosh3.W3PostingsWriter._write_block = _write_block
whoosh3.W3PostingsWriter._mini_ids = _mini_ids
whoosh3.W3PostingsWriter._mini_weights = _mini_weights
whoosh3.W3PostingsWriter._mini_values = _mini_values
whoosh3.W3LeafMatcher._read_ids = _read_ids
whoosh3.W3LeafMatcher._read_weights = _read_weights
whoosh3.W3LeafMatcher._read_values = _read_values
