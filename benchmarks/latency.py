"""Query latency on the full news corpus: the library call, the JSON endpoint, a naive Whoosh.

Usage: python benchmarks/latency.py --index-dir /tmp/vntc_full [--baseline-dir /tmp/vntc_naive]

Builds what is missing (the product's index with `vnsearch index`, a naive Whoosh index
with one StandardAnalyzer field over the same paragraphs), then asks, after a warm-up:
- the keyword set (benchmarks/queries/keywords.jsonl: 2–4 consecutive syllables cut
  from random article titles, seed 0, each also without diacritics);
- the questions of ../shared/data/viquad_test (read from there, never copied here);
through (a) `SearchService.search` with highlights, (b) GET /api/search on a real
`vnsearch serve`, and (c) the naive Whoosh index with its default query parser and
highlights. Prints p50/p95/p99 in milliseconds, the index size and the start-up time.
The product keeps no result pages here (`result_cache=0`): every query is searched.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ARTICLES = DATA / "vntc_news" / "articles.jsonl.gz"
QUESTIONS = DATA / "viquad_test" / "queries.jsonl"
KEYWORDS = ROOT / "benchmarks" / "queries" / "keywords.jsonl"


def fragment(title: str, rng: random.Random) -> str:
    """2–4 consecutive syllables of ``title`` (all of a shorter one): a keyword query."""
    from indexer.analysis.segment import SYLLABLE_RE

    words = SYLLABLE_RE.findall(title)
    if len(words) < 2:
        return title
    n = rng.randint(2, min(4, len(words)))
    start = rng.randrange(len(words) - n + 1)
    return " ".join(words[start : start + n])


def make_keywords(count: int = 500, seed: int = 0) -> list[dict]:
    """Cut 2–4 consecutive syllables from random titles; the plain form has no marks."""
    from indexer.analysis.segment import SYLLABLE_RE
    from indexer.evaluation import strip_diacritics

    with gzip.open(ARTICLES, "rt", encoding="utf-8") as stream:
        titles = [json.loads(line).get("title") or "" for line in stream]
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        title = rng.choice(titles)
        if len(SYLLABLE_RE.findall(title)) < 2:
            continue
        query = fragment(title, rng)
        out.append({"q": query, "plain": strip_diacritics(query)})
    return out


def keywords() -> list[dict]:
    if not KEYWORDS.exists():
        KEYWORDS.parent.mkdir(parents=True, exist_ok=True)
        lines = (json.dumps(k, ensure_ascii=False) for k in make_keywords())
        KEYWORDS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [json.loads(line) for line in KEYWORDS.read_text(encoding="utf-8").splitlines()]


def questions() -> list[str]:
    with QUESTIONS.open(encoding="utf-8") as stream:
        return [json.loads(line)["text"] for line in stream if line.strip()]


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return f"{cuts[49]:.1f} / {cuts[94]:.1f} / {cuts[98]:.1f}"


FAILED: dict[str, int] = {}


def timed(call, queries: list[str], name: str = "") -> list[float]:
    """Milliseconds per query; a failed query (a timeout, an HTTP error) is counted, and
    timed as it failed."""
    out = []
    for q in queries:
        started = time.perf_counter()
        try:
            call(q)
        except Exception:
            FAILED[name] = FAILED.get(name, 0) + 1
        out.append((time.perf_counter() - started) * 1000)
    return out


def build_product_index(index_dir: Path) -> None:
    if index_dir.exists():
        return
    print(f"building {index_dir} (full corpus) ...", file=sys.stderr)
    command = [sys.executable, "-m", "indexer", "index", str(ARTICLES)]
    subprocess.run([*command, "--index-dir", str(index_dir), "-q"], check=True)


def build_naive_index(naive_dir: Path) -> None:
    """One StandardAnalyzer field over the same paragraphs, as a first attempt would do."""
    from whoosh import index
    from whoosh.analysis import StandardAnalyzer
    from whoosh.fields import ID, TEXT, Schema

    if naive_dir.exists():
        return
    print(f"building {naive_dir} (naive Whoosh) ...", file=sys.stderr)
    naive_dir.mkdir(parents=True)
    schema = Schema(id=ID(stored=True), text=TEXT(analyzer=StandardAnalyzer(), stored=True))
    ix = index.create_in(str(naive_dir), schema)
    writer = ix.writer(procs=os.cpu_count() or 1, multisegment=True, limitmb=256)
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as stream:
        for line in stream:
            article = json.loads(line)
            for i, paragraph in enumerate(article["body"].split("\n\n")):
                if paragraph.strip():
                    writer.add_document(id=f"{article['id']}#{i}", text=paragraph)
    writer.commit()


def naive_search(naive_dir: Path):
    from whoosh import index
    from whoosh.qparser import QueryParser

    ix = index.open_dir(str(naive_dir))
    searcher = ix.searcher()
    parser = QueryParser("text", ix.schema)

    def call(text: str) -> None:
        results = searcher.search(parser.parse(text), limit=10)
        for hit in results:
            hit.highlights("text")

    return call


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    index_dir: Path, port: int, result_cache: int | None = None
) -> tuple[subprocess.Popen, float]:
    """A real `vnsearch serve`; seconds from start to its first answered search.
    ``result_cache``: pages the server keeps (its default when None)."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "indexer", "serve", "--index-dir", str(index_dir)]
    env = dict(os.environ)
    if result_cache is not None:
        env["VNSEARCH_RESULT_CACHE"] = str(result_cache)
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/api/search?q=h%C3%A0+n%E1%BB%99i"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
            return server, time.perf_counter() - started
        except OSError:
            if server.poll() is not None:
                sys.exit("vnsearch serve exited")
            time.sleep(0.05)


