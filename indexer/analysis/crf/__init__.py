"""pyvi's word segmentation, exactly, many times as fast: its own model and rules over
batches of texts with numpy.

Self-contained: imports only numpy, pyvi's data files and the standard library, and its
modules import each other relatively, so the package can move as a whole.
``segmenter`` is the facade; ``model`` reads the crfsuite binary, ``pyvi_rules`` holds what
pyvi decides outside its CRF, ``features`` and ``viterbi`` compute what crfsuite computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from .segmenter import Segmentation, Segmenter, Word
from .viterbi import TieCount

__all__ = [
    "Segmentation",
    "Segmenter",
    "TieCount",
    "Word",
    "default_segmenter",
    "segment_many",
    "tokenize",
    "tokenize_many",
]


@cache
def default_segmenter() -> Segmenter:
    """The process's segmenter, built on first use (about 0.1 s)."""
    return Segmenter.from_pyvi()


def tokenize(text: str) -> str:
    """Exactly ``pyvi.ViTokenizer.ViTokenizer.tokenize(text)``.

    Text holding a lone surrogate (not encodable in UTF-8) raises UnicodeEncodeError, as
    pyvi fails on it too (with a SystemError from crfsuite's binding).
    """
    return default_segmenter().tokenize(text)


def tokenize_many(texts: Iterable[str]) -> list[str]:
    """``ViTokenizer.tokenize`` of each text, in batches: the fast path."""
    return default_segmenter().tokenize_many(texts)


def segment_many(
    texts: Iterable[str], lowercase: bool | Iterable[bool] = False
) -> list[Segmentation]:
    """Each text's pyvi tokens and which token joins its predecessor; ``lowercase`` (one
    flag or one per text) has the model read the tokens in lower case."""
    return default_segmenter().segment_many(texts, lowercase)
