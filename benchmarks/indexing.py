"""Indexing throughput: bare pyvi vs a fresh `vnsearch index` vs a no-op rerun, same input.

Usage: python benchmarks/indexing.py [--paragraphs 100000] [--workers N] [--keep-index DIR]
       python benchmarks/indexing.py --paragraphs 0 --pyvi-sample 20000 --keep-index DIR
         (the whole corpus, read from the .jsonl.gz as it is)

Takes the first N paragraphs of ../shared/data/vntc_news/articles.jsonl.gz (whole articles,
cut at N), writes them to a temporary JSONL file and measures, in one run:
(a) pyvi's ViTokenizer.tokenize alone on one core, paragraphs/s;
(b) a fresh `vnsearch index` (a subprocess, as a user runs it), paragraphs/s and peak RSS;
(c) an immediate second `vnsearch index` of the same input.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

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


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, bytes."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def run_indexer(data: Path, index_dir: Path, workers: int) -> tuple[float, str, int]:
    """(seconds, summary line, peak RSS of the whole process tree in bytes)."""
    command = [sys.executable, "-m", "indexer", "index", str(data)]
    command += ["--index-dir", str(index_dir), "--workers", str(workers), "-q"]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(process))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    out, err = child.communicate()
    if child.returncode != 0:
        sys.exit(f"vnsearch index failed ({child.returncode}): {err}")
    return seconds, out.strip(), peak


def pyvi_rate(paragraphs: list[str]) -> float:
    """(a): bare ``ViTokenizer.tokenize`` in this process, paragraphs per second."""
    from pyvi import ViTokenizer

    ViTokenizer.tokenize("khởi động")
    started = time.perf_counter()
    for paragraph in paragraphs:
        ViTokenizer.tokenize(paragraph)
    return len(paragraphs) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=100_000, help="0: the whole corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--pyvi-sample",
        type=int,
        default=None,
        help="measure (a) on this many of the paragraphs only [default: all of them]",
    )
    parser.add_argument("--keep-index", type=Path, help="build the index here and keep it")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")

    whole = args.paragraphs <= 0
    articles = take(10**9 if whole else args.paragraphs)
    paragraphs = [p for a in articles for p in a["body"].split("\n\n")]
    with tempfile.TemporaryDirectory(prefix="vnsearch-bench-") as tmp:
        if whole:
            data = DATA  # the indexer reads .jsonl.gz itself
        else:
            data = Path(tmp) / "news.jsonl"
            data.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles))
        rate_a = pyvi_rate(paragraphs[: args.pyvi_sample] if args.pyvi_sample else paragraphs)
        index_dir = args.keep_index or Path(tmp) / "ix"
        if index_dir.exists():
            sys.exit(f"{index_dir} exists: the fresh run needs an empty place")
        fresh_s, fresh_summary, peak = run_indexer(data, index_dir, args.workers)
        rerun_s, rerun_summary, _ = run_indexer(data, index_dir, args.workers)
        size = sum(f.stat().st_size for f in index_dir.iterdir())

    fresh_rate = len(paragraphs) / fresh_s
    sample = f" (on the first {args.pyvi_sample:,})" if args.pyvi_sample else ""
    print(
        f"machine: {os.cpu_count()} cores; {len(paragraphs):,} paragraphs, "
        f"{len(articles):,} articles"
    )
    print("| measure | value |")
    print("|---|---|")
    print(f"| (a) pyvi tokenize alone, 1 core{sample} | {rate_a:,.0f} paragraphs/s |")
    print(
        f"| (b) fresh `vnsearch index`, {args.workers} workers | {fresh_rate:,.0f} paragraphs/s"
        f" ({fresh_s:,.1f} s), peak RSS {peak / 1e6:,.0f} MB (all processes) |"
    )
    print(f"| ratio b/a | {fresh_rate / rate_a:.2f} |")
    print(f"| (c) no-op rerun | {rerun_s:.1f} s ({100 * rerun_s / fresh_s:.1f}% of fresh) |")
    print(f"| index size | {size / 1e6:,.0f} MB |")
    print(f"\nfresh: {fresh_summary}\nrerun: {rerun_summary}")


if __name__ == "__main__":
    main()
