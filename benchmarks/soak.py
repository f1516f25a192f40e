"""Soak: mixed queries at moderate load for ten minutes while articles come and go.

Usage: python benchmarks/soak.py [--minutes 10] [--clients 4]

Builds its own index from samples/ (300 real articles and the seed), serves it with a
real `vnsearch serve` on 127.0.0.1, and while clients ask mixed queries (keywords with
and without diacritics, questions, phrases, filters, junk and hostile input, suggest and
article pages), an indexer loop adds a batch of new articles, deletes an older batch,
and repeats. Reports the error count (5xx or unanswered: must be 0), the workers' RSS at
the start and the end, and checks at the end that every article still indexed is found
first-page by a phrase taken from its text, and that deleted ones are gone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.latency import free_port, keywords, start_server  # noqa: E402
from benchmarks.load import worker_rss  # noqa: E402

SAMPLES = ROOT / "samples"
HOSTILE = ["<script>alert(1)</script>", '"unbalanced', "a*", "*", "((((", "title:", "x" * 900]


def sample_articles() -> list[dict]:
    lines = (SAMPLES / "vntc_sample.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def requests_mix(articles: list[dict], rng: random.Random) -> list[str]:
    plain = [k[form] for k in keywords() for form in ("q", "plain")]
    paths = []
    for q in plain[:400]:
        paths.append("/api/search?" + urllib.parse.urlencode({"q": q}))
    for a in articles[:100]:
        words = a["body"].split()[:12]
        paths.append("/api/search?" + urllib.parse.urlencode({"q": " ".join(words)}))
        paths.append("/api/search?" + urllib.parse.urlencode({"q": f'"{" ".join(words[:3])}"'}))
        paths.append(f"/api/articles/{urllib.parse.quote(a['id'])}")
    for q in HOSTILE:
        paths.append("/api/search?" + urllib.parse.urlencode({"q": q}))
        paths.append("/?" + urllib.parse.urlencode({"q": q}))
    paths += ["/api/suggest?q=lang", "/?q=h%C3%A0+n%E1%BB%99i&page=3", "/api/search?q=a&page=999"]
    rng.shuffle(paths)
    return paths


def ask(base: str, path: str) -> int:
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def phrase_of(article: dict) -> str:
    """Five consecutive words of the article, none with punctuation attached."""
    words = article["body"].split()
    for i in range(len(words) - 4):
        if all(w.isalpha() for w in words[i : i + 5]):
            return " ".join(words[i : i + 5])
    return article["title"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=20, help="articles added per cycle")
    parser.add_argument("--warmup", type=float, default=120, help="unmeasured seconds first")
    args = parser.parse_args()
    rng = random.Random(0)
    articles = sample_articles()

    with tempfile.TemporaryDirectory(prefix="vnsearch-soak-") as tmp:
        index_dir = Path(tmp) / "ix"
        base_files = [SAMPLES / "000_e79570c1fe97e7a4.txt"]
        index = [sys.executable, "-m", "indexer", "index"]
        subprocess.run(
            [*index, *map(str, base_files), "--index-dir", str(index_dir), "-q"], check=True
        )
        port = free_port()
        server, _ = start_server(index_dir, port)
        base = f"http://127.0.0.1:{port}"
        paths = requests_mix(articles, rng)
        stop_at = 0.0
        statuses: list[int] = []
        latencies: list[float] = []
        lock = threading.Lock()
        counter = itertools.count()

        def client() -> None:
            while time.monotonic() < stop_at:
                path = paths[next(counter) % len(paths)]
                started = time.perf_counter()
                status = ask(base, path)
                with lock:
                    statuses.append(status)
                    latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(0.05)  # moderate, not maximal, load

        live: dict[str, dict] = {}
        deleted: set[str] = set()
        cycles = 0

        def churn() -> None:
            nonlocal cycles
            pool = list(articles)
            while time.monotonic() < stop_at:
                batch = [pool.pop(0) for _ in range(min(args.batch, len(pool)))]
                if not batch:
                    pool = [a for a in articles if a["id"] not in live]
                    continue
                path = Path(tmp) / f"batch{cycles}.jsonl"
                path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in batch))
                subprocess.run(
                    [*index, str(path), "--index-dir", str(index_dir), "-q", "--wait", "60"],
                    check=True,
                    capture_output=True,
                )
                live.update({a["id"]: a for a in batch})
                deleted.difference_update(a["id"] for a in batch)
                if len(live) > 3 * args.batch:
                    gone = rng.sample(sorted(live), args.batch)
                    delete = [sys.executable, "-m", "indexer", "delete", *gone]
                    subprocess.run(
                        [*delete, "--index-dir", str(index_dir), "--wait", "60"],
                        check=True,
                        capture_output=True,
                    )
                    for article_id in gone:
                        pool.append(live.pop(article_id))
                    deleted.update(gone)
                cycles += 1

        try:
            # The first --warmup seconds run the same mix (queries and churn) unmeasured:
            # caches and the allocator fill up there; growth is measured from then on.
            stop_at = time.monotonic() + args.warmup + args.minutes * 60
            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            threads.append(threading.Thread(target=churn))
            for t in threads:
                t.start()
            time.sleep(args.warmup)
            rss_start = worker_rss(server)
            for t in threads:
                t.join()
            rss_end = worker_rss(server)
            time.sleep(1)  # the servers refresh their searchers within a second

            missing = []
            for article in live.values():
                query = urllib.parse.urlencode({"q": f'"{phrase_of(article)}"', "per_page": 50})
                with urllib.request.urlopen(f"{base}/api/search?{query}", timeout=30) as r:
                    found = {hit["article_id"] for hit in json.load(r)["results"]}
                if article["id"] not in found:
                    missing.append(article["id"])
            resurrected = [
                article_id
                for article_id in deleted
                if ask(base, f"/api/articles/{urllib.parse.quote(article_id)}") != 404
            ]
        finally:
            server.terminate()
            server.wait()

    errors = [s for s in statuses if s == 0 or s >= 500]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    growth = [(e - s) / s * 100 for s, e in zip(sorted(rss_start), sorted(rss_end), strict=False)]
    print(
        f"machine: {os.cpu_count()} cores; {args.warmup:g} s warm-up, then {args.minutes:g} min"
        f" measured; {args.clients} clients"
    )
    print("| measure | value |")
    print("|---|---|")
    seconds = args.warmup + args.minutes * 60
    print(f"| requests (warm-up included) | {len(statuses):,} ({len(statuses) / seconds:.0f}/s) |")
    print(f"| errors (5xx or no answer) | {len(errors)} |")
    print(f"| 4xx answers (junk input) | {sum(400 <= s < 500 for s in statuses)} |")
    print(f"| latency p50 / p99 ms | {cuts[49]:.1f} / {cuts[98]:.1f} |")
    print(f"| index cycles (add {args.batch}, delete {args.batch}) | {cycles} |")
    print(f"| worker RSS start MB | {', '.join(f'{r / 1e6:.0f}' for r in rss_start)} |")
    print(f"| worker RSS end MB | {', '.join(f'{r / 1e6:.0f}' for r in rss_end)} |")
    print(f"| RSS growth | {', '.join(f'{g:+.1f}%' for g in growth)} |")
    print(f"| live articles found by a phrase | {len(live) - len(missing)} of {len(live)} |")
    print(f"| deleted articles still served | {len(resurrected)} of {len(deleted)} |")


if __name__ == "__main__":
    main()
