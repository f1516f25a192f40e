"""The product's Whoosh codec: compact posting blocks, read and written through Whoosh's
own extension point.

Whoosh pickles the codec that wrote a segment into the index's table of contents, and
every reader of the segment asks that codec for its readers: this product, and as well a
plain ``whoosh.index.open_dir`` in a process that never imported it (the package must be
installed). So the layout of ``indexer.storage.blocks`` is written and read only by these
classes, and Whoosh's own are left as they are.

- ``PassageCodec``: Whoosh 2.7.4's codec (``W3Codec``) with the classes below; pickled as
  ``indexer.storage.codec.PassageCodec(blocklimit, compression, inlinelimit)``, its name is
  the record of the layout: keep the class importable under that name for as long as
  indexes written with it are to be opened.
- ``PassagePostingsWriter`` / ``PassageLeafMatcher``: blocks in the compact layout;
  ``PassageFieldWriter`` also takes a term's whole posting list at once and writes it a
  block at a time (Whoosh adds a posting at a time: most of a worker's flush).
- ``PassageTermsReader``: the term table and the postings read with ``os.pread`` (a
  segment's files never change once written), each posting list read at once.
- ``PassagePerDocReader``: field lengths decoded once per segment into an array (Whoosh
  reads one byte from the file for every posting it scores or merges), a document's
  stored fields read with one ``os.pread``, one ``zlib.decompress`` and one
  ``pickle.loads`` (about 20 -> 8 µs a passage). Results are the same to the bit.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from array import array

import numpy as np
from whoosh import columns
from whoosh.codec import whoosh3
from whoosh.filedb.structfile import StructFile
from whoosh.util.numeric import byte_to_length, length_to_byte

from indexer.storage import blocks

_BLOCK_SIZE = struct.Struct("!i")  # a block's length; negative for the last block


class FieldLengths:
    """Every document's length in one field (0: none), as a numpy array and a list."""

    def __init__(self, lengths: np.ndarray) -> None:
        self.as_array = lengths
        self.as_list = lengths.tolist()


class PreadFile(StructFile):
    """A segment file whose ``get`` is one ``os.pread``: no seek and no buffered read for
    each of the many small reads of a term lookup."""

    def __init__(self, fileobj, name=None, onclose=None) -> None:
        super().__init__(fileobj, name=name, onclose=onclose)
        self._fd = fileobj.fileno()

    def get(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)


def preading(structfile: StructFile) -> StructFile:
    """``structfile`` read through ``PreadFile`` if it is a file on disk; else itself (a
    part of a compound segment, in memory)."""
    fileobj = structfile.file
    try:
        fileobj.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return structfile
    return PreadFile(fileobj, name=structfile._name, onclose=structfile.onclose)


def _variable(fixedsize: int | None) -> bool:
    return fixedsize is None or fixedsize < 0


class PassageCodec(whoosh3.W3Codec):
    """Whoosh's codec, writing and reading posting blocks in the compact layout."""

    def __init__(self, blocklimit: int = 128, compression: int = 3, inlinelimit: int = 1):
        super().__init__(blocklimit=blocklimit, compression=compression, inlinelimit=inlinelimit)

    def __reduce__(self):
        # What each segment records: the class by name and its three settings, not the
        # attributes of Whoosh's base class.
        return type(self), (self._blocklimit, self._compression, self._inlinelimit)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(blocklimit={self._blocklimit}, "
            f"compression={self._compression}, inlinelimit={self._inlinelimit})"
        )

    def postings_writer(self, dbfile, byteids=False):
        return PassagePostingsWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():  # never written: Whoosh 2.7.4 fails to inline a list
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return PassageLeafMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)

    def per_document_reader(self, storage, segment):
        return PassagePerDocReader(storage, segment)

    def field_writer(self, storage, segment):
        return PassageFieldWriter(self, storage, segment)

    def terms_reader(self, storage, segment):
        tiname = segment.make_filename(self.TERMS_EXT)
        tilen = storage.file_length(tiname)
        tifile = storage.open_file(tiname)
        postfile = segment.open_file(storage, self.POSTS_EXT)
        return PassageTermsReader(self, tifile, tilen, postfile)


