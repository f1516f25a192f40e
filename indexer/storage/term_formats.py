"""Whoosh posting formats that index a ready list of terms without making tokens.

Passages reach the index already analysed (``indexer.analysis.analyzers.analyse_passages``),
as lists of terms. Whoosh still turns such a list into one ``Token`` per term and encodes
every posting value anew: on real passages about 120 µs for the text field's positions
and 20 µs for the word field's counts (these formats: 40 and 8 µs). They count the list
directly and reuse the value strings that repeat (one position, a small count); what
they return is exactly what Whoosh's own formats return (a test compares them). Text
that is not a list goes through Whoosh's code as before. An indexing worker does not
even call them: its pool makes the postings of all its passages' lists at once, their
values with ``encode_values``, the same bytes.

Positions are written compactly: a marker byte, then each position in two bytes, instead
of Whoosh's count and pickled list of deltas (13 bytes for one position). Values in
Whoosh's encoding, from segments written before, are read as before.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

from indexer.storage.blocks import ValueRun, from_little_endian, little_endian

COMPACT = 1  # first byte of a compact positions value; Whoosh's starts with 0 (its count)
_MARK = bytes((COMPACT,))

WordValue = tuple[str, int, float, bytes]

_pack_count = lru_cache(maxsize=1024)(pack_uint)


def encode_positions(positions: list[int]) -> bytes:
    """Increasing positions, two bytes each (little-endian), after the marker byte; in
    Whoosh's encoding if one does not fit in two bytes."""
    if positions and positions[-1] >= 1 << 16:
        return Positions().encode(positions)
    return _MARK + little_endian(array("H", positions))


def decode_positions(value: bytes) -> list[int]:
    """The positions of a value in either encoding."""
    if value[:1] != _MARK:
        return Positions().decode_positions(value)
    return from_little_endian("H", value[1:]).tolist()


@lru_cache(maxsize=4096)
def _one_position(pos: int) -> bytes:
    return encode_positions([pos])


class TermPositions(Positions):
    """Whoosh's ``Positions``, written compactly; a list value is taken as the terms at
    positions 0, 1, ..."""

    def encode(self, poslist) -> bytes:
        return encode_positions(list(poslist))

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return decode_positions(valuestring)

    def decode_frequency(self, valuestring: bytes) -> int:
        if valuestring[:1] == _MARK:
            return (len(valuestring) - 1) // 2
        return super().decode_frequency(valuestring)

    def word_values(self, value, analyzer, **kwargs) -> Iterator[WordValue]:
        if not isinstance(value, list):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        places: dict[str, list[int]] = {}
        for pos, term in enumerate(value):
            found = places.get(term)
            if found is None:
                places[term] = [pos]
            else:
                found.append(pos)
        boost = self.field_boost
        for term, poslist in places.items():
            count = len(poslist)
            encoded = _one_position(poslist[0]) if count == 1 else self.encode(poslist)
            yield term, count, float(count) * boost, encoded


class TermFrequency(Frequency):
    """Whoosh's ``Frequency``; a list value is counted as it is."""

    def word_values(self, value, analyzer, **kwargs) -> Iterator[WordValue]:
        if not isinstance(value, list):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return (
            (term, count, float(count) * boost, _pack_count(count))
            for term, count in Counter(value).items()
        )


def encode_values(fmt, counts: np.ndarray, positions: np.ndarray | None) -> ValueRun:
    """The values of many postings at once, as ``fmt.word_values`` encodes each:
    ``counts[i]`` is posting i's frequency and, for ``TermPositions``, ``positions`` its
    positions, posting after posting, each posting's in increasing order."""
    if isinstance(fmt, TermPositions):
        if positions is None or len(positions) != int(counts.sum()):
            raise ValueError("positions: one per occurrence")
        if len(positions) and int(positions.max()) >= 1 << 16:  # some in Whoosh's encoding
            ends = np.cumsum(counts).tolist()
            places = positions.tolist()
            values, start = [], 0
            for end in ends:
                values.append(encode_positions(places[start:end]))
                start = end
            return ValueRun.of(values)
        # A marker byte, then two bytes (little-endian) for each position.
        firsts = np.zeros(len(counts), dtype=np.int64)
        np.cumsum(counts[:-1], out=firsts[1:])
        data = np.insert(positions.astype("<u2").view(np.uint8), 2 * firsts, COMPACT)
        return ValueRun((1 + 2 * counts).astype(np.uint32), data)
    if isinstance(fmt, TermFrequency):
        return ValueRun(np.full(len(counts), 4, dtype=np.uint32), counts.astype(">u4").tobytes())
    raise TypeError(f"no encoding of many values for {type(fmt).__name__}")
