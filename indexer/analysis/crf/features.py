"""pyvi's CRF state scores for many token sequences at once, over token ids.

pyvi builds a dict of fifteen features per token (``ViTokenizer.word2features``) and
crfsuite adds their weights into a score per label. Every feature depends on the token,
its neighbours and whether neighbouring tokens form one of pyvi's bigrams or trigrams, so
the work per *distinct* token (lower case, case tests, attribute look-ups) is done once
and kept; per position only a few weight rows are gathered and added with numpy.

The sum follows crfsuite's order exactly (``crf1dt_state_score``: start at 0, add weight
times value attribute by attribute, in the item's order, which is pyvi's dict order), so
the scores are crfsuite's bit for bit. Where crfsuite adds nothing (an attribute unknown
to the model) or adds weight × 0.0 (a feature whose value is False), this adds +0.0 or
±0.0: the result can differ only in the sign of a zero, which no comparison and no later
sum with a non-zero number can see.
"""

from __future__ import annotations

import numpy as np

from . import pyvi_rules
from .model import CrfModel

# Rows of Vocabulary.before/after: what a token adds as a neighbour, in pyvi's order.
_BEFORE = ("-1:word.lower():", "-1:word.istitle()", "-1:word.isupper()")
_AFTER = ("+1:word.lower():", "+1:word.istitle()", "+1:word.isupper()")

# Vocabulary.rule bits: the per-token tests of pyvi's joining rule.
PUNCTUATION, DIGIT_FIRST, TITLE_FIRST = 1, 2, 4

_NO_TOKEN = 0  # id of "no neighbour": its rows are zero, as crfsuite then has no feature


class _Ids(dict):
    """Token -> id; a token not seen before gets the next id and waits in ``new``."""

    def __init__(self) -> None:
        super().__init__()
        self.new: list[str] = []

    def __missing__(self, token: str) -> int:
        tid = len(self) + 1  # 0 is _NO_TOKEN
        self[token] = tid
        self.new.append(token)
        return tid