class PassageFieldWriter(whoosh3.W3FieldWriter):
    """Whoosh's term table and posting file writer, which also takes whole lists."""

    def add_term_lists(self, schema, lengths, lists) -> None:
        """Write ``(fieldname, btext, ids, weights, values)`` lists, in Whoosh's order of
        fields and terms (``TermGroupedPool.term_lists``): the same files as Whoosh's
        ``add_postings`` over the same postings. ``lengths`` is the segment's
        ``PassagePerDocReader``, whose field lengths go into each block's statistics."""
        lastfn = None
        field_lengths = None
        for fieldname, btext, ids, weights, values in lists:
            if fieldname != lastfn:
                if lastfn is not None:
                    self.finish_field()
                self.start_field(fieldname, schema[fieldname])
                found = lengths.length_array(fieldname) if lengths else None
                field_lengths = None if found is None else FieldLengths(found)
                lastfn = fieldname
            self.start_term(btext)
            self._postwriter.add_list(ids, weights, values, field_lengths)
            self.finish_term()
        if lastfn is not None:
            self.finish_field()


class PassagePostingsWriter(whoosh3.W3PostingsWriter):
    """Writes each block in the compact layout (``indexer.storage.blocks``)."""

    def add_list(self, ids, weights, values, lengths: FieldLengths | None) -> None:
        """A term's postings, in document order, at once: the blocks and statistics of
        as many ``add_posting`` calls. ``ids`` and ``weights`` are arrays (``array`` or
        numpy), ``values`` a list of byte strings or a ``blocks.ValueRun``, ``lengths``
        the documents' lengths in the field (or None). Blocks are cut as Whoosh cuts
        them; the last stays buffered for ``finish_postings``."""
        limit = self._blocklimit
        count = len(ids)
        if count < self._inlinelimit and isinstance(values, blocks.ValueRun):
            values = values.tolist()  # inlined in the term table: kept as a list
        for at in range(0, count, limit):
            if at:
                self._write_block()
            whole = count <= limit
            block_values = values if whole else values[at : at + limit]
            if isinstance(block_values, list):
                block_values = [v for v in block_values if v]  # add_posting skips b""
            self._values = block_values
            block_ids = ids if whole else ids[at : at + limit]
            block_weights = weights if whole else weights[at : at + limit]
            if len(block_ids) <= blocks.SMALL:  # numpy would cost more than it saves
                self._small_block(block_ids.tolist(), block_weights.tolist(), lengths)
            else:
                self._large_block(block_ids, block_weights, lengths)

    def _small_block(self, ids: list[int], weights: list[float], lengths) -> None:
        self._ids = array("I", ids)
        self._weights = array("f", weights)
        # add_posting keeps a weight only if greater than the one before, from 0.
        self._maxweight = max(0, max(weights))
        if lengths is not None:
            found = [n for n in map(lengths.as_list.__getitem__, ids) if n]  # zero: skipped
            if found:
                self._minlength = min(found)
                self._maxlength = max(found)

    def _large_block(self, ids, weights, lengths) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        self._ids = array("I", ids.astype(np.uint32).tobytes())
        self._weights = array("f", weights.astype(np.float32).tobytes())
        top = float(weights.max())
        self._maxweight = top if top > 0 else 0
        if lengths is not None:
            found = lengths.as_array[ids]
            found = found[found > 0]
            if len(found):
                self._minlength = int(found.min())
                self._maxlength = int(found.max())

    def _write_block(self, last=False):
        # Whoosh's own, but for the parts: with positions (values of varying length) each
        # part is compressed on its own and the block as a whole not; without, the block
        # is little more than its ids, compressed whole.
        if not self._blockcount:
            self._postfile.write(whoosh3.WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)

        variable = _variable(self._format.fixed_value_size())
        part_level = self._compression if variable else 0
        data = (
            self._packed_ids(part_level),
            blocks.pack_weights(self._weights, part_level),
            self._packed_values(variable, part_level),
        )
        databytes = pickle.dumps(data, blocks.PROTOCOL)
        comp = 0 if variable else self._compression
        if comp:
            databytes = zlib.compress(databytes, comp)

        ids = self._ids
        info = (
            len(ids),
            ids[-1],
            self._maxweight,
            comp,
            length_to_byte(self._minlength),
            length_to_byte(self._maxlength),
        )
        infobytes = pickle.dumps(info, blocks.PROTOCOL)

        blocklength = len(infobytes) + len(databytes)
        self._postfile.write_int(-blocklength if last else blocklength)
        self._postfile.write(infobytes)
        self._postfile.write(databytes)
        self._blockcount += 1
        self._new_block()

    def _packed_ids(self, level: int):
        if self._byteids:  # a term vector's terms: as Whoosh writes them
            return tuple(self._ids)
        return blocks.pack_ids(self._ids, level)

    def _packed_values(self, variable: bool, level: int):
        if variable:
            return blocks.pack_values(self._values, level)
        if isinstance(self._values, blocks.ValueRun):  # as _mini_values joins a list
            return self._values.joined() if self._format.fixed_value_size() else None
        return self._mini_values()  # none, or all of one size: as Whoosh writes them


