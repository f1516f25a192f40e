"""Each segment's vocabulary in a file of its own, written with the segment.

The search needs every term of the index with its document frequency (to expand ``lang``
to lạng, làng, láng, ...). Whoosh can list them, but it decodes a term-info record per
term in pure Python: about ten seconds over the whole news corpus, at every server start.
The indexer writes the same list once per segment, as two arrays, beside the segment's
own files. The file's name begins with the segment's, so Whoosh deletes it together
with the segment when a merge or a deletion retires it.
"""

from __future__ import annotations

import logging
import os
import zipfile
from array import array
from pathlib import Path

import numpy as np
from whoosh.reading import SegmentReader

log = logging.getLogger(__name__)

FIELDS = ("text", "word", "title")  # the fields whose terms the search looks up by form
SUFFIX = "vocab.npz"
_SEPARATOR = "\n"  # never inside a term: every analyser splits on white space

Terms = tuple[list[str], array]  # (terms, document frequencies), in term order


def _path(folder: str | os.PathLike, segment_id: str) -> Path:
    return Path(folder) / f"{segment_id}.{SUFFIX}"


def _location(reader) -> tuple[str, str] | None:
    """(folder, segment id) of a segment reader on disk; None for anything else."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    storage = getattr(reader, "_storage", None)
    storage = getattr(storage, "b", storage)  # a compound segment's overlay: the folder
    folder = getattr(storage, "folder", None)
    if segment is None or folder is None:
        return None
    return folder, segment.segment_id()


def read_terms(reader, fieldname: str) -> Terms:
    """One field's terms and document frequencies, from Whoosh's term dictionary (slow)."""
    terms: list[str] = []
    dfs = array("I")
    if fieldname not in reader.schema:
        return terms, dfs
    for btext, info in reader.iter_field(fieldname):
        terms.append(btext.decode("utf-8"))
        dfs.append(info.doc_frequency())
    return terms, dfs


def write(reader) -> None:
    """Write the vocabulary file of the segment behind ``reader``."""
    location = _location(reader)
    if location is None:
        return
    arrays = {}
    for fieldname in FIELDS:
        terms, dfs = read_terms(reader, fieldname)
        blob = _SEPARATOR.join(terms).encode("utf-8")
        arrays[f"{fieldname}.terms"] = np.frombuffer(blob, dtype=np.uint8)
        arrays[f"{fieldname}.df"] = np.asarray(dfs, dtype=np.uint32)
    target = _path(*location)
    partial = target.with_name(f".{target.name}.part")  # a dot: Whoosh leaves it alone
    with partial.open("wb") as out:
        np.savez(out, **arrays)
    os.replace(partial, target)


def load(reader) -> dict[str, Terms] | None:
    """The segment's vocabulary from its file; None when there is no usable file."""
    location = _location(reader)
    if location is None:
        return None
    path = _path(*location)
    try:
        out = {}
        with np.load(path) as data:
            for fieldname in FIELDS:
                blob = data[f"{fieldname}.terms"].tobytes().decode("utf-8")
                terms = blob.split(_SEPARATOR) if blob else []
                dfs = array("I", data[f"{fieldname}.df"].astype(np.uint32).tobytes())
                if len(terms) != len(dfs):
                    raise ValueError(f"{len(terms)} terms but {len(dfs)} counts")
                out[fieldname] = (terms, dfs)
        return out
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        log.warning("unusable vocabulary file %s (%s): reading the term dictionary", path, exc)
        return None


def of_segment(reader) -> dict[str, Terms]:
    """The segment's vocabulary: from its file, else (no file written for this segment)
    read from its term dictionary, the slow way."""
    found = load(reader)
    if found is None:
        found = {fieldname: read_terms(reader, fieldname) for fieldname in FIELDS}
    return found


def ensure(ix) -> None:
    """Write the file of every live segment that has none: segments merged by Whoosh
    itself, and indexes written before these files existed. Reads only the TOC unless a
    file is missing."""
    folder = getattr(ix.storage, "folder", None)
    if folder is None:
        return
    for segment in ix._segments():
        if not _path(folder, segment.segment_id()).exists():
            with SegmentReader(ix.storage, ix.schema, segment) as reader:
                write(reader)
