"""pyvi's word segmentation, the same output, for many texts at once.

``ViTokenizer.tokenize`` splits a text into tokens with a regular expression, builds a
feature dict per token, has crfsuite label each token B_W/I_W and glues an I_W token to
the one before it unless a rule says otherwise. Here the same split, the same model
weights (read from pyvi's own model file), the same features and the same decoder, but
over a batch of texts at once: features from per-distinct-token caches and numpy, the
decoder in lockstep over the batch (``features``, ``viterbi``).
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from typing import NamedTuple

import numpy as np

from . import features, pyvi_rules, viterbi
from .model import CrfModel, read_crfsuite, read_pyvi_pickle

BATCH_TEXTS = 1000  # texts labelled together: large enough for numpy, small in memory

_SEPARATORS = (pyvi_rules.TOKEN_FREE_SEPARATOR, " ", "_")  # text start, word start, joined
_nfc = partial(unicodedata.normalize, "NFC")


class Word(NamedTuple):
    """A word as pyvi writes it (syllables joined by ``_``) and where it stands in the
    text: ``text[start:end]`` is the word as written, spaces and all."""

    word: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Segmentation:
    """One text as pyvi segments it: its tokens, and which token continues a word.

    ``text`` is the input in NFC (what pyvi reads); ``tokens`` are pyvi's tokens
    (``sylabelize``), substrings of ``text`` in order; ``joins[i]`` tells whether token
    ``i`` is glued to token ``i - 1`` (``joins[0]`` is False).
    """

    text: str
    tokens: list[str]
    joins: list[bool]

    def offsets(self) -> list[tuple[int, int]]:
        """Each token's (start, end) in ``text``."""
        out = []
        pos = 0
        find = self.text.find
        for token in self.tokens:
            # Between tokens pyvi skips only whitespace other than "\n", which no token
            # starts with: the first occurrence from ``pos`` is the token itself.
            start = find(token, pos)
            pos = start + len(token)
            out.append((start, pos))
        return out

    def words(self) -> list[Word]:
        """pyvi's words with their offsets: ``" ".join(w.word for w in words())`` is
        ``ViTokenizer.tokenize(text)`` for any text with at least one token."""
        out: list[Word] = []
        offsets = self.offsets()
        for i, (token, joined) in enumerate(zip(self.tokens, self.joins, strict=True)):
            if joined:
                word, start, _ = out[-1]
                out[-1] = Word(word + "_" + token, start, offsets[i][1])
            else:
                out.append(Word(token, *offsets[i]))
        return out


