"""pyvi's CRF model read straight from the crfsuite binary inside ``pyvi3.pkl``.

crfsuite's ``Tagger.dump()`` prints weights to six decimals and ``Tagger.info()`` fails on
this model, so the weights are read from the binary model itself, whose layout is set by
crfsuite's ``crf1d_model.c`` (header, features, label and attribute references) and
``cqdb.c`` (the string-to-id databases). All numbers are little-endian; weights are IEEE
doubles, read bit for bit.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HEADER = struct.Struct("<4sI4sIIIIIIIII")  # crf1dm header_t, 48 bytes
_CHUNK = struct.Struct("<4sII")  # chunk id, size, number of items
_FEATURE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])
_STATE, _TRANSITION = 0, 1  # crf1dm feature types
_CQDB_HEADER = struct.Struct("<4sIIIII")  # chunk id, size, flag, byte order, bwd size, bwd offset
_CQDB_BYTEORDER = 0x62445371
_CQDB_TABLES = 256


@dataclass(frozen=True)
class CrfModel:
    """A linear-chain CRF as crfsuite's tagger uses it.

    ``state[a, l]`` is the weight of attribute ``a`` for label ``l`` (0 where the model has
    no such feature: crfsuite then adds nothing); ``transition[i, j]`` the weight of label
    ``i`` followed by label ``j``.
    """

    labels: tuple[str, ...]
    attributes: dict[bytes, int]
    state: np.ndarray
    transition: np.ndarray

    def weights(self, attribute: str) -> np.ndarray | None:
        """The state weights of ``attribute`` per label, None if the model lacks it.

        crfsuite looks an attribute up as a C string, so it ends at its first NUL
        character; the key is UTF-8, as python-crfsuite encodes it (an unencodable string
        raises here as it does there).
        """
        key = attribute.encode("utf-8").split(b"\0", 1)[0]
        aid = self.attributes.get(key)
        return None if aid is None else self.state[aid]


def read_pyvi_pickle(path: Path) -> bytes:
    """The crfsuite model bytes pickled inside pyvi's ``sklearn_crfsuite.CRF``.

    The pickle is read with stand-ins for sklearn-crfsuite's classes: unpickling the real
    ones writes the model to a temporary file (and loads a tagger) for nothing here.
    """
    with path.open("rb") as stream:
        estimator = _StubUnpickler(stream).load()
    data = estimator.state["modelfile"].state["__FILE_RESOURCE_DATA__"]
    if not isinstance(data, bytes):
        raise ValueError(f"{path}: no crfsuite model inside")
    return data


class _Stub:
    """Whatever the pickle builds (estimator, file resource, numpy scalars): keeps its state."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.state: dict = {}

    def __setstate__(self, state: object) -> None:
        self.state = state if isinstance(state, dict) else {}


class _StubUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) == ("_codecs", "encode"):  # how protocol 2 pickles bytes
            import codecs

            return codecs.encode
        return _Stub


def read_crfsuite(data: bytes) -> CrfModel:
    """Parse a crfsuite ``lCRF``/``FOMC`` model (what ``crf1dm_new`` reads)."""
    header = _HEADER.unpack_from(data, 0)
    magic, size, kind, n_labels, n_attrs = header[0], header[1], header[2], header[5], header[6]
    off_features, off_labels, off_attrs, off_labelrefs, off_attrrefs = header[7:]
    if magic != b"lCRF" or kind != b"FOMC" or size != len(data):
        raise ValueError("not a crfsuite CRF1d model")

    chunk, _, n_features = _CHUNK.unpack_from(data, off_features)
    if chunk != b"FEAT":
        raise ValueError("crfsuite model: no feature chunk")
    features = np.frombuffer(data, _FEATURE, n_features, off_features + _CHUNK.size)

    labels = _cqdb_strings(data, off_labels, n_labels)
    attributes = _cqdb_strings(data, off_attrs, n_attrs)

    state = np.zeros((n_attrs, n_labels), dtype=np.float64)
    for aid, fids in enumerate(_references(data, off_attrrefs, b"AFRF", n_attrs)):
        mine = features[list(fids)]
        if np.any(mine["type"] != _STATE) or np.any(mine["src"] != aid):
            raise ValueError(f"crfsuite model: unexpected features for attribute {aid}")
        if len(set(mine["dst"].tolist())) != len(fids):  # one weight per label, else a sum
            raise ValueError(f"crfsuite model: attribute {aid} repeats a label")
        state[aid, mine["dst"]] = mine["weight"]

    # crf1dt_transition_score: trans[i][dst] = weight, zero where no feature.
    transition = np.zeros((n_labels, n_labels), dtype=np.float64)
    for lid, fids in enumerate(_references(data, off_labelrefs, b"LFRF", n_labels)):
        for fid in fids:
            feature = features[fid]
            if feature["type"] != _TRANSITION or feature["src"] != lid:
                raise ValueError(f"crfsuite model: unexpected transition feature {fid}")
            transition[lid, feature["dst"]] = feature["weight"]

    state.setflags(write=False)
    transition.setflags(write=False)
    return CrfModel(
        labels=tuple(label.decode("utf-8") for label in labels),
        attributes={name: aid for aid, name in enumerate(attributes)},
        state=state,
        transition=transition,
    )


def _references(data: bytes, offset: int, chunk_id: bytes, count: int) -> list[tuple[int, ...]]:
    """Feature ids per label or attribute (``crf1dm_get_labelref``/``_attrref``)."""
    chunk, _, num = _CHUNK.unpack_from(data, offset)
    if chunk != chunk_id or num < count:
        raise ValueError(f"crfsuite model: bad {chunk_id!r} chunk")
    offsets = struct.unpack_from(f"<{count}I", data, offset + _CHUNK.size)
    refs = []
    for at in offsets:
        (n,) = struct.unpack_from("<I", data, at)
        refs.append(struct.unpack_from(f"<{n}I", data, at + 4))
    return refs


def _cqdb_strings(data: bytes, offset: int, count: int) -> list[bytes]:
    """The strings of a CQDB chunk by id, through its backward links (``cqdb_to_string``)."""
    chunk, _, _, byteorder, bwd_size, bwd_offset = _CQDB_HEADER.unpack_from(data, offset)
    if chunk != b"CQDB" or byteorder != _CQDB_BYTEORDER or not bwd_offset or bwd_size < count:
        raise ValueError("crfsuite model: bad CQDB chunk")
    tables = struct.unpack_from(f"<{2 * _CQDB_TABLES}I", data, offset + _CQDB_HEADER.size)
    if sum(tables[1::2]) // 2 != count:  # each hash table is twice its record count
        raise ValueError("crfsuite model: CQDB record count differs from the header")
    links = struct.unpack_from(f"<{count}I", data, offset + bwd_offset)
    strings = []
    for sid, link in enumerate(links):
        at = offset + link
        stored_id, key_size = struct.unpack_from("<II", data, at)
        key = data[at + 8 : at + 8 + key_size]
        if not link or stored_id != sid or key[-1:] != b"\0":
            raise ValueError(f"crfsuite model: bad CQDB record {sid}")
        strings.append(key[:-1])
    if len(set(strings)) != count:
        raise ValueError("crfsuite model: duplicate CQDB keys")
    return strings
