"""The second stage: the best candidates of BM25 ordered by a learned ranking model.

The model is a LightGBM LambdaRank ensemble over ``ranking.features`` trained on one half
of three dev sets of different kinds — questions with high word overlap, questions with
low overlap, news headlines — as typed with and without accents
(``benchmarks/train_ranker.py``, which also prints how it does on the other half). It is
shipped as LightGBM's own text format in ``indexer/data/ranker.txt``. The candidates
below those it scores are ordered by BM25 and pseudo-relevance feedback (``by_feedback``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from indexer.ranking.features import (
    FEATURES,
    FEEDBACK_DOCUMENTS,
    Candidate,
    QueryTerms,
    feature_matrix,
    likeness,
)

# Candidates re-scored by the model.
DEPTH = 50
# The candidates after them are ordered by BM25 and their likeness to the best re-scored
# ones (pseudo-relevance feedback: the other paragraphs of the story a query is after
# share its names and words); deeper results keep their BM25 order below them. Chosen
# on half A of the dev sets by recall@100 (raised on two, the same on the third).
FEEDBACK_POOL = 150
FEEDBACK_WEIGHT = 1.0
PLACED = DEPTH + FEEDBACK_POOL  # the first stage's candidates this module orders
MODEL_FILE = "data/ranker.txt"
# A query of fewer distinct syllables keeps BM25's order: the model's evidence of where
# the query's syllables stand (pairs, runs, windows, coverage) says nothing of one
# syllable, and the sets it learned from (questions, headlines) hold no such query.
MIN_SYLLABLES = 2


class RankingModel:
    """A trained model that scores candidates of one query; higher is better."""

    def __init__(self, path: str | Path) -> None:
        import lightgbm  # imported with the first model: it loads OpenMP

        self.booster = lightgbm.Booster(model_file=str(path))
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ValueError(
                f"the ranking model {path} was trained on other features ({', '.join(names)}); "
                "train it again with benchmarks/train_ranker.py"
            )
        self._lock = threading.Lock()

    def scores(self, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        with self._lock:  # one prediction at a time; each is a few dozen microseconds
            return self.booster.predict(features, num_threads=1)


def shipped_model_path() -> Path:
    return Path(str(resources.files("indexer").joinpath(MODEL_FILE)))


@cache
def shipped_model() -> RankingModel:
    """The model trained on the dev sets, shipped with the package."""
    return RankingModel(shipped_model_path())


def rerank(
    model: RankingModel,
    terms: QueryTerms,
    candidates: Sequence[Candidate],
    idfs: Callable[[Sequence[str]], np.ndarray],
    average_length: float,
) -> list[tuple[float, Candidate]]:
    """(model score, candidate) of ``candidates``, best first; ties keep BM25's order.
    Below ``MIN_SYLLABLES``, the score is the log of the candidate's share of the best
    BM25 score: BM25's order."""
    if len(terms.weights) < MIN_SYLLABLES:
        shares = np.array([c.score for c in candidates])
        shares /= shares.max(initial=0.0) or 1.0
        scores = np.log(np.maximum(shares, np.finfo(float).tiny))
    else:
        scores = model.scores(feature_matrix(terms, candidates, idfs, average_length))
    order = np.lexsort((np.arange(len(candidates)), -scores))
    return [(float(scores[i]), candidates[i]) for i in order]


def by_feedback(
    best: Sequence[Candidate],
    pool: Sequence[Candidate],
    top_score: float,
    idfs: Callable[[Sequence[str]], np.ndarray],
) -> list[tuple[float, Candidate]]:
    """(share of ``top_score`` + ``FEEDBACK_WEIGHT`` x likeness to the first
    ``FEEDBACK_DOCUMENTS`` of ``best``, candidate) of ``pool``, best first; ties keep
    BM25's order."""
    if not pool:
        return []
    similar = likeness(best[:FEEDBACK_DOCUMENTS], pool, idfs)
    shares = np.array([c.score for c in pool]) / (top_score or 1.0)
    scores = shares + FEEDBACK_WEIGHT * similar
    order = np.lexsort((np.arange(len(pool)), -scores))
    return [(float(scores[i]), pool[i]) for i in order]
