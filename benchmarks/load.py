"""Sustained load on a real `vnsearch serve`: idle, then while 5,000 articles are indexed.

Usage: python benchmarks/load.py --index-dir /tmp/vntc_full [--clients 8] [--seconds 60]

Bounded and local: it talks to 127.0.0.1 only, stops after --seconds or --max-requests,
whichever comes first, and stops the server it started. Queries cycle through the fixed
keyword set (benchmarks/queries/keywords.jsonl), accented and plain. The second phase
starts `vnsearch index` on 5,000 corpus articles under new ids at the same moment, and
deletes them again afterwards, leaving the index as it was. ``--result-cache 0`` serves
with no result pages kept, so that every request is searched.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from http.client import HTTPConnection
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.latency import ARTICLES, free_port, keywords, start_server  # noqa: E402


def worker_rss(server: subprocess.Popen) -> list[int]:
    """Resident memory of each gunicorn worker (the children of the master), bytes."""
    master = psutil.Process(server.pid)
    gunicorns = [p for p in master.children(recursive=True) if p.children() == []]
    return [p.memory_info().rss for p in gunicorns]


def drive(port: int, queries: list[str], clients: int, seconds: float, max_requests: int):
    """(latencies ms, errors, requests, elapsed s) of ``clients`` threads asking in a loop."""
    latencies: list[float] = []
    errors: list[str] = []
    counter = itertools.count()
    stop_at = time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        while time.monotonic() < stop_at:
            n = next(counter)
            if n >= max_requests:
                return
            path = "/api/search?" + urllib.parse.urlencode({"q": queries[n % len(queries)]})
            started = time.perf_counter()
            try:
                conn = HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                conn.close()
                ok = response.status == 200
                status = str(response.status)
            except OSError as exc:
                ok, status = False, type(exc).__name__
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(status)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, len(latencies), time.monotonic() - started


def new_articles(count: int, folder: Path) -> tuple[Path, list[str]]:
    """``count`` corpus articles under new ids, as a JSONL file."""
    path = folder / "new.jsonl"
    ids = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as src, path.open("w") as out:
        for line in itertools.islice(src, count):
            article = json.loads(line)
            article["id"] = f"load-{article['id']}"
            ids.append(article["id"])
            out.write(json.dumps(article, ensure_ascii=False) + "\n")
    return path, ids


def _errors(errors: list[str]) -> str:
    """ "0", or the count with each status: "8 (503: 8)"."""
    if not errors:
        return "0"
    kinds = ", ".join(f"{k}: {n}" for k, n in sorted(Counter(errors).items()))
    return f"{len(errors)} ({kinds})"


def report(name: str, result, rss: list[int], extra: str = "") -> str:
    latencies, errors, requests, elapsed = result
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    rss_mb = ", ".join(f"{r / 1e6:,.0f}" for r in rss)
    return (
        f"| {name} | {requests / elapsed:,.0f} | {requests} | {_errors(errors)} | "
        f"{cuts[49]:.1f} / {cuts[94]:.1f} / {cuts[98]:.1f} | {rss_mb} |{extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--new-articles", type=int, default=5000)
    parser.add_argument(
        "--result-cache", type=int, default=None, help="pages the server keeps [its default]"
    )
    args = parser.parse_args()
    queries = [k[form] for k in keywords() for form in ("q", "plain")]

    port = free_port()
    server, startup = start_server(args.index_dir, port, args.result_cache)
    rows = []
    try:
        drive(port, queries[::10], args.clients, 10, 2000)  # warm-up
        idle = drive(port, queries, args.clients, args.seconds, args.max_requests)
        rows.append(report("idle", idle, worker_rss(server)))

        with tempfile.TemporaryDirectory(prefix="vnsearch-load-") as tmp:
            data, ids = new_articles(args.new_articles, Path(tmp))
            command = [sys.executable, "-m", "indexer", "index", str(data)]
            indexer = subprocess.Popen(
                [*command, "--index-dir", str(args.index_dir), "-q"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            busy = drive(port, queries, args.clients, args.seconds, args.max_requests)
            rss = worker_rss(server)
            out, err = indexer.communicate()
            if indexer.returncode != 0:
                sys.exit(f"vnsearch index failed: {err}")
            rows.append(report("while indexing", busy, rss, f" indexer: {out.strip()}"))
            from indexer.storage import store

            store.delete_articles(args.index_dir, ids, wait=60)
    finally:
        server.terminate()
        server.wait()

    cache = "server default" if args.result_cache is None else args.result_cache
    print(
        f"machine: {os.cpu_count()} cores; {args.clients} clients, {args.seconds:g} s each;", end=""
    )
    print(f" result pages kept: {cache}")
    print("| phase | requests/s | requests | errors | p50 / p95 / p99 ms | worker RSS MB |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nserver start to first answer: {startup:.2f} s")


if __name__ == "__main__":
    main()
