"""Indexing throughput: bare pyvi vs a fresh `vnsearch index` vs a no-op rerun, same input.

Usage: python benchmarks/indexing.py [--paragraphs 100000] [--workers N] [--repeat 3]
                                     [--pyvi-sample N] [--keep-index DIR]
       python benchmarks/indexing.py --paragraphs 0 --pyvi-sample 20000
         (the whole corpus, read from the .jsonl.gz as it is)
       python benchmarks/indexing.py --stages 50000
         (where one worker's time goes, in this process)

Takes the first N paragraphs of ../shared/data/vntc_news/articles.jsonl.gz (whole articles,
cut at N), writes them to a temporary JSONL file and measures, runs alternating:
(a) pyvi's ViTokenizer.tokenize alone, this process pinned to one core, over the passages
    the indexer reads (all of them, or the first --pyvi-sample), paragraphs/s;
(b) a fresh `vnsearch index` (a subprocess, as a user runs it), paragraphs/s, peak RSS of
    the whole process tree, CPU seconds of the indexer process and of its workers, and
    the CPU time other processes took on the machine meanwhile;
and once, after the last (b): (c) an immediate second `vnsearch index` of the same input.
Medians of --repeat runs of (a) and (b); the ratio b/a is the median of each pair's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from time import process_time as clock

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "vntc_news" / "articles.jsonl.gz"


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


def passages(data: Path):
    """The passages the indexer reads from ``data``, in order."""
    from indexer.corpus.articles import Article, read_paths

    for article in read_paths([data]):
        if isinstance(article, Article):
            if not article.paragraphs:
                yield article.title
            for paragraph in article.paragraphs:
                yield paragraph.text


@dataclass
class Run:
    seconds: float
    summary: str
    peak_rss: int  # bytes, the whole process tree
    peak_parent: int  # bytes, the indexer process alone
    peak_worker: int  # bytes, the largest of its workers
    parent_cpu: float  # seconds, the indexer process
    workers_cpu: float  # seconds, its descendants
    others_cpu: float  # seconds, every other process on the machine


def _busy(times) -> float:
    return (
        times.user
        + times.nice
        + times.system
        + getattr(times, "irq", 0.0)
        + getattr(times, "softirq", 0.0)
    )


def run_indexer(data: Path, index_dir: Path, workers: int) -> Run:
    """One `vnsearch index` run, the process tree sampled every 0.2 s."""
    command = [sys.executable, "-m", "indexer", "index", str(data)]
    command += ["--index-dir", str(index_dir), "--workers", str(workers), "-q"]
    machine_before = _busy(psutil.cpu_times())
    mine_before = _own_cpu()
    started = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    process = psutil.Process(child.pid)
    peak = 0
    peaks: dict[int, int] = {}  # pid -> its peak RSS
    cpu: dict[int, float] = {}  # pid -> last CPU seconds seen
    while child.poll() is None:
        total = 0
        for p in [process, *_children(process)]:
            with contextlib.suppress(psutil.Error):
                rss = p.memory_info().rss
                total += rss
                peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
        peak = max(peak, total)
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    out, err = child.communicate()
    if child.returncode != 0:
        sys.exit(f"vnsearch index failed ({child.returncode}): {err}")
    # The tree's own total, exact once it has been waited for (the samples miss the end).
    tree = _own_cpu() - mine_before
    parent = cpu.pop(child.pid, 0.0)
    workers_seen = sum(cpu.values())
    machine = _busy(psutil.cpu_times()) - machine_before
    parent_peak = peaks.pop(child.pid, 0)
    return Run(
        seconds,
        out.strip(),
        peak,
        parent_peak,
        max(peaks.values(), default=0),
        parent,
        max(tree - parent, workers_seen),
        max(0.0, machine - max(tree, parent + workers_seen)),
    )


def _children(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return process.children(recursive=True)
    return []


def _own_cpu() -> float:
    """CPU seconds of this process's waited-for descendants."""
    times = os.times()
    return times.children_user + times.children_system


def pyvi_rate(paragraphs: list[str]) -> float:
    """(a): bare ``ViTokenizer.tokenize`` in this process on one core, paragraphs/s."""
    from pyvi import ViTokenizer

    ViTokenizer.tokenize("khởi động")
    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
    try:
        started = time.perf_counter()
        for paragraph in paragraphs:
            ViTokenizer.tokenize(paragraph)
        return len(paragraphs) / (time.perf_counter() - started)
    finally:
        if pinned:
            os.sched_setaffinity(0, cores)  # the indexer's subprocess inherits it


