"""Whoosh posting formats that index a ready list of terms without making tokens.

Passages reach the index already analysed (``indexer.analysis.analyse_passage``), as
lists of terms. Whoosh still turns such a list into one ``Token`` per term and encodes
every posting value anew: on real passages about 120 µs for the text field's positions
and 20 µs for the word field's counts, of the ~1.4 ms a worker spends on a passage
(these formats: 40 and 8 µs). They count the list directly and reuse the value strings
that repeat (one position, a small count); what they return is exactly what Whoosh's own
formats return (a test compares them). Text that is not a list goes through Whoosh's code
as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import lru_cache

from whoosh.formats import Frequency, Positions
from whoosh.system import pack_uint

WordValue = tuple[str, int, float, bytes]

_pack_count = lru_cache(maxsize=1024)(pack_uint)


@lru_cache(maxsize=4096)
def _one_position(pos: int) -> bytes:
    return Positions().encode([pos])


class TermPositions(Positions):
    """Whoosh's ``Positions``; a list value is taken as the terms at positions 0, 1, ..."""

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
