"""A worker's posting pool: postings grouped by term in memory, never sorted or spilled.

Whoosh's ``PostingPool`` keeps every posting as a tuple, sorts them, spills sorted runs of
pickled tuples to disk past its memory limit and merges the runs back with a heap. For a
worker's segment of 50,000 passages (about 3.8 million postings) that was more than
half of Whoosh's writing time. A segment's postings arrive in document order, so
grouping them by term leaves only the distinct terms to sort; compact arrays and shared
value strings (``indexer.storage.term_formats`` reuses the common ones) keep the segment in
memory. The lists come out whole, a term at a time, for the codec to write block by block
(``PassagePostingsWriter.add_list``).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

Posting = tuple[str, bytes, int, float, bytes | None]
# A term's postings: document numbers, weights, values (in document order).
TermList = tuple[array, array, list]


class TermGroupedPool:
    """Drop-in for Whoosh's ``PostingPool`` in a ``SegmentWriter`` that only adds documents.

    Postings of one term must arrive in increasing document order, as ``add_document``
    sends them.
    """

    def __init__(self) -> None:
        self.fieldnames: set[str] = set()
        self._fields: dict[str, dict[bytes, TermList]] = {}

    def add(self, item: Posting) -> None:
        """One posting, as Whoosh's writer adds them."""
        fieldname, tbytes, docnum, weight, vbytes = item
        self._add(self._field(fieldname), tbytes, docnum, weight, vbytes)

    def add_terms(
        self,
        fieldname: str,
        docnum: int,
        items: Iterable[tuple[str, int, float, bytes]],
        boost: float = 1.0,
    ) -> int:
        """A document's postings in one field, as its format's ``word_values`` gives them:
        (term as text, frequency, weight, value), weights times ``boost``. Returns the
        sum of the frequencies (the field's length)."""
        terms = self._field(fieldname)
        length = 0
        for term, freq, weight, vbytes in items:
            length += freq
            tbytes = term.encode("utf-8")
            entry = terms.get(tbytes)
            if entry is None:
                entry = terms[tbytes] = (array("l"), array("d"), [])
            entry[0].append(docnum)
            entry[1].append(weight * boost if boost != 1.0 else weight)
            entry[2].append(vbytes)
        return length

    def add_encoded(
        self,
        fieldname: str,
        docnum: int,
        items: Iterable[tuple[bytes, int, float, bytes]],
        boost: float = 1.0,
    ) -> int:
        """``add_terms`` for terms already in bytes (what ``FieldType.index`` yields)."""
        terms = self._field(fieldname)
        length = 0
        for tbytes, freq, weight, vbytes in items:
            length += freq
            self._add(terms, tbytes, docnum, weight * boost if boost != 1.0 else weight, vbytes)
        return length

    def _field(self, fieldname: str) -> dict[bytes, TermList]:
        terms = self._fields.get(fieldname)
        if terms is None:
            terms = self._fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    @staticmethod
    def _add(terms: dict[bytes, TermList], tbytes, docnum, weight, vbytes) -> None:
        entry = terms.get(tbytes)
        if entry is None:
            entry = terms[tbytes] = (array("l"), array("d"), [])
        entry[0].append(docnum)
        entry[1].append(weight)
        entry[2].append(vbytes)

    def term_lists(self) -> Iterator[tuple[str, bytes, array, array, list]]:
        """Each term's postings at once, (field, term) in Whoosh's order: UTF-8 bytes
        order within a field, fields by name."""
        for fieldname in sorted(self._fields):
            terms = self._fields[fieldname]
            for tbytes in sorted(terms):
                yield (fieldname, tbytes, *terms[tbytes])

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting in (field, term, document) order, as Whoosh's writer reads them."""
        for fieldname, tbytes, docnums, weights, values in self.term_lists():
            for docnum, weight, vbytes in zip(docnums, weights, values, strict=True):
                yield fieldname, tbytes, docnum, weight, vbytes

    def cleanup(self) -> None:
        self._fields.clear()
