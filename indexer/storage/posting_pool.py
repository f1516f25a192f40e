"""A worker's posting pool: postings grouped by term in memory, never sorted or spilled.

Whoosh's ``PostingPool`` keeps every posting as a tuple, sorts them, spills sorted runs of
pickled tuples to disk past its memory limit and merges the runs back with a heap. For a
worker's segment of 50,000 passages (about 3.8 million postings; segments are larger now)
that was more than half of Whoosh's writing time. A segment's postings arrive in document order, so
grouping them by term leaves only the distinct terms to sort; compact arrays and shared
value strings (``indexer.storage.term_formats`` reuses the common ones) keep the segment in memory.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

Posting = tuple[str, bytes, int, float, bytes | None]


class TermGroupedPool:
    """Drop-in for Whoosh's ``PostingPool`` in a ``SegmentWriter`` that only adds documents.

    Postings of one term must arrive in increasing document order, as ``add_document``
    sends them.
    """

    def __init__(self) -> None:
        self.fieldnames: set[str] = set()
        self._terms: dict[tuple[str, bytes], tuple[array, array, list]] = {}

    def add(self, item: Posting) -> None:
        fieldname, tbytes, docnum, weight, vbytes = item
        key = (fieldname, tbytes)
        entry = self._terms.get(key)
        if entry is None:
            entry = self._terms[key] = (array("l"), array("d"), [])
            self.fieldnames.add(fieldname)
        entry[0].append(docnum)
        entry[1].append(weight)
        entry[2].append(vbytes)

    def iter_postings(self) -> Iterator[Posting]:
        """Every posting in (field, term, document) order, as Whoosh's writer reads them."""
        for key in sorted(self._terms):
            fieldname, tbytes = key
            docnums, weights, values = self._terms[key]
            for docnum, weight, vbytes in zip(docnums, weights, values, strict=True):
                yield fieldname, tbytes, docnum, weight, vbytes

    def cleanup(self) -> None:
        self._terms.clear()
