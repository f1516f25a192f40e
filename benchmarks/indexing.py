"""Indexing throughput: bare pyvi vs a fresh `vnsearch index` vs a no-op rerun, same input.

Usage: python benchmarks/indexing.py [--paragraphs 100000] [--workers N]

Takes the first N paragraphs of ../shared/data/vntc_news/articles.jsonl.gz (whole articles,
cut at N), writes them to a temporary JSONL file and measures, in one run:
(a) pyvi's ViTokenizer.tokenize alone on one core, paragraphs/s;
(b) a fresh `vnsearch index` (a subprocess, as a user runs it), paragraphs/s and peak RSS;
(c) an immediate second `vnsearch index` of the same input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "vntc_news" / "articles.jsonl.gz"


def take(limit: int) -> list[dict]:
    articles, count = [], 0
    with gzip.open(DATA, "rt", encoding="utf-8") as stream:
        for line in stream:
            article = json.loads(line)
            paragraphs = [p for p in article["body"].split("\n\n") if p.strip()]
            article["body"] = "\n\n".join(paragraphs[: limit - count])
            articles.append(article)
            count += min(len(paragraphs), limit - count)
            if count >= limit:
                break
    return articles


def run_indexer(data: Path, index_dir: Path, workers: int) -> tuple[float, str, int]:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "indexer",
            "index",
            str(data),
            "--index-dir",
            str(index_dir),
            "--workers",
            str(workers),
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, result.stdout.strip(), peak_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")

    articles = take(args.paragraphs)
    paragraphs = [p for a in articles for p in a["body"].split("\n\n")]
    with tempfile.TemporaryDirectory(prefix="vnsearch-bench-") as tmp:
        data = Path(tmp) / "news.jsonl"
        data.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles))

        from pyvi import ViTokenizer

        ViTokenizer.tokenize("khởi động")
        started = time.perf_counter()
        for paragraph in paragraphs:
            ViTokenizer.tokenize(paragraph)
        pyvi_rate = len(paragraphs) / (time.perf_counter() - started)

        fresh_s, fresh_summary, peak_kb = run_indexer(data, Path(tmp) / "ix", args.workers)
        rerun_s, rerun_summary, _ = run_indexer(data, Path(tmp) / "ix", args.workers)
        size = sum(f.stat().st_size for f in (Path(tmp) / "ix").iterdir())

    fresh_rate = len(paragraphs) / fresh_s
    print(
        f"machine: {os.cpu_count()} cores; {len(paragraphs)} paragraphs, {len(articles)} articles"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| (a) pyvi tokenize alone, 1 core | {pyvi_rate:,.0f} paragraphs/s |")
    print(
        f"| (b) fresh `vnsearch index`, {args.workers} workers | {fresh_rate:,.0f} paragraphs/s"
        f" ({fresh_s:.1f} s), peak RSS {peak_kb / 1024:,.0f} MB |"
    )
    print(f"| ratio b/a | {fresh_rate / pyvi_rate:.2f} |")
    print(f"| (c) no-op rerun | {rerun_s:.1f} s ({100 * rerun_s / fresh_s:.1f}% of fresh) |")
    print(f"| index size | {size / 1e6:,.0f} MB |")
    print(f"\nfresh: {fresh_summary}\nrerun: {rerun_summary}")


if __name__ == "__main__":
    main()