class PassageLeafMatcher(whoosh3.W3LeafMatcher):
    """Whoosh's matcher over blocks in the compact layout."""

    def _read_ids(self):
        if self._data is None:
            self._read_data()
        if self._byteids:
            super()._read_ids()
        else:
            self._ids = blocks.unpack_ids(self._data[0]).tolist()

    def _read_weights(self):
        if self._data is None:
            self._read_data()
        stored = self._data[1]
        if isinstance(stored, bytes):
            self._weights = blocks.unpack_weights(stored).astype(np.float64).tolist()
        else:
            super()._read_weights()

    def _read_values(self):
        if self._data is None:
            self._read_data()
        if _variable(self._fixedsize):
            self._values = blocks.unpack(self._data[2], self._blocklength)
        else:
            super()._read_values()


class PassageTermsReader(whoosh3.W3TermsReader):
    """Whoosh's term table reader, its files read with ``os.pread``."""

    def __init__(self, codec, dbfile, length, postfile) -> None:
        super().__init__(codec, preading(dbfile), length, preading(postfile))

    def posting_blocks(self, fieldname: str, btext: bytes) -> list[tuple] | None:
        """The (ids, weights, values) of each block of a term's posting list, as stored
        (``indexer.storage.blocks``), the list read from disk at once; None when the
        segment does not hold the term.

        Whoosh's matcher reads a list a few bytes at a time (the header, then each
        block's length, statistics and data) and walks the term table the same way:
        that was most of the cost of reading a short list.
        """
        try:
            raw_info = self._tindex[self._keycoder(fieldname, btext)]
        except KeyError:
            return None
        info = whoosh3.W3TermInfo.from_bytes(raw_info)
        if info.is_inlined():  # Whoosh 2.7.4 fails to write one (``set_inline``)
            raise ValueError(f"postings inlined in the term table for {fieldname}:{btext!r}")
        offset, length = info.extent()
        length = length[0] if isinstance(length, tuple) else length  # Whoosh unpacks a 1-tuple
        raw = self._postfile.get(offset, length)
        header = whoosh3.WHOOSH3_HEADER_MAGIC
        if raw[: len(header)] != header:
            raise ValueError(f"no posting list at {offset} for {fieldname}:{btext!r}")
        stream = io.BytesIO(raw)
        found = []
        at = len(header)
        while at < len(raw):
            (size,) = _BLOCK_SIZE.unpack_from(raw, at)
            stream.seek(at + _BLOCK_SIZE.size)
            _count, _, _, compression, _, _ = pickle.load(stream)
            end = at + _BLOCK_SIZE.size + abs(size)
            data = raw[stream.tell() : end]
            found.append(pickle.loads(zlib.decompress(data) if compression else data))
            at = end
            if size < 0:
                break
        return found


# Whoosh stores a length in one byte, on a log scale; byte 0 means no length.
_BYTE_TO_LENGTH = np.array([byte_to_length(b) if b else 0 for b in range(256)], dtype=np.uint32)


