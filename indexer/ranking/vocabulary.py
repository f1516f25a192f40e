"""The index's own vocabulary, looked up by folded form: ``lang`` -> lạng, làng, láng, ...

The index keeps exact (canonical) forms only. A user who types without diacritics is
answered by expanding each folded syllable or word to the forms that really occur, which
keeps the index small and lets an accented query stay exact.

Each term is kept once, whatever the number of segments holding it, with its document
frequency summed over the live segments. Segments never change once written: when a
searcher is refreshed, only the new segments' lexicons are read and the vanished
segments' counts subtracted, so a commit costs the server the size of what it added.
Each segment's terms come from the file the indexer wrote beside it
(``indexer.storage.vocabulary_files``), or from Whoosh's term dictionary when there is none.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from whoosh.searching import Searcher

from indexer.analysis.text import fold
from indexer.ranking.postings import segment_key
from indexer.storage import vocabulary_files
from indexer.storage.vocabulary_files import FIELDS


def _fold_all(terms: list[str]) -> list[str]:
    """``fold`` of each term, in one call over all of them (terms hold no line breaks)."""
    keys = fold("\n".join(terms)).split("\n") if terms else []
    return keys if len(keys) == len(terms) else [fold(t) for t in terms]


class _FieldTable:
    """One field's terms, each once: its folded form and its document frequency."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.terms: list[str] = []
        self.by_folded: dict[str, list[int]] = defaultdict(list)
        self.df = np.zeros(1024, dtype=np.int64)  # by term id; grown by doubling
        self._sorted_keys: list[str] | None = None

    def add(self, terms: list[str], dfs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Count one segment's terms in; returns what to subtract when it goes.

        A segment's terms are mostly known already: they are looked up all at once, and
        only the new ones numbered and filed under their folded forms (the first segment
        of a large index brings hundreds of thousands)."""
        found = list(map(self.ids.get, terms))
        new = [p for p, i in enumerate(found) if i is None]
        if new:
            start = len(self.terms)
            added = [terms[p] for p in new]
            numbers = range(start, start + len(added))
            self.terms.extend(added)
            self.ids.update(zip(added, numbers, strict=True))
            for position, i in zip(new, numbers, strict=True):
                found[position] = i
            by_folded = self.by_folded
            keys = len(by_folded)
            for key, i in zip(_fold_all(added), numbers, strict=True):
                by_folded[key].append(i)
            if len(by_folded) != keys:
                self._sorted_keys = None
        if len(self.terms) > len(self.df):
            grown = np.zeros(max(len(self.terms), 2 * len(self.df)), dtype=np.int64)
            grown[: len(self.df)] = self.df
            self.df = grown
        ids = np.asarray(found, dtype=np.int64)
        counts = np.asarray(dfs, dtype=np.int64)
        self.df[ids] += counts  # a segment holds each term once: no repeated ids
        return ids, counts

    def remove(self, counts: tuple[np.ndarray, np.ndarray]) -> None:
        ids, dfs = counts
        self.df[ids] -= dfs

    def doc_frequency(self, term: str) -> int:
        i = self.ids.get(term)
        return 0 if i is None else int(self.df[i])

    def variants(self, folded: str) -> tuple[tuple[str, int], ...]:
        found = [(self.terms[i], int(self.df[i])) for i in self.by_folded.get(folded, ())]
        found = [item for item in found if item[1] > 0]
        found.sort(key=lambda item: (-item[1], item[0]))
        return tuple(found)

    def sorted_keys(self) -> list[str]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self.by_folded)
        return self._sorted_keys


@dataclass
class Vocabulary:
    """Folded form -> existing forms with their document frequencies, most frequent first."""

    tables: dict[str, _FieldTable] = field(default_factory=dict)
    _cache: dict[tuple[str, str], tuple[tuple[str, int], ...]] = field(default_factory=dict)
    _folded: dict[tuple[str, str], int] = field(default_factory=dict)

    def variants(self, fieldname: str, folded: str) -> tuple[tuple[str, int], ...]:
        key = (fieldname, folded)
        found = self._cache.get(key)
        if found is None:
            table = self.tables.get(fieldname)
            found = table.variants(folded) if table else ()
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = found
        return found

    def folded_frequency(self, fieldname: str, folded: str) -> int:
        """Passages holding any form of ``folded`` (summed over its forms: an upper bound,
        as Whoosh's document frequencies of several terms are)."""
        key = (fieldname, folded)
        found = self._folded.get(key)
        if found is None:
            found = sum(df for _, df in self.variants(fieldname, folded))
            if len(self._folded) > 500_000:
                self._folded.clear()
            self._folded[key] = found
        return found

    def doc_frequency(self, fieldname: str, term: str) -> int | None:
        """Passages holding ``term`` (deleted ones included, as Whoosh counts); None for a
        field the vocabulary does not keep."""
        table = self.tables.get(fieldname)
        return None if table is None else table.doc_frequency(term)

    def with_prefix(self, fieldname: str, prefix: str, limit: int = 200):
        """(folded form, its variants) for folded forms starting with ``prefix``."""
        table = self.tables.get(fieldname)
        if table is None:
            return []
        keys = table.sorted_keys()
        start = bisect_left(keys, prefix)
        out = []
        for key in keys[start : start + limit]:
            if not key.startswith(prefix):
                break
            found = self.variants(fieldname, key)
            if found:
                out.append((key, found))
        return out

    def changed(self) -> None:
        self._cache.clear()
        self._folded.clear()


def _empty_tables() -> dict[str, _FieldTable]:
    return {fieldname: _FieldTable() for fieldname in FIELDS}


@dataclass
class VocabularyCache:
    """A vocabulary kept segment by segment: one searcher's (``for_searcher``) or every
    shard's, from the segments' terms they send (``update``, as the search uses it)."""

    vocabulary: Vocabulary = field(default_factory=lambda: Vocabulary(_empty_tables()))
    _segments: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)

    def for_searcher(self, searcher: Searcher) -> Vocabulary:
        leaves = {segment_key(leaf): leaf for leaf, _ in searcher.reader().leaf_readers()}
        if leaves.keys() == self._segments.keys():
            return self.vocabulary
        parts = {}
        for key, leaf in leaves.items():
            if key not in self._segments:
                parts[key] = vocabulary_files.of_segment(leaf)
        return self.update(leaves.keys(), parts)

    def update(self, live, parts: dict[str, dict[str, vocabulary_files.Terms]]) -> Vocabulary:
        """The vocabulary of the segments ``live``: those gone are subtracted, ``parts``
        (the terms of each new one, by field) added."""
        live = set(live)
        if live == self._segments.keys() and not parts:
            return self.vocabulary
        tables = self.vocabulary.tables
        for key in [k for k in self._segments if k not in live]:
            for fieldname, counts in self._segments.pop(key).items():
                tables[fieldname].remove(counts)
        for key, found in parts.items():
            if key in live and key not in self._segments:
                self._segments[key] = {f: tables[f].add(*found[f]) for f in FIELDS}
        self.vocabulary.changed()
        return self.vocabulary


def completions(vocabulary: Vocabulary, text: str, limit: int = 10) -> list[str]:
    """Ways to finish the last word of ``text``, accent-insensitively, most frequent first.

    ``lang s`` -> ``lang sơn``...: a pyvi word that continues the previous syllable is
    preferred, then single syllables.
    """
    from indexer.analysis.segment import syllables  # local: keeps this module's imports light

    syls = syllables(text)
    if not syls or text[syls[-1].end :].strip():
        return []
    last = syls[-1]
    head = text[: last.start]
    prefix = fold(last.text)
    continuing: dict[str, int] = defaultdict(int)  # the rest of a word begun before
    if len(syls) > 1:
        previous = fold(syls[-2].text)
        for _, terms in vocabulary.with_prefix("word", f"{previous}_{prefix}"):
            for term, df in terms:
                rest = term.split("_")[1]
                continuing[rest] += df
    single = {term: df for _, terms in vocabulary.with_prefix("text", prefix) for term, df in terms}
    ranked = sorted(continuing.items(), key=lambda item: (-item[1], item[0]))
    ranked += sorted(
        ((t, df) for t, df in single.items() if t not in continuing),
        key=lambda item: (-item[1], item[0]),
    )
    capital = last.text[:1].isupper()
    return [head + (word[:1].upper() + word[1:] if capital else word) for word, _ in ranked[:limit]]
