"""What facet counts, one result per article and newest first cost on the whole corpus.

Usage: python benchmarks/facets.py --index-dir /tmp/vntc_full [--queries 1000]

Opens the index with the library (`SearchService`, no result pages kept) and asks each
keyword query of benchmarks/queries/keywords.jsonl (as written and without diacritics)
in four ways: the plain ranking, the same with facets, the page's request (one result per
article, with facets) and newest first. Each query is first asked once untimed, so that
every variant finds the same posting lists in memory and the difference is the work of
the variant itself; then the variants are timed in an order that turns with each query.
Prints p50 / p95 / p99 in milliseconds, each variant's p50 against the plain one's, and
the time of the first search that needs the per-passage table (read once per segment).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.latency import keywords  # noqa: E402
from indexer.search import SearchService  # noqa: E402

VARIANTS = {
    "plain (passages, relevance)": {},
    "with facets": {"facets": True},
    "by article, with facets (the page)": {"group": "article", "facets": True},
    "newest first": {"sort": "date"},
}


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()

    queries = []
    for item in keywords():
        queries += [item["q"], item["plain"]]
    queries = queries[: args.queries]

    with SearchService(args.index_dir, result_cache=0) as service:
        documents = service.document_count()
        started = time.perf_counter()
        service.search("khởi động")
        opened = time.perf_counter() - started
        started = time.perf_counter()
        service.search("khởi động", facets=True)
        table = time.perf_counter() - started
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        names = list(VARIANTS)
        for i, query in enumerate(queries):
            service.search(query)  # untimed: posting lists read, as for every variant
            turn = i % len(names)
            for name in names[turn:] + names[:turn]:
                started = time.perf_counter()
                service.search(query, **VARIANTS[name])
                times[name].append((time.perf_counter() - started) * 1000)

    print(f"index: {documents:,} passages; {len(queries)} queries, each variant once")
    print(f"open + first search: {opened:.2f} s; first search with facets (table): {table:.2f} s")
    print()
    print("| variant | p50 / p95 / p99 ms | p50 / plain p50 |")
    print("|---|---|---|")
    plain = percentiles(times[names[0]])[0]
    for name in names:
        p50, p95, p99 = percentiles(times[name])
        print(f"| {name} | {p50:.1f} / {p95:.1f} / {p99:.1f} | {p50 / plain:.2f} |")


if __name__ == "__main__":
    main()
