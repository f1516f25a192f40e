"""The compact block layout: every part comes back as it went in."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from indexer.storage import blocks


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=200), st.sampled_from([0, 3]))
def test_packed_values_come_back(values, level):
    assert blocks.unpack(blocks.pack_values(values, level), len(values)) == values


@given(
    st.sets(st.integers(0, 2**31 - 1), min_size=1, max_size=300).map(sorted),
    st.sampled_from([0, 3]),
)
def test_packed_ids_are_the_ids(ids, level):
    packed = blocks.pack_ids(ids, level)
    assert blocks.unpack_ids(packed).tolist() == ids
    wide = ids[0] >= 1 << 16 or any(b - a >= 1 << 16 for a, b in itertools.pairwise(ids))
    assert packed[:1].upper() == (b"I" if wide else b"H")


@given(st.binary(max_size=500), st.sampled_from([0, 1, 9]))
def test_squeezed_parts_come_back(data, level):
    packed = blocks.squeeze(b"B", data, level)
    assert blocks.unsqueeze(packed) == (ord("B"), data)
    assert len(packed) <= len(data) + 1


@given(
    st.lists(
        st.one_of(st.integers(1, 300).map(float), st.sampled_from([0.5, 1.0, 2.25])),
        min_size=1,
        max_size=300,
    ),
    st.sampled_from([0, 3]),
)
def test_packed_weights_are_the_weights(weights, level):
    stored = blocks.pack_weights(weights, level)
    assert blocks.block_weights(stored, len(weights)).tolist() == weights
    small = all(w.is_integer() and w < 256 for w in weights)
    if small and len(set(weights)) > 1:
        assert isinstance(stored, bytes)  # term counts, a byte each


@given(
    st.sets(st.integers(0, 2**31 - 1), min_size=1, max_size=2 * blocks.SMALL).map(sorted),
    st.lists(
        st.one_of(st.integers(-2, 300).map(float), st.sampled_from([0.5, 1.0, 255.5])),
        min_size=1,
        max_size=2 * blocks.SMALL,
    ),
    st.sampled_from([0, 3]),
)
def test_short_blocks_are_packed_as_long_ones(ids, weights, level):
    """Blocks of up to ``SMALL`` postings are packed in Python: the same bytes."""
    short = (blocks.pack_ids(ids, level), blocks.pack_weights(weights, level))
    saved = blocks.SMALL
    blocks.SMALL = 0  # every block through numpy
    try:
        assert (blocks.pack_ids(ids, level), blocks.pack_weights(weights, level)) == short
    finally:
        blocks.SMALL = saved


def test_weights_as_whoosh_minifies_them():
    assert blocks.pack_weights([1.0, 1.0]) is None
    assert blocks.pack_weights([2.5, 2.5]) == 2.5
    assert blocks.pack_weights([2.5, 300.0]) == (2.5, 300.0)
    assert np.array_equal(blocks.block_weights(None, 3), np.ones(3))
