"""Every passage of the index as numbers: its article, its category, source, date and month,
and its place in the order of article ids.

What is counted or ordered over all the passages a query matches (facets, one result per
article, newest first) looks these up with numpy instead of reading stored fields. Each
segment's arrays are read once (a column and the posting lists of a few small fields) and
kept while the segment lives; after a commit only new segments are read.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

import numpy as np

from indexer.ranking.postings import Leaves, segment_postings
from indexer.storage.schema import FILTER_FIELDS

FACETS = (*FILTER_FIELDS, "date")  # "date" is counted by month
UNDATED = -1


@dataclass(frozen=True)
class _Part:
    """One segment's arrays, in its own document numbers; facet values index ``keys``."""

    starts: np.ndarray  # bool per document: the first passage of an article
    article_ids: list[str]  # the id of each article, in the order of ``starts``
    date: np.ndarray  # int32 per document: YYYYMMDD, or UNDATED
    values: dict[str, np.ndarray]  # facet -> int32 per document, -1 for none
    keys: dict[str, list[str]]  # facet -> the key of each value (folded value, "YYYY-MM")
    labels: dict[str, list[str]]  # facet -> what is shown for each value


@dataclass(frozen=True)
class PassageTable:
    """The arrays of a whole reader, in its document numbers (deleted documents included).

    An article's passages are consecutive documents, first passage first (as written, and
    as merges keep them): ``article`` numbers the runs that start at a first passage.
    """

    article: np.ndarray  # int32 per document: its article's number
    article_ids: tuple[str, ...]  # per article: its id
    # int64 per document: ties between passages of equal score are broken by article id,
    # then paragraph, the same order in one index and in shards of it (the document
    # number is not: it depends on how the index was written). The key is the rank of
    # the article's id among the index's, then the document number.
    order_key: np.ndarray
    firsts: np.ndarray  # per article: the document number of its first passage
    date: np.ndarray  # int32 per document: YYYYMMDD or UNDATED
    labels: dict[str, tuple[str, ...]]  # facet -> what is shown for each of its values
    keys: dict[str, tuple[str, ...]]  # facet -> the key of each value (folded, "YYYY-MM")
    # Each distinct combination of facet values is numbered: counting the matches by
    # combination is one pass over them, instead of one per facet.
    combination: np.ndarray  # per document
    article_combination: np.ndarray  # per article
    combination_values: dict[str, np.ndarray]  # facet -> int32 per combination, -1 none

    @property
    def articles(self) -> int:
        return len(self.firsts)

    def key(self, docnum: int) -> tuple[str, int]:
        """(article id, paragraph) of a passage: what orders passages of equal score."""
        article = int(self.article[docnum])
        return self.article_ids[article], docnum - int(self.firsts[article])


def _article_starts(leaf, size: int) -> np.ndarray:
    """Where each article starts: the passages that carry its content hash."""
    if leaf.has_column("article_hash"):
        column = leaf.column_reader("article_hash", translate=False)
        lengths = getattr(column, "_lengths", None)  # Whoosh's VarBytesColumn: no reads
        if lengths is not None and len(lengths) == size:
            starts = np.asarray(lengths) > 0
        else:
            starts = np.fromiter((bool(v) for v in column), dtype=bool, count=size)
    else:  # a segment written without our columns: its stored paragraph numbers
        starts = np.fromiter(
            (leaf.stored_fields(d).get("paragraph", 0) == 0 for d in range(size)),
            dtype=bool,
            count=size,
        )
    if size:
        starts[0] = True
    return starts


def _article_ids(leaf, starts: np.ndarray) -> list[str]:
    """The id of each article of a segment, from the content hash its first passage
    carries ("<id> <digest>"), or from its stored fields."""
    firsts = np.flatnonzero(starts).tolist()
    if leaf.has_column("article_hash"):
        column = leaf.column_reader("article_hash", translate=False)
        values = [column[d] for d in firsts]
        if all(values):
            return [v.decode("utf-8").rpartition(" ")[0] for v in values]
    return [leaf.stored_fields(d).get("article_id", "") for d in firsts]


