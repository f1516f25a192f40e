"""Speed fixes for Whoosh 2.7.4 (pinned), applied once on import.

Whoosh looks up a document's field length by reading one byte from the length column
file for every posting it writes and every posting it scores: over a million reads per
20,000 passages committed, and a large share of each OR query's time. Here the column is
decoded once per segment reader into an array and looked up in memory.

A document's stored fields go through three wrapped column readers, a seek and a
buffered read; here they are one ``os.pread``, one ``zlib.decompress`` and one
``pickle.loads`` (about 20 -> 8 µs a passage; a search reads fifty to re-rank them).
Looking a term up reads a segment's term table a few bytes at a time, each read a seek
and a buffered read; the term table and the postings file read with ``os.pread`` instead
(a segment's files never change once written). Results are the same to the bit (tests
compare them).
"""

from __future__ import annotations

import os
import zlib
from array import array
from pickle import loads

import numpy as np
from whoosh import columns
from whoosh.codec import whoosh3
from whoosh.util.numeric import byte_to_length

_original_doc_field_length = whoosh3.W3PerDocReader.doc_field_length
_original_stored_fields = whoosh3.W3PerDocReader.stored_fields


def field_lengths(reader, fieldname: str) -> array | None:
    """A segment's length column for ``fieldname``, decoded (``reader``: its per-document
    reader)."""
    cache = reader.__dict__.setdefault("_vnsearch_lengths", {})
    lengths = cache.get(fieldname)
    if lengths is None:
        column = reader._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        if column is None:
            lengths = None
        elif isinstance(column, columns.NumericColumn.Reader) and column._fixedlen == 1:
            lengths = _decode_bytes(column)
        else:
            lengths = array("I", (byte_to_length(b) if b else 0 for b in column))
        cache[fieldname] = lengths
    return lengths


# Whoosh stores a length in one byte, on a log scale; byte 0 means no length.
_BYTE_TO_LENGTH = np.array([byte_to_length(b) if b else 0 for b in range(256)], dtype=np.uint32)


def _decode_bytes(column) -> array:
    """A one-byte-per-document column read in one piece: Whoosh reads it byte by byte,
    a second per million documents."""
    raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
    lengths = np.zeros(column._doccount, dtype=np.uint32)  # past the end: Whoosh's default 0
    lengths[: len(raw)] = _BYTE_TO_LENGTH[raw]
    return array("I", lengths.tobytes())


def doc_field_length(self, docnum, fieldname, default=0):
    try:  # the hot path: called for every posting written and scored
        lengths = self._vnsearch_lengths[fieldname]
    except (AttributeError, KeyError):
        lengths = field_lengths(self, fieldname)
    if lengths is None or docnum >= len(lengths):
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        if lengths is None:
            return default
        return _original_doc_field_length(self, docnum, fieldname, default)
    return lengths[docnum] or None  # Whoosh returns None for a zero length byte


def _stored_column(reader):
    """The (compressed, variable-length) column under the segment's stored fields, if it
    is the one Whoosh writes, in a file of its own; else None."""
    column = reader._cached_reader("_stored", whoosh3.STORED_COLUMN)
    child = getattr(column, "_child", None)
    if not isinstance(child, columns.CompressedBytesColumn.Reader) or child._decompress is not (
        zlib.decompress
    ):
        return None
    fileobj = getattr(child._dbfile, "file", None)
    try:
        fileobj.fileno()
    except (AttributeError, OSError, ValueError):  # in memory (a compound segment)
        return None
    return child


def stored_fields(self, docnum):
    try:
        column = self._vnsearch_stored
    except AttributeError:
        column = self._vnsearch_stored = _stored_column(self)
    if column is None or not 0 <= docnum < len(column._lengths):
        return _original_stored_fields(self, docnum)
    length = column._lengths[docnum]
    if not length:
        return {}
    start = column._basepos + column._offsets[docnum]
    data = os.pread(column._dbfile.file.fileno(), length, start)
    return loads(zlib.decompress(data))


def preading(structfile):
    """``structfile`` with ``get`` reading through one ``os.pread`` (no seek, no buffer),
    if it is a file on disk; else as it is."""
    try:
        fd = structfile.file.fileno()
    except (AttributeError, OSError, ValueError):
        return structfile

    def get(position: int, length: int) -> bytes:
        return os.pread(fd, length, position)

    structfile.get = get
    return structfile


_original_terms_reader = whoosh3.W3Codec.terms_reader


def terms_reader(self, storage, segment):
    reader = _original_terms_reader(self, storage, segment)
    preading(reader._dbfile)
    preading(reader._postfile)
    return reader


whoosh3.W3Codec.terms_reader = terms_reader
whoosh3.W3PerDocReader.doc_field_length = doc_field_length
whoosh3.W3PerDocReader.stored_fields = stored_fields