class NgramIndex:
    """Membership in pyvi's bigram and trigram sets, for arrays of syllable ids.

    pyvi tests ``" ".join([w1, w2]).lower() in bi_grams``. No token holds a space and a
    space keeps ``str.lower`` from looking across it (only the Greek final sigma looks at
    its neighbours, and never past a space), so that is ``(w1.lower(), w2.lower())`` among
    the bigrams split at their space: a pair of syllable ids, looked up in a bit set.
    """

    def __init__(self, bi_grams: set[str], tri_grams: set[str]) -> None:
        self.ids: dict[str, int] = {}
        for entry in sorted(bi_grams | tri_grams):
            for part in entry.split(" "):
                self.ids.setdefault(part, len(self.ids) + 1)  # 0: in no n-gram
        self.base = len(self.ids) + 1
        bi = np.array([self._parts(e) for e in bi_grams], dtype=np.int64).reshape(-1, 2)
        tri = np.array([self._parts(e) for e in tri_grams], dtype=np.int64).reshape(-1, 3)
        self._pairs = self._bits(bi[:, 0] * self.base + bi[:, 1])
        # A trigram's two pairs, to find the few candidates; then its exact key.
        self._heads = self._bits(tri[:, 0] * self.base + tri[:, 1])
        self._tails = self._bits(tri[:, 1] * self.base + tri[:, 2])
        self._triples = np.unique((tri[:, 0] * self.base + tri[:, 1]) * self.base + tri[:, 2])

    def _parts(self, entry: str) -> list[int]:
        return [self.ids[part] for part in entry.split(" ")]

    def _bits(self, keys: np.ndarray) -> np.ndarray:
        bits = np.zeros((self.base * self.base + 7) // 8, dtype=np.uint8)
        np.bitwise_or.at(bits, keys >> 3, (1 << (keys & 7)).astype(np.uint8))
        return bits

    def id(self, lower: str) -> int:
        """The syllable id of a lower-cased token, 0 if it is part of no n-gram."""
        return self.ids.get(lower, 0)

    def pairs(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Whether each (first, second) syllable pair is a bigram."""
        return _test(self._pairs, first * self.base + second)

    def triples(self, first: np.ndarray, second: np.ndarray, third: np.ndarray) -> np.ndarray:
        """Whether each (first, second, third) syllable triple is a trigram."""
        found = _test(self._heads, first * self.base + second)
        found &= _test(self._tails, second * self.base + third)
        (candidates,) = np.nonzero(found)
        if len(candidates):
            keys = (first[candidates] * self.base + second[candidates]) * self.base
            keys += third[candidates]
            at = np.minimum(np.searchsorted(self._triples, keys), len(self._triples) - 1)
            found[candidates] = self._triples[at] == keys
        return found


def _test(bits: np.ndarray, keys: np.ndarray) -> np.ndarray:
    return (bits[keys >> 3] >> (keys & 7).astype(np.uint8)) & 1 == 1


class Vocabulary:
    """Every distinct token seen, with the parts of its features that depend on it alone.

    Per token id: ``own`` (its score from bias, ``word.lower()``, ``isupper``, ``istitle``,
    ``isdigit``, summed in that order), ``before`` and ``after`` (what it adds as the
    previous and as the next token), ``gram`` (its n-gram syllable id), ``lower`` (the id
    of its lower case), ``rule`` (the joining-rule bits). Kept across calls; cleared when
    it grows past ``max_tokens``, so that memory stays bounded on an endless stream.
    """

    def __init__(self, model: CrfModel, ngrams: NgramIndex, max_tokens: int = 500_000):
        self.model = model
        self.ngrams = ngrams
        self.max_tokens = max_tokens
        labels = len(model.labels)
        zero = np.zeros(labels)

        def weight(name: str) -> np.ndarray:
            found = model.weights(name)
            return zero if found is None else found

        self._bias = weight("bias")
        self._flags = [weight(n) for n in ("word.isupper()", "word.istitle()", "word.isdigit()")]
        self._context_flags = [weight(n) for n in (*_BEFORE[1:], *_AFTER[1:])]
        self.bigram_before = weight("-1:word.bi_gram()")
        self.trigram_before = weight("-2:word.tri_gram()")
        self.bigram_after = weight("+1:word.bi_gram()")
        self.trigram_after = weight("+2:word.tri_gram()")
        self._weight = weight
        self._labels = labels
        self.clear()

    def clear(self) -> None:
        """Forget every token (ids given out before are no longer valid)."""
        self._ids = _Ids()
        self._size = 1  # rows filled; row 0 is _NO_TOKEN
        capacity = 1 << 14
        # Label-major, token id last: each gather reads one contiguous row.
        self.own = np.zeros((self._labels, capacity))
        self.before = np.zeros((3, self._labels, capacity))
        self.after = np.zeros((3, self._labels, capacity))
        self.gram = np.zeros(capacity, dtype=np.int64)
        self.lower = np.zeros(capacity, dtype=np.int64)
        self.rule = np.zeros(capacity, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self, tokens: list[str]) -> np.ndarray:
        """The id of each token; new tokens are added (a C loop over dict look-ups)."""
        ids = np.fromiter(map(self._ids.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        if self._ids.new:
            self._add_new()
        return ids

    def _add_new(self) -> None:
        while self._ids.new:
            new, self._ids.new = self._ids.new, []
            lowers = [token.lower() for token in new]
            lower_ids = [self._ids[low] for low in lowers]  # may queue more new tokens
            first, end = self._size, self._size + len(new)
            self._reserve(end)
            rows = slice(first, end)
            self.lower[rows] = lower_ids
            self.gram[rows] = [self.ngrams.id(low) for low in lowers]
            self.rule[rows] = [_rule_bits(token) for token in new]
            word = np.array([self._weight("word.lower():" + low) for low in lowers])
            before = np.array([self._weight(_BEFORE[0] + low) for low in lowers])
            after = np.array([self._weight(_AFTER[0] + low) for low in lowers])
            upper = np.array([t.isupper() for t in new], dtype=np.float64)[:, None]
            title = np.array([t.istitle() for t in new], dtype=np.float64)[:, None]
            digit = np.array([t.isdigit() for t in new], dtype=np.float64)[:, None]
            # crfsuite: state[l] += weight * value, attribute by attribute, from 0.0.
            own = self._bias + word
            own += self._flags[0] * upper
            own += self._flags[1] * title
            own += self._flags[2] * digit
            self.own[:, rows] = own.T
            before_title, before_upper, after_title, after_upper = self._context_flags
            self.before[0][:, rows] = before.T
            self.before[1][:, rows] = (before_title * title).T
            self.before[2][:, rows] = (before_upper * upper).T
            self.after[0][:, rows] = after.T
            self.after[1][:, rows] = (after_title * title).T
            self.after[2][:, rows] = (after_upper * upper).T
            self._size = end

    def _reserve(self, size: int) -> None:
        capacity = len(self.gram)
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        for name in ("own", "before", "after", "gram", "lower", "rule"):
            old = getattr(self, name)
            grown = np.zeros((*old.shape[:-1], capacity), dtype=old.dtype)
            grown[..., : old.shape[-1]] = old
            setattr(self, name, grown)


def _rule_bits(token: str) -> int:
    bits = PUNCTUATION if pyvi_rules.is_punctuation(token) else 0
    if pyvi_rules.starts_with_digit(token):
        bits |= DIGIT_FIRST
    if pyvi_rules.starts_title(token):
        bits |= TITLE_FIRST
    return bits


def state_scores(vocab: Vocabulary, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """crfsuite's state score (labels × tokens) of every token of the sequences whose
    ids are concatenated in ``ids``, sequence ``k`` starting at ``starts[k]``."""
    n = len(ids)
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    last = np.zeros(n, dtype=bool)
    last[starts[1:] - 1] = True
    if n:
        last[-1] = True
    has_two_before = ~first
    has_two_before[1:] &= ~first[:-1]

    before = np.empty_like(ids)
    before[1:] = ids[:-1]
    before[first] = _NO_TOKEN
    after = np.empty_like(ids)
    after[:-1] = ids[1:]
    after[last] = _NO_TOKEN

    # bigram[i]: tokens i-1, i are a bigram; trigram[i]: tokens i-2, i-1, i a trigram.
    gram = np.take(vocab.gram, ids)
    bigram = np.zeros(n, dtype=bool)
    bigram[1:] = vocab.ngrams.pairs(gram[:-1], gram[1:])
    bigram &= ~first
    trigram = np.zeros(n, dtype=bool)
    trigram[2:] = vocab.ngrams.triples(gram[:-2], gram[1:-1], gram[2:])
    trigram &= has_two_before
    bigram_after = np.zeros(n, dtype=bool)
    bigram_after[:-1] = bigram[1:]
    trigram_after = np.zeros(n, dtype=bool)
    trigram_after[:-2] = trigram[2:]
    flags = [f.view(np.uint8) for f in (bigram, trigram, bigram_after, trigram_after)]
    weights = (vocab.bigram_before, vocab.trigram_before, vocab.bigram_after, vocab.trigram_after)

    labels = vocab.own.shape[0]
    scores = np.empty((labels, n))
    part = np.empty(n)
    for label in range(labels):
        # A flag's contribution: weight × 1.0, or weight × 0.0 (a zero, either sign).
        flag_parts = [np.array([0.0, w[label]]) for w in weights]
        score = scores[label]
        np.take(vocab.own[label], ids, out=score)
        for row in vocab.before:
            score += np.take(row[label], before, out=part)
        score += np.take(flag_parts[0], flags[0], out=part)
        score += np.take(flag_parts[1], flags[1], out=part)
        for row in vocab.after:
            score += np.take(row[label], after, out=part)
        score += np.take(flag_parts[2], flags[2], out=part)
        score += np.take(flag_parts[3], flags[3], out=part)
    return scores
