"""The compact layout of a block of postings, as ``indexer.storage.codec`` writes it.

Whoosh's own codec pickles a block as (ids, weights, values) with pickle protocol 2: the
ids as a tuple of ints, the weights as a tuple of floats (9 bytes each), the values (here:
each posting's positions) as a tuple of byte strings, each of which protocol 2 writes as
a latin-1 text to be encoded again on reading. Decoding a block was most of the cost of
reading a posting list. This layout writes instead:

- ids as one string of little-endian deltas (``H``: 2 bytes each, ``I``: 4);
- weights, when they are small whole numbers (term counts), as one string of bytes;
- values of varying length as one string: their lengths (4 bytes each), then them;
- with positions, each of the three compressed on its own (a lower-case tag: ``h``,
  ``i``, ``b``, or the values as ``("p", data)``), the block itself not: ids and weights
  are read without inflating the positions, four fifths of a text block (a block without
  positions is compressed whole, as Whoosh does);
- the block with pickle protocol 3, which stores byte strings as they are.

A reader then takes ids and weights with ``numpy.frombuffer``.
"""

from __future__ import annotations

import sys
import zlib
from array import array
from itertools import pairwise

import numpy as np

_ID_TYPES = {ord("H"): np.dtype("<u2"), ord("I"): np.dtype("<u4")}
SQUEEZE_FROM = 64  # bytes; a shorter part is stored as it is
PACKED_VALUES = "p"  # values compressed: ("p", zlib data)
PROTOCOL = 3  # pickle protocol of a block and of its header
SMALL = 48  # postings: fewer are packed in Python, which is then faster than numpy
_BIG_ENDIAN = sys.byteorder == "big"


def little_endian(values: array) -> bytes:
    """The bytes of ``values`` with the low byte first, as the index stores numbers on
    every machine."""
    if _BIG_ENDIAN:
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def from_little_endian(typecode: str, data: bytes) -> array:
    """The numbers of ``little_endian``'s bytes, as an array of ``typecode``."""
    values = array(typecode, data)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


def squeeze(tag: bytes, data: bytes, level: int) -> bytes:
    """``tag`` and ``data``, or the tag in lower case and ``data`` compressed if that is
    shorter."""
    if level and len(data) >= SQUEEZE_FROM:
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


def pack_ids(ids, level: int = 0) -> bytes:
    """Increasing document numbers as a string of deltas, 2 bytes each when they fit,
    compressed at zlib ``level`` (0: not)."""
    if len(ids) <= SMALL:
        deltas = array("l", ids)
        for i in range(len(deltas) - 1, 0, -1):
            deltas[i] -= deltas[i - 1]
        tag = b"H" if max(deltas, default=0) < 1 << 16 else b"I"
        return squeeze(tag, little_endian(array(tag.decode(), deltas)), level)
    deltas = np.diff(np.asarray(ids, dtype=np.int64), prepend=0)
    if int(deltas.max(initial=0)) < 1 << 16:
        return squeeze(b"H", deltas.astype("<u2").tobytes(), level)
    return squeeze(b"I", deltas.astype("<u4").tobytes(), level)


def unpack_ids(packed: bytes) -> np.ndarray:
    """The document numbers of ``pack_ids``."""
    tag, data = unsqueeze(packed)
    return np.cumsum(np.frombuffer(data, dtype=_ID_TYPES[tag]), dtype=np.int64)


def pack_weights(weights, level: int = 0) -> bytes | float | tuple | None:
    """A block's weights: None when all are 1, one float when all are equal (as Whoosh
    writes them), one byte each when they are whole numbers under 256, else a tuple."""
    if all(w == 1.0 for w in weights):
        return None
    if all(w == weights[0] for w in weights):
        return weights[0]
    if len(weights) <= SMALL:
        if all(w.is_integer() and 0 <= w < 256 for w in weights):  # term counts
            return squeeze(b"B", bytes(map(int, weights)), level)
        return tuple(weights)
    found = np.asarray(weights, dtype=np.float64)
    small = found.astype(np.uint8)
    if np.array_equal(small, found):  # term counts, each under 256
        return squeeze(b"B", small.tobytes(), level)
    return tuple(weights)


def unpack_weights(packed: bytes) -> np.ndarray:
    """The weights of ``pack_weights``'s string of bytes."""
    return np.frombuffer(unsqueeze(packed)[1], dtype=np.uint8)


def block_weights(stored, count: int) -> np.ndarray:
    """The ``count`` weights of a block, in any of ``pack_weights``' forms."""
    if stored is None:
        return np.ones(count)
    if isinstance(stored, float):
        return np.full(count, stored)
    if isinstance(stored, bytes):
        return unpack_weights(stored)
    return np.fromiter(stored, dtype=np.float64, count=len(stored))


class ValueRun:
    """The values of consecutive postings end to end, with their lengths: a list of byte
    strings without the list (``indexer.storage.term_formats.encode_values`` makes them
    for a whole field at once). Slicing gives the run of the postings sliced."""

    __slots__ = ("_ends", "data", "lengths")

    def __init__(self, lengths: np.ndarray, data, ends: np.ndarray | None = None) -> None:
        self.lengths = lengths  # uint32, one per posting
        self.data = data  # bytes-like: the values end to end
        if ends is None:
            ends = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=ends[1:])
        self._ends = ends  # byte offset of each posting's value, and of the end

    @classmethod
    def of(cls, values: list[bytes]) -> ValueRun:
        """A run of the values of a list."""
        return cls(np.fromiter(map(len, values), np.uint32, len(values)), b"".join(values))

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, part: slice) -> ValueRun:
        start, stop, _ = part.indices(len(self.lengths))
        ends = self._ends[start : stop + 1]
        return ValueRun(self.lengths[start:stop], self.data, ends)

    def joined(self) -> bytes:
        """``b"".join`` of the values."""
        return bytes(self.data[self._ends[0] : self._ends[-1]])

    def tolist(self) -> list[bytes]:
        data, ends = self.data, self._ends.tolist()
        return [bytes(data[a:b]) for a, b in pairwise(ends)]


def pack(values: list[bytes] | ValueRun) -> bytes:
    """Values of varying length as one string: their lengths (4 bytes each), then them."""
    if isinstance(values, ValueRun):
        return values.lengths.astype(np.uint32).tobytes() + values.joined()
    return array("I", map(len, values)).tobytes() + b"".join(values)


def pack_values(values: list[bytes] | ValueRun, level: int = 0) -> bytes | tuple[str, bytes]:
    """``pack``, compressed at zlib ``level`` as ``("p", data)`` when long enough."""
    packed = pack(values)
    if level and len(packed) >= SQUEEZE_FROM:
        return (PACKED_VALUES, zlib.compress(packed, level))
    return packed


def lengths_and_blob(stored: bytes | tuple, count: int) -> tuple[np.ndarray, bytes]:
    """A block's ``count`` values of varying length (``pack_values``) as (their lengths,
    them end to end)."""
    if isinstance(stored, tuple):
        tag, data = stored
        if tag != PACKED_VALUES:
            raise ValueError(f"not a block of packed values: {tag!r}")
        stored = zlib.decompress(data)
    return np.frombuffer(stored, dtype=np.uint32, count=count), stored[4 * count :]


def unpack(stored: bytes | tuple, count: int) -> list[bytes]:
    """The values of ``pack_values``."""
    lengths, blob = lengths_and_blob(stored, count)
    out = []
    at = 0
    for length in lengths.tolist():
        out.append(blob[at : at + length])
        at += length
    return out