def _read_part(leaf) -> _Part:
    size = leaf.doc_count_all()
    starts = _article_starts(leaf, size)
    article_ids = _article_ids(leaf, starts)
    values, keys, labels = {}, {}, {}
    for name in FILTER_FIELDS:
        field = f"{name}_key"
        found = np.full(size, -1, dtype=np.int32)
        keys[name], labels[name] = [], []
        for btext in leaf.lexicon(field):
            ids, _ = segment_postings(leaf, field, btext)
            if not len(ids):
                continue
            found[ids] = len(keys[name])
            key = btext.decode("utf-8")
            keys[name].append(key)
            labels[name].append(_shown(leaf, name, ids, starts) or key)
        values[name] = found
    date = np.full(size, UNDATED, dtype=np.int32)
    for btext in leaf.lexicon("date"):
        text = btext.decode("utf-8")
        digits = text.replace("-", "")
        if len(digits) == 8 and digits.isdigit():  # "YYYY-MM-DD", as the reader writes it
            ids, _ = segment_postings(leaf, "date", btext)
            date[ids] = int(digits)
    months = np.where(date >= 0, date // 100, -1)
    distinct = np.unique(months[months >= 0])
    values["date"] = np.where(months >= 0, np.searchsorted(distinct, months), -1).astype(np.int32)
    keys["date"] = labels["date"] = [f"{m // 100:04d}-{m % 100:02d}" for m in distinct.tolist()]
    return _Part(starts, article_ids, date, values, keys, labels)


def _shown(leaf, name: str, ids: np.ndarray, starts: np.ndarray) -> str | None:
    """The value as written, stored with the first passage of an article holding it."""
    firsts = ids[starts[ids]]
    if not len(firsts):
        return None
    return leaf.stored_fields(int(firsts[0])).get(name)


def _join(parts: list[_Part], offsets: tuple[int, ...], size: int) -> PassageTable:
    starts = np.zeros(size, dtype=bool)
    date = np.full(size, UNDATED, dtype=np.int32)
    values = {name: np.full(size, -1, dtype=np.int32) for name in FACETS}
    numbers: dict[str, dict[str, int]] = {name: {} for name in FACETS}  # key -> number
    labels: dict[str, list[str]] = {name: [] for name in FACETS}
    for part, offset in zip(parts, offsets, strict=True):
        end = offset + len(part.starts)
        starts[offset:end] = part.starts
        date[offset:end] = part.date
        for name in FACETS:
            # Each segment numbers its own values: renumber them into the whole index's.
            lookup = []
            for key, label in zip(part.keys[name], part.labels[name], strict=True):
                if key not in numbers[name]:
                    numbers[name][key] = len(labels[name])
                    labels[name].append(label)
                lookup.append(numbers[name][key])
            renumber = np.asarray([*lookup, -1], dtype=np.int32)  # -1 stays -1
            values[name][offset:end] = renumber[part.values[name]]
    if size:
        starts[0] = True
    article = (np.cumsum(starts) - 1).astype(np.int32)
    firsts = np.flatnonzero(starts)
    # Each segment starts with an article's first passage: one id per article.
    ids = [i for part in parts for i in part.article_ids]
    rank = np.empty(len(ids), dtype=np.int64)
    rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
    order_key = (rank[article] << 32) | np.arange(size, dtype=np.int64)
    code = np.zeros(size, dtype=np.int64)
    for name in FACETS:  # mixed radix: one digit per facet, 0 for none
        code = code * (len(labels[name]) + 1) + (values[name] + 1)
    distinct, combination = np.unique(code, return_inverse=True)
    combination = combination.astype(np.uint16 if len(distinct) < 2**16 else np.int32)
    combination_values = {}
    rest = distinct
    for name in reversed(FACETS):
        radix = len(labels[name]) + 1
        combination_values[name] = (rest % radix - 1).astype(np.int32)
        rest = rest // radix
    return PassageTable(
        article=article,
        article_ids=tuple(ids),
        order_key=order_key,
        firsts=firsts,
        date=date,
        labels={name: tuple(labels[name]) for name in FACETS},
        keys={name: tuple(numbers[name]) for name in FACETS},
        combination=combination,
        article_combination=combination[firsts],
        combination_values=combination_values,
    )


class PassageTables:
    """The table of the current reader; each segment's part is kept by the segment's name
    and reused when the reader is replaced, until the segment is gone."""

    def __init__(self) -> None:
        self._parts: dict[str, _Part] = {}
        self._reader: weakref.ref | None = None
        self._table: PassageTable | None = None
        self._lock = threading.Lock()

    def of(self, reader) -> PassageTable:
        """The table of ``reader`` (a searcher's reader), built on first use."""
        with self._lock:
            if self._reader is not None and self._reader() is reader and self._table:
                return self._table
            leaves = Leaves.of(reader)
            parts = []
            for leaf, key in zip(leaves.readers, leaves.keys, strict=True):
                part = self._parts.get(key)
                if part is None:
                    part = self._parts[key] = _read_part(leaf)
                parts.append(part)
            for gone in set(self._parts) - set(leaves.keys):
                del self._parts[gone]
            self._table = _join(parts, leaves.offsets, leaves.size)
            self._reader = weakref.ref(reader)
            return self._table
