"""The compiled sums of posting lists give numpy's sums to the bit and leave no trace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.ranking import dense_sum

SIZE = 500


@st.composite
def posting_lists(draw, most: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    """Lists of sorted, distinct document numbers with scores of any size."""
    lists = []
    for _ in range(draw(st.integers(0, most))):
        ids = draw(st.sets(st.integers(0, SIZE - 1), max_size=SIZE // 2))
        scores = draw(
            st.lists(
                st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False),
                min_size=len(ids),
                max_size=len(ids),
            )
        )
        lists.append((np.array(sorted(ids), dtype=np.int32), np.array(scores)))
    return lists


def numpy_sums(lists, maybe_lists):
    """What the first stage computed with numpy before: each list added in order."""
    total, hit, extra = np.zeros(SIZE), np.zeros(SIZE, dtype=bool), np.zeros(SIZE)
    for ids, scores in lists:
        np.add.at(total, ids, scores)
        hit[ids] = True
    for ids, scores in maybe_lists:
        inside = hit[ids]
        np.add.at(extra, ids[inside], scores[inside])
    ids = np.flatnonzero(hit)
    return ids, total[ids], extra[ids]


@settings(max_examples=200, deadline=None)
@given(lists=posting_lists(), maybe_lists=posting_lists())
def test_sums_are_numpys_to_the_bit_and_the_arrays_are_left_zero(lists, maybe_lists):
    total, hit, extra = np.zeros(SIZE), np.zeros(SIZE, dtype=bool), np.zeros(SIZE)
    for ids, scores in lists:
        dense_sum.add_marking(total, hit, ids, scores)
    for ids, scores in maybe_lists:
        dense_sum.add_where_marked(extra, hit, ids, scores)
    ids, sums, extras = dense_sum.take_marked(total, hit, extra, True)

    expected_ids, expected_sums, expected_extras = numpy_sums(lists, maybe_lists)
    assert ids.dtype == np.int32
    assert ids.tolist() == expected_ids.tolist()
    assert sums.tolist() == expected_sums.tolist()  # equal floats, not approximately
    assert extras.tolist() == expected_extras.tolist()
    assert not total.any() and not hit.any() and not extra.any()


def test_without_extra_sums_come_alone():
    total, hit = np.zeros(SIZE), np.zeros(SIZE, dtype=bool)
    dense_sum.add_marking(total, hit, np.array([3, SIZE - 1], dtype=np.int32), np.ones(2))
    ids, sums, extras = dense_sum.take_marked(total, hit, total, False)
    assert ids.tolist() == [3, SIZE - 1] and sums.tolist() == [1.0, 1.0] and not len(extras)


def test_a_document_past_the_arrays_is_an_error_not_a_write_elsewhere():
    total, hit = np.zeros(SIZE), np.zeros(SIZE, dtype=bool)
    with pytest.raises(IndexError):
        dense_sum.add_marking(total, hit, np.array([SIZE], dtype=np.int32), np.ones(1))


def test_a_shard_compiles_the_loops_when_it_opens_not_at_its_first_query(index_dir: Path):
    """The first query has a time limit; the compiler must not run inside it. In a new
    process, so that nothing compiled them before."""
    script = textwrap.dedent(
        f"""
        from indexer.ranking import dense_sum
        from indexer.search.shard import Shard
        loops = (dense_sum.add_marking, dense_sum.add_where_marked, dense_sum.take_marked)
        assert not any(loop.signatures for loop in loops)
        Shard({str(index_dir)!r})
        print(all(loop.signatures for loop in loops))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