def stages(data: Path) -> None:
    """One worker's work on every passage of ``data``, stage by stage, in this process:
    what ``store._write_segment`` does, timed piece by piece in CPU seconds (this
    process's: other work on the machine slows them less than it slows the clock)."""
    from whoosh import index as whoosh_index
    from whoosh.reading import SegmentReader

    from indexer.corpus.articles import Article, read_paths
    from indexer.storage import store, vocabulary_files

    started = clock()
    jobs = [(a, a.content_hash()) for a in read_paths([data]) if isinstance(a, Article)]
    read = clock() - started
    with tempfile.TemporaryDirectory(prefix="vnsearch-stages-") as tmp:
        store.create_or_open(tmp)
        store.analyse_passage("khởi động")  # the segmenter, loaded once per worker
        ix = whoosh_index.open_dir(tmp, indexname=store.INDEX_NAME)
        writer = store.WorkerWriter(ix, store._codec(), store.COMPOUND)
        analysis = adding = 0.0
        count = 0
        documents = store.article_documents(jobs)
        while True:
            t0 = clock()
            item = next(documents, None)
            t1 = clock()
            analysis += t1 - t0
            if item is None:
                break
            for doc in item[1]:
                writer.add_document(**doc)
            count += len(item[1])
            adding += clock() - t1
        t0 = clock()
        segment = writer._finalize_segment()
        writer._finish()
        t1 = clock()
        with SegmentReader(ix.storage, ix.schema, segment) as reader:
            vocabulary_files.write(reader)
        t2 = clock()
    rows = [
        ("read and hash the articles (the indexer process)", read),
        ("analysis: segmentation, syllables, terms (`article_documents`)", analysis),
        ("add documents: postings into the pool, stored fields", adding),
        ("flush: posting lists, term table, columns", t1 - t0),
        ("vocabulary file", t2 - t1),
    ]
    work = sum(s for _, s in rows[1:])
    print(f"\nOne worker, {count:,} passages, in one process, CPU time\n")
    print("| stage | CPU seconds | µs a passage | share of the worker's |")
    print("|---|---|---|---|")
    for label, seconds in rows:
        share = f"{100 * seconds / work:.0f} %" if label != rows[0][0] else "—"
        print(f"| {label} | {seconds:.2f} | {1e6 * seconds / count:.0f} | {share} |")
    print(
        f"| worker total | {work:.2f} | {1e6 * work / count:.0f} | {count / work:,.0f} passages/s |"
    )


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GB, Python {platform.python_version()}"


def commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paragraphs", type=int, default=100_000, help="0: the whole corpus")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) and (b), alternating")
    parser.add_argument(
        "--pyvi-sample",
        type=int,
        default=None,
        help="measure (a) on this many of the paragraphs only [default: all of them]",
    )
    parser.add_argument("--keep-index", type=Path, help="keep the last fresh index here")
    parser.add_argument(
        "--stages", type=int, metavar="N", help="time one worker's stages on N paragraphs instead"
    )
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    if args.keep_index and args.keep_index.exists():
        sys.exit(f"{args.keep_index} exists: the fresh runs need an empty place")

    print(f"{dt.date.today()}, commit {commit()}, {machine()}")
    whole = args.paragraphs <= 0
    with tempfile.TemporaryDirectory(prefix="vnsearch-bench-") as tmp:
        if whole and not args.stages:
            data = DATA  # the indexer reads .jsonl.gz itself
        else:
            data = Path(tmp) / "news.jsonl"
            articles = take(args.stages or args.paragraphs)
            data.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles))
        if args.stages:
            stages(data)
            return
        sample = list(islice(passages(data), args.pyvi_sample))
        count = sum(1 for _ in passages(data)) if args.pyvi_sample else len(sample)
        rates, runs = [], []
        index_dir = Path(tmp) / "ix"
        for i in range(args.repeat):
            rates.append(pyvi_rate(sample))
            shutil.rmtree(index_dir, ignore_errors=True)
            runs.append(run_indexer(data, index_dir, args.workers))
            print(
                f"run {i + 1}: pyvi {rates[-1]:,.0f}/s, index {runs[-1].seconds:.1f} s, "
                f"peak {runs[-1].peak_rss / 1e6:,.0f} MB, others {runs[-1].others_cpu:.0f} s CPU",
                file=sys.stderr,
            )
        rerun = run_indexer(data, index_dir, args.workers)
        size = sum(f.stat().st_size for f in index_dir.iterdir())
        if args.keep_index:
            shutil.move(str(index_dir), args.keep_index)

    def listed(values, fmt):
        return ", ".join(format(v, fmt) for v in values)

    seconds = [r.seconds for r in runs]
    fresh = [count / s for s in seconds]
    ratios = [f / a for f, a in zip(fresh, rates, strict=True)]
    peaks = [r.peak_rss / 1e6 for r in runs]
    sampled = f", on the first {len(sample):,}" if args.pyvi_sample else ""
    median = statistics.median
    print(f"{count:,} paragraphs; (a) and (b) alternating, {args.repeat} runs each\n")
    print("| measure | median | runs |")
    print("|---|---|---|")
    print(
        f"| (a) pyvi `ViTokenizer.tokenize` alone, 1 core{sampled}, paragraphs/s | "
        f"{median(rates):,.0f} | {listed(rates, ',.0f')} |"
    )
    print(
        f"| (b) fresh `vnsearch index`, {args.workers} workers, seconds | {median(seconds):,.1f} | "
        f"{listed(seconds, ',.1f')} |"
    )
    print(f"| (b) paragraphs/s | {median(fresh):,.0f} | {listed(fresh, ',.0f')} |")
    print(f"| ratio b/a | {median(ratios):.2f} | {listed(ratios, '.2f')} |")
    print(
        f"| (b) peak RSS, all processes, MB | {median(peaks):,.0f} (max {max(peaks):,.0f}) | "
        f"{listed(peaks, ',.0f')} |"
    )
    for label, key in (
        ("the indexer process", "peak_parent"),
        ("its largest worker", "peak_worker"),
    ):
        values = [getattr(r, key) / 1e6 for r in runs]
        print(f"| (b) peak RSS, {label}, MB | {median(values):,.0f} | {listed(values, ',.0f')} |")
    for label, key in (
        ("indexer process", "parent_cpu"),
        ("its workers", "workers_cpu"),
        ("other processes on the machine", "others_cpu"),
    ):
        values = [getattr(r, key) for r in runs]
        print(f"| (b) CPU seconds, {label} | {median(values):,.0f} | {listed(values, ',.0f')} |")
    print(f"| (c) no-op rerun, seconds | {rerun.seconds:.1f} | |")
    print(f"| index size, MB | {size / 1e6:,.0f} | |")
    print(f"\nfresh (last run): {runs[-1].summary}\nrerun: {rerun.summary}")


if __name__ == "__main__":
    main()