class Segmenter:
    """pyvi's model and rules, with the caches that make batches fast.

    Thread-safe (a lock around each batch); one per process is enough, see
    ``default_segmenter``.
    """

    def __init__(self, model: CrfModel, ngrams: features.NgramIndex) -> None:
        if len(model.labels) != 2 or "I_W" not in model.labels:
            raise ValueError(f"not pyvi's tokenizer model: labels {model.labels}")
        self.model = model
        self.vocabulary = features.Vocabulary(model, ngrams)
        self._inside = model.labels.index("I_W")
        self._splitter = pyvi_rules.TokenSplitter()
        self._lock = threading.Lock()

    @classmethod
    def from_pyvi(cls) -> Segmenter:
        """The segmenter of the installed pyvi: its ``pyvi3.pkl`` and ``words.txt``."""
        folder = pyvi_rules.pyvi_dir() / "models"
        model = read_crfsuite(read_pyvi_pickle(folder / "pyvi3.pkl"))
        ngrams = features.NgramIndex(*pyvi_rules.read_ngrams(folder / "words.txt"))
        return cls(model, ngrams)

    def tokenize(self, text: str) -> str:
        """Exactly ``ViTokenizer.tokenize(text)``."""
        return self.tokenize_many([text])[0]

    def tokenize_many(
        self, texts: Iterable[str], ties: viterbi.TieCount | None = None
    ) -> list[str]:
        """``ViTokenizer.tokenize`` of each text, labelled in batches (the fast path);
        ``ties`` counts the decoder's close decisions."""
        out: list[str] = []
        for batch in _batches(texts):
            nfc = list(map(_nfc, batch))
            token_lists, flat, codes = self._label(nfc, False, ties)
            pieces: list[str | None] = [None] * (2 * len(flat))
            pieces[0::2] = map(_SEPARATORS.__getitem__, codes.tolist())
            pieces[1::2] = flat
            # One join for the batch, cut at the separator that starts each text.
            rendered = iter("".join(pieces).split(pyvi_rules.TOKEN_FREE_SEPARATOR)[1:])
            # pyvi returns a text with no token as it came, not normalised.
            out.extend(
                next(rendered) if tokens else text
                for text, tokens in zip(batch, token_lists, strict=True)
            )
        return out

    def segment_many(
        self,
        texts: Iterable[str],
        lowercase: bool | Iterable[bool] = False,
        ties: viterbi.TieCount | None = None,
    ) -> list[Segmentation]:
        """Each text's tokens and joins, as pyvi finds them.

        ``lowercase`` (one flag, or one per text): the model reads the tokens in lower
        case, as for text in capitals, which pyvi segments badly as written; the tokens
        returned are still the text's own. ``ties`` counts the decoder's close decisions.
        """
        flags = None if isinstance(lowercase, bool) else iter(lowercase)
        out: list[Segmentation] = []
        for batch in _batches(texts):
            nfc = list(map(_nfc, batch))
            lower = lowercase if flags is None else list(islice(flags, len(batch)))
            if not isinstance(lower, bool) and len(lower) != len(batch):
                raise ValueError("lowercase: fewer flags than texts")
            token_lists, _, codes = self._label(nfc, lower, ties)
            joined = (codes == 2).tolist()
            at = 0
            for text, tokens in zip(nfc, token_lists, strict=True):
                out.append(Segmentation(text, tokens, joined[at : at + len(tokens)]))
                at += len(tokens)
        return out

    def _label(
        self,
        nfc: list[str],
        lowercase: bool | Sequence[bool],
        ties: viterbi.TieCount | None,
    ) -> tuple[list[list[str]], list[str], np.ndarray]:
        """Tokens per text, all tokens, and per token 0 (first of its text), 1 (starts a
        word) or 2 (glued to the token before)."""
        token_lists = self._splitter.split_many(nfc)
        flat = list(chain.from_iterable(token_lists))
        lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=len(token_lists))
        with self._lock:
            vocab = self.vocabulary
            if len(vocab) > vocab.max_tokens:
                vocab.clear()
            try:
                ids = vocab.ids(flat)
            except BaseException:
                vocab.clear()  # a token the model cannot take (pyvi raises too): start over
                raise
            if lowercase is True:
                ids = vocab.lower[ids]
            elif lowercase is not False:
                per_token = np.repeat(np.asarray(lowercase, dtype=bool), lengths)
                ids = np.where(per_token, vocab.lower[ids], ids)
            lengths = lengths[lengths > 0]
            starts = np.zeros(len(lengths), dtype=np.int64)
            np.cumsum(lengths[:-1], out=starts[1:])
            scores = features.state_scores(vocab, ids, starts)
            rule = vocab.rule[ids]
        labels = viterbi.decode(scores, lengths, self.model.transition, ties)

        # pyvi: glue token i to token i-1 if labelled I_W, neither is punctuation, neither
        # starts with a digit, and not (token i starts in title case and i-1 does not).
        before = np.zeros_like(rule)
        before[1:] = rule[:-1]
        either = rule | before
        glued = labels == self._inside
        glued &= (either & (features.PUNCTUATION | features.DIGIT_FIRST)) == 0
        glued &= ~(((rule & features.TITLE_FIRST) != 0) & ((before & features.TITLE_FIRST) == 0))
        codes = glued.astype(np.int8) + 1
        codes[starts] = 0
        return token_lists, flat, codes


def _batches(texts: Iterable[str]) -> Iterator[list[str]]:
    if isinstance(texts, str):
        raise TypeError("texts: expected an iterable of strings, not one string")
    it = iter(texts)
    while batch := list(islice(it, BATCH_TEXTS)):
        yield batch
