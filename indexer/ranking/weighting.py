"""BM25F as the first stage scores it: Whoosh's own, with the probabilistic IDF.

Whoosh's ``idf`` is ``log(N / (n + 1)) + 1``: a syllable in most passages still weighs
about 1, nearly as much as a rare one, so a passage holding many common words of a long
question outranks one holding its single rare word. The Robertson–Spärck Jones IDF that
Lucene and bm25s use, ``ln(1 + (N - n + 0.5) / (n + 0.5))``, falls towards 0 for such
syllables. Chosen on half A of the three dev sets (``benchmarks/README.md``): more of the
relevant passages among the first fifty on all three, MRR@10 after re-ranking up on the
mean. Subclassing ``BM25F`` and overriding ``idf`` is Whoosh's own extension point:
``Searcher.idf`` calls it, and so Whoosh's matchers score as ``ranking.scorer`` does.
"""

from __future__ import annotations

import math

from whoosh.scoring import BM25F


def whoosh_idf(doc_frequency: int, doc_count: int) -> float:
    """Whoosh's own IDF (``WeightingModel.idf``), ``log(N / (n + 1)) + 1``."""
    return math.log(doc_count / (doc_frequency + 1)) + 1


class ProbabilisticBM25F(BM25F):
    """Whoosh's BM25F with the probabilistic IDF."""

    def idf(self, searcher, fieldname: str, text) -> float:
        parent = searcher.get_parent()
        return self.idf_of(parent.doc_frequency(fieldname, text), parent.doc_count_all())

    @staticmethod
    def idf_of(doc_frequency: int, doc_count: int) -> float:
        """The IDF of a term in ``doc_frequency`` of ``doc_count`` documents."""
        return math.log(1 + (doc_count - doc_frequency + 0.5) / (doc_frequency + 0.5))
