"""Train the re-ranking model shipped in ``indexer/data/ranker.txt``.

For every query of the dev sets, typed as written and without accents, the product's own
first stage finds its candidates and ``ranking.features`` describes them, exactly as at
search time. A LightGBM LambdaRank model is trained on half A of all three sets at once
(``evaluation.half``) and judged on half B, which it never saw; the table below compares
it with the first stage's own order on both halves.

Half A of the dev sets holds about 500 headlines against 3,500 questions. The model also
learns from ``--extra`` sets, each query at ``EXTRA_WEIGHT``: headlines of other
``vntc_news`` articles (``benchmarks/headline_set.py``), never judged, never a dev set.

    python benchmarks/headline_set.py /tmp/twin
    python benchmarks/headline_set.py /tmp/headlines --seed 777 --articles 8000 \\
        --queries 8000 --besides /tmp/twin
    python benchmarks/train_ranker.py ../shared/data/{viquad_test,vicov19qa,vntc_titles} \\
        --extra /tmp/headlines --index-cache /tmp/vnsearch-eval

Needs ``lightgbm`` (a dependency of the product, which only reads the model).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm
import numpy as np

from indexer import evaluation as ev
from indexer.ranking import rerank
from indexer.ranking.features import FEATURES, feature_matrix
from indexer.search import SearchService, pipeline
from indexer.search.errors import BadRequest
from indexer.search.request import MAX_QUERY_CHARS

VARIANTS = ("orig", "noaccent")  # the model learns both: accents restored are less certain
PARAMETERS = dict(  # chosen by two-fold cross-validation inside half A
    n_estimators=200,
    learning_rate=0.05,
    num_leaves=15,
    min_child_samples=50,
    random_state=0,
    deterministic=True,
    force_row_wise=True,
    n_jobs=1,
    verbose=-1,
)
# Each query of an ``--extra`` set counts half as much as one of the dev sets: 0.25, 0.5
# and 1 alike as typed in two-fold cross-validation inside half A, 0.5 the best without
# accents.
EXTRA_WEIGHT = 0.5
OUTPUT = Path(__file__).resolve().parent.parent / "indexer" / rerank.MODEL_FILE


@dataclass
class Group:
    """One query's candidates: their features and relevance grades, best BM25 first."""

    dataset: str
    variant: str
    half: str
    features: np.ndarray
    labels: np.ndarray


def groups(folder: Path, cache: Path | None, workers: int, half: str | None = None) -> list[Group]:
    """Every query's candidates, in both ``VARIANTS``; each in its half of the set, or in
    ``half`` when given."""
    data = ev.load(folder)
    out = []
    with ev.indexed(data, folder.name, cache, workers) as index_dir:
        service = SearchService(index_dir, time_limit=600, result_cache=0)
        idf, idfs, average = service.ranking_terms()
        for query_id in sorted(data.queries):
            relevant = data.qrels[query_id]
            for variant in VARIANTS:
                text = ev.VARIANTS[variant](data.queries[query_id])[:MAX_QUERY_CHARS]
                try:
                    stage = service.first_stage(text, rerank.DEPTH)
                except BadRequest:
                    continue
                if stage is None:
                    continue
                terms, candidates = pipeline.candidates(stage, idf)
                features = feature_matrix(terms, candidates, idfs, average)
                labels = [relevant.get(c.fields["article_id"], 0) for c in candidates]
                out.append(
                    Group(
                        folder.name,
                        variant,
                        half or ev.half(query_id),
                        features,
                        np.array(labels),
                    )
                )
        service.close()
    return out


def train(train_groups: list[Group], extra: Sequence[Group] = ()) -> lightgbm.LGBMRanker:
    """A model of ``train_groups`` and, each query at ``EXTRA_WEIGHT``, ``extra``."""
    useful = [g for g in train_groups if g.labels.any()]  # nothing to learn from the others
    more = [g for g in extra if g.labels.any()]
    weights = [np.full(len(g.labels), 1.0) for g in useful]
    weights += [np.full(len(g.labels), EXTRA_WEIGHT) for g in more]
    chosen = useful + more
    model = lightgbm.LGBMRanker(**PARAMETERS)
    model.fit(
        np.vstack([g.features for g in chosen]),
        np.concatenate([g.labels for g in chosen]),
        group=[len(g.labels) for g in chosen],
        sample_weight=np.concatenate(weights),
        feature_name=list(FEATURES),
    )
    return model


def mrr(chosen: list[Group], score) -> float:
    """MRR@10 over the candidates (queries without a relevant candidate count as 0)."""
    total = 0.0
    for g in chosen:
        order = np.lexsort((np.arange(len(g.labels)), -score(g)))[: ev.K]
        hits = np.flatnonzero(g.labels[order] > 0)
        total += 1 / (hits[0] + 1) if len(hits) else 0.0
    return total / max(len(chosen), 1)


def report(all_groups: list[Group], model: lightgbm.LGBMRanker) -> str:
    lines = [
        "| set | variant | half | first stage | re-ranked |",
        "|---|---|---|---|---|",
    ]
    for dataset in dict.fromkeys(g.dataset for g in all_groups):
        for variant in VARIANTS:
            for half in "AB":
                chosen = [
                    g
                    for g in all_groups
                    if (g.dataset, g.variant, g.half) == (dataset, variant, half)
                ]
                first = mrr(chosen, lambda g: -np.arange(len(g.labels), dtype=float))
                ranked = mrr(chosen, lambda g: model.booster_.predict(g.features))
                lines.append(f"| {dataset} | {variant} | {half} | {first:.4f} | {ranked:.4f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    parser.add_argument("--extra", nargs="*", type=Path, default=[])
    parser.add_argument("--index-cache", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    all_groups = []
    for folder in args.datasets:
        print(f"{folder.name}: candidates", file=sys.stderr, flush=True)
        all_groups += groups(folder, args.index_cache, args.workers)
    extra = []
    for folder in args.extra:
        print(f"{folder.name}: candidates (extra)", file=sys.stderr, flush=True)
        extra += groups(folder, args.index_cache, args.workers, half="extra")
    model = train([g for g in all_groups if g.half == "A"], extra)
    model.booster_.save_model(str(args.output))
    print(f"model written to {args.output}", file=sys.stderr)
    print(report(all_groups, model))


if __name__ == "__main__":
    main()