def http_search(port: int):
    def call(text: str) -> None:
        url = f"http://127.0.0.1:{port}/api/search?" + urllib.parse.urlencode({"q": text})
        with urllib.request.urlopen(url, timeout=30) as response:
            if response.status != 200:
                raise RuntimeError(f"{response.status} for {text!r}")
            response.read()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--baseline-dir", type=Path, default=None)
    parser.add_argument("--questions", type=int, default=1000, help="viquad questions asked")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive Whoosh index")
    args = parser.parse_args()
    if not ARTICLES.exists() or not QUESTIONS.exists():
        sys.exit(f"needs {ARTICLES} and {QUESTIONS}")
    sys.path.insert(0, str(ROOT))
    from indexer.search import SearchService

    build_product_index(args.index_dir)
    naive_dir = args.baseline_dir or args.index_dir.with_name(args.index_dir.name + "-naive")
    if not args.no_naive:
        build_naive_index(naive_dir)

    keyword_set = keywords()
    sets = {
        "keywords, accented": [k["q"] for k in keyword_set],
        "keywords, no diacritics": [k["plain"] for k in keyword_set],
        "viquad questions": questions()[: args.questions],
    }
    port = free_port()
    # No result pages kept: a query that two sets share is searched again, not recalled.
    server, startup_s = start_server(args.index_dir, port, result_cache=0)
    try:
        started = time.perf_counter()
        service = SearchService(args.index_dir, result_cache=0)
        timed(service.search, ["khởi động"], "library, first search")
        library_startup_s = time.perf_counter() - started
        naive = None if args.no_naive else naive_search(naive_dir)
        http = http_search(port)
        warm = [k["q"] for k in make_keywords(200, seed=1)]
        for call in (service.search, naive, http):
            if call is not None:
                timed(call, warm)  # warm-up: caches and the OS page cache, other queries

        rows = []
        for name, queries in sets.items():
            lib = timed(service.search, queries, f"library, {name}")
            api = timed(http, queries, f"HTTP, {name}")
            base = timed(naive, queries, f"naive, {name}") if naive else None
            p99 = statistics.quantiles(lib, n=100, method="inclusive")[98]
            ratio = None
            if base:
                ratio = p99 / statistics.quantiles(base, n=100, method="inclusive")[98]
            rows.append((name, len(queries), lib, api, base, ratio))
    finally:
        server.terminate()
        server.wait()

    size = sum(f.stat().st_size for f in args.index_dir.iterdir() if f.is_file())
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as stream:
        raw = sum(len(json.loads(line)["body"].encode("utf-8")) for line in stream)
    docs = service.document_count()
    print(f"machine: {os.cpu_count()} cores; index: {docs:,} passages")
    print("| query set | n | library p50 / p95 / p99 ms | HTTP p50 / p95 / p99 ms |", end="")
    print(" naive Whoosh p50 / p95 / p99 ms | library p99 / naive p99 |")
    print("|---|---|---|---|---|---|")
    for name, n, lib, api, base, ratio in rows:
        naive_cells = f"{percentiles(base)} | {ratio:.2f}" if base else "not run | —"
        print(f"| {name} | {n} | {percentiles(lib)} | {percentiles(api)} | {naive_cells} |")
    print(f"\nfailed queries (timeouts, errors): {FAILED or 'none'}")
    print(f"\nindex size {size / 1e6:,.0f} MB = {size / raw:.2f} × raw text ({raw / 1e6:,.0f} MB)")
    print(f"server start to first answer: {startup_s:.2f} s; library open + first search:", end="")
    print(f" {library_startup_s:.2f} s")


if __name__ == "__main__":
    main()
