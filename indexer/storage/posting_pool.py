"""A worker's posting pool: postings grouped by term in memory, never sorted or spilled.

Whoosh's ``PostingPool`` keeps every posting as a tuple, sorts them, spills sorted runs of
pickled tuples to disk past its memory limit and merges the runs back with a heap. For a
worker's segment of 50,000 passages (about 3.8 million postings) that was more than
half of Whoosh's writing time. A segment's postings arrive in document order, so
grouping them by term leaves only the distinct terms to sort.

A field given as lists of terms (the text, word and title fields, as analysis makes
them) is kept as columns: per occurrence of a term, its term number, document and
position, appended a document at a time in C (``add_list``). Its postings are formed
when the segment is written, for all documents at once with numpy: a stable sort by
term, counts, weights and values (``term_formats.encode_values``). Other fields keep
each term's postings in arrays. Lists come out whole, a term at a time, for the codec to
write block by block (``PassagePostingsWriter.add_list``).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from itertools import repeat

import numpy as np

from indexer.storage import term_formats
from indexer.storage.blocks import ValueRun

Posting = tuple[str, bytes, int, float, bytes | None]
# A term's postings: document numbers, weights, values (in document order).
TermList = tuple[array, array, list]
# Occurrences whose postings are formed together at the flush: some 40 MB of arrays.
SLICE_OCCURRENCES = 1_000_000


class _Numbers(dict):
    """Term -> its number, in order of first sight."""

    def __missing__(self, term: str) -> int:
        number = self[term] = len(self)
        return number


class _Columns:
    """A field's term occurrences, as given in lists of terms."""

    __slots__ = ("boosts", "docs", "format", "numbers", "places", "terms")

    def __init__(self, fmt) -> None:
        self.format = fmt
        self.numbers = _Numbers()
        self.terms = array("i")  # term number of each occurrence
        self.docs = array("i")  # its document
        self.places = array("I") if fmt.supports("positions") else None  # its position
        self.boosts: dict[int, float] = {}  # document -> field boost, where not 1

    def add(self, docnum: int, terms: list[str], boost: float) -> None:
        self.terms.extend(map(self.numbers.__getitem__, terms))
        self.docs.extend(repeat(docnum, len(terms)))
        if self.places is not None:
            self.places.extend(range(len(terms)))
        if boost != 1.0:
            self.boosts[docnum] = boost

    def term_lists(
        self, fieldname: str
    ) -> Iterator[tuple[str, bytes, np.ndarray, np.ndarray, ValueRun]]:
        """Each term's postings, terms in UTF-8 bytes order; formed a slice of terms at a
        time, so that the arrays of the sort stay small beside the columns."""
        if not self.terms:  # documents whose lists were all empty: no postings
            return
        names = [term.encode("utf-8") for term in self.numbers]
        by_bytes = sorted(range(len(names)), key=names.__getitem__)
        rank = np.empty(len(names), dtype=np.int32)
        rank[by_bytes] = np.arange(len(names), dtype=np.int32)
        keys = rank[np.frombuffer(self.terms, dtype=np.int32)]  # each occurrence's rank
        self.terms = array("i")
        docs = np.frombuffer(self.docs, dtype=np.int32)
        places = None if self.places is None else np.frombuffer(self.places, dtype=np.uint32)
        boosts = None
        if self.boosts:
            boosts = np.ones(int(docs.max()) + 1)
            boosts[list(self.boosts)] = list(self.boosts.values())
        ends = np.cumsum(np.bincount(keys, minlength=len(names)))  # occurrences to each rank
        low = 0
        while low < len(names):
            before = int(ends[low - 1]) if low else 0
            high = int(np.searchsorted(ends, before + SLICE_OCCURRENCES, side="right"))
            high = min(max(high, low + 1), len(names))
            at = np.flatnonzero((keys >= low) & (keys < high))
            at = at[np.argsort(keys[at], kind="stable")]  # by term, each in document order
            yield from self._postings(
                fieldname,
                [names[i] for i in by_bytes[low:high]],
                keys[at] - low,
                docs[at],
                None if places is None else places[at],
                boosts,
            )
            low = high

    def _postings(self, fieldname, names, keys, docs, places, boosts):
        """The postings of the occurrences of ``names`` (``keys``: which name), grouped
        by name and in document order."""
        # A posting: the occurrences of one term in one document.
        count = len(keys)
        firsts = np.ones(count, dtype=bool)
        firsts[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
        firsts = np.flatnonzero(firsts)
        counts = np.diff(firsts, append=count)
        ids = docs[firsts]
        # The format's weight (count times its boost), then the document's field boost.
        weights = counts.astype(np.float64) * self.format.field_boost
        if boosts is not None:
            weights *= boosts[ids]
        values = term_formats.encode_values(self.format, counts, places)
        term_keys = keys[firsts]
        starts = [0, *(np.flatnonzero(term_keys[1:] != term_keys[:-1]) + 1).tolist()]
        stops = [*starts[1:], len(firsts)]
        for key, start, stop in zip(term_keys[starts].tolist(), starts, stops, strict=True):
            yield fieldname, names[key], ids[start:stop], weights[start:stop], values[start:stop]


class TermGroupedPool:
    """Drop-in for Whoosh's ``PostingPool`` in a ``SegmentWriter`` that only adds documents.

    Postings of one term must arrive in increasing document order, as ``add_document``
    sends them. A field takes either lists (``add_list``) or postings (the rest).
    """

    def __init__(self) -> None:
        self.fieldnames: set[str] = set()
        self._fields: dict[str, dict[bytes, TermList]] = {}
        self._columns: dict[str, _Columns] = {}

    def add(self, item: Posting) -> None:
        """One posting, as Whoosh's writer adds them."""
        fieldname, tbytes, docnum, weight, vbytes = item
        self.add_terms(fieldname, docnum, ((tbytes, 0, weight, vbytes),))

    def add_list(self, fieldname: str, docnum: int, terms: list[str], fmt, boost: float) -> int:
        """A document's terms in one field, in order, whose format ``fmt`` is one of
        ``term_formats``' (``encode_values``); returns the field's length. The postings
        are those of ``fmt.word_values(terms)``, weights times ``boost``."""
        columns = self._columns.get(fieldname)
        if columns is None:
            if fieldname in self._fields:
                raise ValueError(f"field {fieldname!r}: postings and term lists mixed")
            columns = self._columns[fieldname] = _Columns(fmt)
            self.fieldnames.add(fieldname)
        columns.add(docnum, terms, boost)
        return len(terms)

    def add_terms(
        self,
        fieldname: str,
        docnum: int,
        items: Iterable[tuple[str | bytes, int, float, bytes]],
        boost: float = 1.0,
    ) -> int:
        """A document's postings in one field, as its format's ``word_values`` gives them
        (terms as text) or as ``FieldType.index`` does (in bytes): (term, frequency,
        weight, value), weights times ``boost``. Returns the sum of the frequencies (the
        field's length)."""
        terms = self._field(fieldname)
        length = 0
        for term, freq, weight, vbytes in items:
            length += freq
            tbytes = term.encode("utf-8") if type(term) is str else term
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = (array("l"), array("d"), [])
            entry[0].append(docnum)
            entry[1].append(weight * boost if boost != 1.0 else weight)
            entry[2].append(vbytes)
        return length

    def _field(self, fieldname: str) -> dict[bytes, TermList]:
        terms = self._fields.get(fieldname)
        if terms is None:
            if fieldname in self._columns:
                raise ValueError(f"field {fieldname!r}: postings and term lists mixed")
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    def term_lists(self) -> Iterator[tuple]:
        """Each term's postings at once, (field, term) in Whoosh's order: UTF-8 bytes
        order within a field, fields by name. Yields ``(fieldname, btext, ids, weights,
        values)``: arrays, and a list of values or a ``ValueRun``."""
        for fieldname in sorted(self.fieldnames):
            columns = self._columns.get(fieldname)
            if columns is not None:
                yield from columns.term_lists(fieldname)
                continue
            terms = self._fields[fieldname]
            for tbytes in sorted(terms):
                yield (fieldname, tbytes, *terms[tbytes])

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting in (field, term, document) order, as Whoosh's writer reads them."""
        for fieldname, tbytes, docnums, weights, values in self.term_lists():
            if isinstance(values, ValueRun):
                values = values.tolist()
            for docnum, weight, vbytes in zip(
                docnums.tolist(), weights.tolist(), values, strict=True
            ):
                yield fieldname, tbytes, docnum, weight, vbytes

    def cleanup(self) -> None:
        self._fields.clear()
        self._columns.clear()
