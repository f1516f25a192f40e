"""The index's own vocabulary, looked up by folded form: ``lang`` -> lạng, làng, láng, ...

The index keeps exact (canonical) forms only. A user who types without diacritics is
answered by expanding each folded syllable or word to the forms that really occur, which
keeps the index small and lets an accented query stay exact. Segments never change once
written, so the map is built once per segment and merged when a searcher is refreshed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from whoosh.searching import Searcher

from indexer.text import fold

FIELDS = ("text", "word", "title")


def _segment_key(reader) -> str:
    segment = reader.segment() if hasattr(reader, "segment") else None
    return segment.segment_id() if segment is not None else str(id(reader))


def _folded_map(reader, fieldname: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    if fieldname not in reader.schema:
        return out
    for btext, info in reader.iter_field(fieldname):
        term = btext.decode("utf-8")
        out[fold(term)][term] = info.doc_frequency()
    return out


@dataclass
class Vocabulary:
    """Folded form -> existing forms with their document frequencies, most frequent first."""

    forms: dict[str, dict[str, tuple[tuple[str, int], ...]]] = field(default_factory=dict)

    def variants(self, fieldname: str, folded: str) -> tuple[tuple[str, int], ...]:
        return self.forms.get(fieldname, {}).get(folded, ())

    def with_prefix(self, fieldname: str, prefix: str, limit: int = 200):
        """(folded form, its variants) for folded forms starting with ``prefix``."""
        keys = self._sorted_keys(fieldname)
        start = bisect_left(keys, prefix)
        out = []
        for key in keys[start : start + limit]:
            if not key.startswith(prefix):
                break
            out.append((key, self.forms[fieldname][key]))
        return out

    def _sorted_keys(self, fieldname: str) -> list[str]:
        cache = self.__dict__.setdefault("_keys", {})
        if fieldname not in cache:
            cache[fieldname] = sorted(self.forms.get(fieldname, {}))
        return cache[fieldname]


@dataclass
class VocabularyCache:
    """Keeps per-segment maps so a refresh only reads the new segments' lexicons."""

    _segments: dict[str, dict[str, dict[str, dict[str, int]]]] = field(default_factory=dict)
    _current: tuple[tuple[str, ...], Vocabulary] | None = None

    def for_searcher(self, searcher: Searcher) -> Vocabulary:
        leaves = [leaf for leaf, _ in searcher.reader().leaf_readers()]
        keys = tuple(_segment_key(leaf) for leaf in leaves)
        if self._current is not None and self._current[0] == keys:
            return self._current[1]
        fresh = {}
        for key, leaf in zip(keys, leaves, strict=False):
            fresh[key] = self._segments.get(key) or {f: _folded_map(leaf, f) for f in FIELDS}
        self._segments = fresh
        merged: dict[str, dict[str, tuple[tuple[str, int], ...]]] = {}
        for fieldname in FIELDS:
            combined: dict[str, Counter] = defaultdict(Counter)
            for maps in fresh.values():
                for folded, terms in maps[fieldname].items():
                    combined[folded].update(terms)
            merged[fieldname] = {
                k: tuple(sorted(v.items(), key=lambda item: (-item[1], item[0])))
                for k, v in combined.items()
            }
        vocabulary = Vocabulary(merged)
        self._current = (keys, vocabulary)
        return vocabulary


def completions(vocabulary: Vocabulary, text: str, limit: int = 10) -> list[str]:
    """Ways to finish the last word of ``text``, accent-insensitively, most frequent first.

    ``lang s`` -> ``lang sơn``...: a pyvi word that continues the previous syllable is
    preferred, then single syllables.
    """
    from indexer.segment import syllables  # local: keeps this module's imports light

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
