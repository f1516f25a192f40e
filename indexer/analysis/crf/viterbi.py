"""crfsuite's Viterbi decoding (``crf1dc_viterbi``) for many sequences in lockstep.

The recurrence is crfsuite's, step for step and in the same floating-point operations:
``score = prev[i] + trans[i][j]``, keep the first ``i`` with the strictly greatest score,
then ``cur[j] = max + state[j]``; the last label is the first strictly greatest final
score; labels follow the back links. Regrouping the sums (a parallel max-plus scan, say)
would round differently and could turn a near tie the other way, so the sequences are
instead advanced one position at a time all together: sorted longest first, the
sequences still running at position ``t`` are a prefix, and each step is a few numpy
operations on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A decision between two scores closer than this is counted as a near tie: far above the
# rounding of these sums (about 1e-14 at their size), far below Tagger.dump()'s 1e-6.
NEAR_TIE = 1e-9
# Closer than this, weights rounded to six decimals (as Tagger.dump prints them: up to
# 5e-7 off each, fifteen features a token) could already turn the decision.
CLOSE = 1e-5


@dataclass
class TieCount:
    """How close the decoder's decisions were: each back link (the better of two previous
    labels) and each last label (the better of two final scores) is one decision; those
    on the best path are the ones the labels depend on."""

    decisions: int = 0
    exact: int = 0  # the two scores were equal: the first label won, as in crfsuite
    near: int = 0  # 0 < |difference| <= NEAR_TIE
    path_decisions: int = 0
    path_exact: int = 0
    path_near: int = 0
    path_close: int = 0  # on the best path, |difference| <= CLOSE
    smallest_gap: float = float("inf")  # the smallest non-zero difference seen

    def add(self, gaps: np.ndarray, on_path: np.ndarray) -> None:
        """Count decisions whose score differences are ``gaps``."""
        exact = gaps == 0
        near = (gaps > 0) & (gaps <= NEAR_TIE)
        self.decisions += gaps.size
        self.exact += int(np.count_nonzero(exact))
        self.near += int(np.count_nonzero(near))
        self.path_decisions += int(np.count_nonzero(on_path))
        self.path_exact += int(np.count_nonzero(exact & on_path))
        self.path_near += int(np.count_nonzero(near & on_path))
        self.path_close += int(np.count_nonzero((gaps <= CLOSE) & on_path))
        if np.any(gaps > 0):
            self.smallest_gap = min(self.smallest_gap, float(gaps[gaps > 0].min()))


def decode(
    scores: np.ndarray,
    lengths: np.ndarray,
    transition: np.ndarray,
    ties: TieCount | None = None,
) -> np.ndarray:
    """The best label of each token; the sequences' state scores (2 × tokens) are
    concatenated in ``scores``, sequence ``k`` being ``lengths[k]`` (≥ 1) tokens long."""
    if transition.shape != (2, 2):
        raise ValueError("this decoder is written for two labels")
    total = scores.shape[1]
    if not total:
        return np.zeros(0, dtype=np.int8)
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])

    order = np.argsort(-lengths, kind="stable")  # longest first
    longest = int(lengths[order[0]])
    # running[t]: how many sequences have a token at position t (a prefix in that order).
    running = len(lengths) - np.cumsum(np.bincount(lengths, minlength=longest + 1))
    offset = np.zeros(longest + 1, dtype=np.int64)
    np.cumsum(running[:-1], out=offset[1:])

    # Position-major layout: the tokens at position t of the running sequences, in order,
    # are slots offset[t] .. offset[t] + running[t].
    rank = np.empty(len(lengths), dtype=np.int64)
    rank[order] = np.arange(len(lengths))
    sequence = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(total) - starts[sequence]
    slot = offset[position] + rank[sequence]
    state = np.empty_like(scores)
    state[:, slot] = scores

    t00, t01 = float(transition[0, 0]), float(transition[0, 1])
    t10, t11 = float(transition[1, 0]), float(transition[1, 1])
    run, off = running.tolist(), offset.tolist()
    back = np.zeros((2, total), dtype=bool)  # back[j, slot]: best previous label is 1
    last = np.zeros(len(lengths), dtype=np.int8)  # by rank: the last token's label
    if ties is not None:  # the score differences behind each decision, to count them
        back_gap = np.full((2, total), np.inf)
        last_gap = np.full(len(lengths), np.inf)
    alpha0 = state[0, : run[0]].copy()
    alpha1 = state[1, : run[0]].copy()
    for t in range(1, longest + 1):
        now, before = run[t], run[t - 1]
        if now < before:  # sequences that ended at t - 1: their last label
            ended0, ended1 = alpha0[now:before], alpha1[now:before]
            np.greater(ended1, ended0, out=last[now:before], casting="unsafe")
            if ties is not None:
                last_gap[now:before] = np.abs(ended1 - ended0)
        if not now:
            break
        a0, a1 = alpha0[:now], alpha1[:now]
        to0_from0, to0_from1 = a0 + t00, a1 + t10
        to1_from0, to1_from1 = a0 + t01, a1 + t11
        here = slice(off[t], off[t] + now)
        np.greater(to0_from1, to0_from0, out=back[0, here])
        np.greater(to1_from1, to1_from0, out=back[1, here])
        if ties is not None:
            back_gap[0, here] = np.abs(to0_from1 - to0_from0)
            back_gap[1, here] = np.abs(to1_from1 - to1_from0)
        alpha0 = np.maximum(to0_from0, to0_from1, out=to0_from0)
        alpha0 += state[0, here]
        alpha1 = np.maximum(to1_from0, to1_from1, out=to1_from0)
        alpha1 += state[1, here]

    # Back links, last position first; the labels at t + 1 of the first ``after`` ranks
    # are already in place at slots off[t + 1] ...
    labels = np.empty(total, dtype=np.int8)
    for t in range(longest - 1, -1, -1):
        now, after = run[t], run[t + 1]
        if after:
            following = slice(off[t + 1], off[t + 1] + after)
            labels[off[t] : off[t] + after] = np.where(
                labels[following].view(bool), back[1, following], back[0, following]
            )
        labels[off[t] + after : off[t] + now] = last[after:now]
    if ties is not None:
        ties.add(last_gap, np.ones(len(lengths), dtype=bool))
        has_link = np.ones(total, dtype=bool)
        has_link[: running[0]] = False  # the first tokens have no back link
        followed = np.zeros((2, total), dtype=bool)  # the link the best path goes through
        followed[labels, np.arange(total)] = True
        ties.add(back_gap[:, has_link], followed[:, has_link])
    return labels[slot]