class PassagePerDocReader(whoosh3.W3PerDocReader):
    """Whoosh's per-document reader, with field lengths in memory and stored fields read
    in one piece."""

    def __init__(self, storage, segment) -> None:
        super().__init__(storage, segment)
        self._length_columns: dict[str, array | None] = {}
        self._length_arrays: dict[str, np.ndarray | None] = {}
        self._stored_child = None
        self._stored_checked = False

    # Field lengths

    def length_column(self, fieldname: str) -> array | None:
        """Each document's length in ``fieldname`` as Whoosh scores it, decoded once
        (None: the segment has no lengths for the field)."""
        try:
            return self._length_columns[fieldname]
        except KeyError:
            pass
        column = self._cached_reader(whoosh3._lenfield(fieldname), whoosh3.LENGTHS_COLUMN)
        if column is None:
            lengths = None
        elif isinstance(column, columns.NumericColumn.Reader) and column._fixedlen == 1:
            lengths = _decode_bytes(column)
        else:
            lengths = array("I", (byte_to_length(b) if b else 0 for b in column))
        self._length_columns[fieldname] = lengths
        return lengths

    def length_array(self, fieldname: str) -> np.ndarray | None:
        """``length_column`` as a numpy array over every document of the segment."""
        try:
            return self._length_arrays[fieldname]
        except KeyError:
            pass
        column = self.length_column(fieldname)
        if column is None:
            found = None
        else:
            found = np.frombuffer(column, dtype=np.uint32)
            missing = self._doccount - len(found)
            # Documents past the column's end have no terms in the field.
            if missing > 0:
                found = np.pad(found, (0, missing))
        self._length_arrays[fieldname] = found
        return found

    def doc_field_length(self, docnum, fieldname, default=0):
        try:  # the hot path: called for every posting merged and scored
            lengths = self._length_columns[fieldname]
        except KeyError:
            lengths = self.length_column(fieldname)
        if lengths is None or docnum >= len(lengths):
            if docnum > self._doccount:
                raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
            if lengths is None:
                return default
            return super().doc_field_length(docnum, fieldname, default)
        return lengths[docnum] or None  # Whoosh returns None for a zero length byte

    # Stored fields

    def _stored_column(self):
        """The (compressed, variable-length) column under the segment's stored fields, if
        it is the one Whoosh writes, in a file of its own; else None."""
        if not self._stored_checked:
            column = self._cached_reader("_stored", whoosh3.STORED_COLUMN)
            child = getattr(column, "_child", None)
            if isinstance(child, columns.CompressedBytesColumn.Reader) and (
                child._decompress is zlib.decompress
            ):
                try:
                    child._dbfile.file.fileno()
                except (AttributeError, OSError, ValueError):  # in memory (a compound segment)
                    child = None
                self._stored_child = child
            self._stored_checked = True
        return self._stored_child

    def stored_fields(self, docnum):
        column = self._stored_column()
        if column is None or not 0 <= docnum < len(column._lengths):
            return super().stored_fields(docnum)
        length = column._lengths[docnum]
        if not length:
            return {}
        start = column._basepos + column._offsets[docnum]
        data = os.pread(column._dbfile.file.fileno(), length, start)
        return pickle.loads(zlib.decompress(data))

    # Term vectors (the product writes none): blocks in the compact layout

    def vector(self, docnum, fieldname, format_):
        if self._vpostfile is None:
            self._prep_vectors()
        offset, length = self._vector_extent(docnum, fieldname)
        if not offset:
            raise Exception(f"Field {fieldname!r} has no vector in docnum {docnum}")
        return PassageLeafMatcher(self._vpostfile, offset, length, format_, byteids=True)


def _decode_bytes(column) -> array:
    """A one-byte-per-document column read in one piece: Whoosh reads it byte by byte,
    a second per million documents."""
    raw = np.frombuffer(column._dbfile.get(column._basepos, column._count), dtype=np.uint8)
    lengths = np.zeros(column._doccount, dtype=np.uint32)  # past the end: Whoosh's default 0
    lengths[: len(raw)] = _BYTE_TO_LENGTH[raw]
    return array("I", lengths.tobytes())
