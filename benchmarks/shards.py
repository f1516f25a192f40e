"""A sharded index against one index: identical results, speed, Ray, and how cost grows.

Usage (each prints its own table; indexes are kept under --work, default /tmp/vnsearch-shards):
  python benchmarks/shards.py identity [--paragraphs 100000] [--shards 4]
  python benchmarks/shards.py parallel [--paragraphs 0] [--shards 2]
  python benchmarks/shards.py ray-overhead [--paragraphs 0]
  python benchmarks/shards.py ray-indexing [--paragraphs 100000] [--repeat 3]
  python benchmarks/shards.py scaling [--sizes 100000,0,4x] [--plot docs/scaling.png]
  python benchmarks/shards.py ray-calls [--actors 16]

Articles are the first N paragraphs of ../shared/data/vntc_news/articles.jsonl.gz (0: the
whole corpus, 761,333 paragraphs; "4x": the whole corpus four times, each copy under new
article ids). Queries: the 500 keyword queries of benchmarks/queries/keywords.jsonl and
the questions of ../shared/data/viquad_test. Every Ray cluster here is started by this
script on this machine with Ray's own ``ray.cluster_utils.Cluster``, each node bound to
127.0.0.1, and stopped at the end (only its own processes).

- identity: one index and an N-shard index of the same articles answer the same
  1,000 queries (500 keywords, 500 questions) with the same first stage (passages,
  order, scores to 1e-9) and the same first page; prints how many differ.
- parallel: questions and keywords on one index against the same articles in N shards
  searched at once (a process per shard), alternating query by query, library calls.
- ray-overhead: the same N-shard index served by local processes and by Ray actors on
  a two-node cluster, alternating: what Ray's fan-out adds per query.
- ray-indexing: `vnsearch index --workers 1` (one process, one worker) against
  `vnsearch index --shards 2 --ray` on a two-node cluster of one CPU each, alternating.
- scaling: index time, index size, peak RSS and query p50/p99 at each size, one index
  and two shards; a table, and a plot.
- ray-calls: what one search's fan-out costs the coordinator as the shards grow in
  number: W calls to actors that answer at once (a 20 kB answer, about fifty candidates
  with their metadata), sent together and gathered, W = 1 … 256.
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
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
ARTICLES = DATA / "vntc_news" / "articles.jsonl.gz"
QUESTIONS = DATA / "viquad_test" / "queries.jsonl"
KEYWORDS = ROOT / "benchmarks" / "queries" / "keywords.jsonl"


# Input


def corpus(size: str, work: Path) -> tuple[Path, int]:
    """(a .jsonl.gz of the articles, their paragraphs) for a size: N paragraphs, 0 for the
    whole corpus, "4x" for four copies of it under new ids."""
    if size == "0":
        return ARTICLES, 761_333
    target = work / f"articles-{size}.jsonl.gz"
    copies = int(size[:-1]) if size.endswith("x") else 1
    limit = None if size.endswith("x") else int(size)
    count = 0
    if target.exists():
        return target, int(target.with_suffix(".count").read_text())
    work.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")  # renamed when whole: a stopped run leaves none
    with gzip.open(partial, "wt", encoding="utf-8") as out:
        for copy in range(copies):
            with gzip.open(ARTICLES, "rt", encoding="utf-8") as stream:
                for line in stream:
                    article = json.loads(line)
                    paragraphs = [p for p in article["body"].split("\n\n") if p.strip()]
                    if limit is not None:
                        paragraphs = paragraphs[: limit - count]
                    article["body"] = "\n\n".join(paragraphs)
                    if copy:
                        article["id"] = f"{article['id']}~{copy}"
                    out.write(json.dumps(article, ensure_ascii=False) + "\n")
                    count += len(paragraphs)
                    if limit is not None and count >= limit:
                        break
    target.with_suffix(".count").write_text(str(count))
    partial.rename(target)
    return target, count


def keywords() -> list[str]:
    return [json.loads(line)["q"] for line in KEYWORDS.read_text(encoding="utf-8").splitlines()]


def questions(limit: int = 1000) -> list[str]:
    with QUESTIONS.open(encoding="utf-8") as stream:
        return [json.loads(line)["text"] for line in stream if line.strip()][:limit]


# Building


def _tree(process: psutil.Process) -> list[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        return [process, *process.children(recursive=True)]
    return [process]


def _rss(processes) -> int:
    total = 0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def index(
    data: Path, target: Path, shards: int = 1, workers: int = 2, ray: str | None = None
) -> dict:
    """A fresh `vnsearch index` run: seconds, peak RSS of its process tree, index size."""
    shutil.rmtree(target, ignore_errors=True)
    command = [sys.executable, "-m", "indexer", "index", str(data), "--index-dir", str(target)]
    command += ["--workers", str(workers), "-q"]
    if shards > 1:
        command += ["--shards", str(shards)]
    if ray:
        command += ["--ray", ray]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _rss(_tree(process)))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    out, err = child.communicate()
    if child.returncode:
        sys.exit(f"indexing failed: {err[-2000:]}")
    return {"seconds": seconds, "peak_rss": peak, "size": size_of(target), "line": out.strip()}


def size_of(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def built(data: Path, target: Path, shards: int = 1, workers: int = 2) -> Path:
    """``target`` indexed, unless it already is."""
    if not (target / "SHARDS").exists() and not (target / "VERSION").exists():
        index(data, target, shards, workers)
    return target


# Ray


@contextlib.contextmanager
def local_cluster(nodes: int = 2, cpus: int = 1):
    """The address of a Ray cluster of ``nodes`` nodes on this machine, on loopback."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keep 127.0.0.1 as it is
    import ray
    from ray.cluster_utils import Cluster

    local = {"num_cpus": cpus, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(initialize_head=True, head_node_args={**local, "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(**local)
    try:
        yield cluster.address
    finally:
        ray.shutdown()
        cluster.shutdown()


# Timing


STOPPED: list[str] = []  # timed queries whose search was stopped at its time limit


def ms(call, query) -> float:
    """Milliseconds to answer ``query``; a search stopped at its time limit counts as the
    time it took, and is listed in ``STOPPED``."""
    from indexer.search import SearchTimeout

    started = time.perf_counter()
    try:
        call(query)
    except SearchTimeout:
        STOPPED.append(query)
    return (time.perf_counter() - started) * 1000


def cuts(samples: list[float]) -> tuple[float, float]:
    found = statistics.quantiles(samples, n=100, method="inclusive")
    return found[49], found[98]


def alternate(calls: dict, queries: list[str]) -> dict[str, list[float]]:
    """Each query asked of each call in turn (the order turning with each query)."""
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i, query in enumerate(queries):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            times[name].append(ms(calls[name], query))
    return times


def warm(service) -> None:
    """Open the index and read what the first searches read (not timed)."""
    from indexer.search import SearchTimeout

    for query in questions(3000)[-100:]:  # questions never timed here
        with contextlib.suppress(SearchTimeout):
            service.search(query)


def header(title: str) -> None:
    cpu = platform.processor() or platform.machine()
    print(f"\n## {title}")
    print(f"{dt.datetime.now():%Y-%m-%d %H:%M}, {os.cpu_count()} cores ({cpu}),", end="")
    print(f" {psutil.virtual_memory().total / 2**30:.0f} GB, Python {platform.python_version()}\n")


# The measurements


def identity(args) -> None:
    from indexer.search import SearchService

    data, count = corpus(str(args.paragraphs), args.work)
    one = built(data, args.work / f"one-{args.paragraphs}")
    many = built(data, args.work / f"shards{args.shards}-{args.paragraphs}", args.shards)
    asked = keywords()[:500] + questions(500)
    differing = {"first stage (100 passages, scores to 1e-9)": 0, "first page": 0}
    with SearchService(one, result_cache=0) as a, SearchService(many, result_cache=0) as b:
        for query in asked:
            x, y = a.first_stage(query, 100), b.first_stage(query, 100)
            same = (x is None) == (y is None) and (
                x is None
                or (
                    x.total == y.total
                    and [(p.article_id, p.paragraph) for p in x.found]
                    == [(p.article_id, p.paragraph) for p in y.found]
                    and all(
                        abs(p.score - q.score) <= 1e-9 * max(1.0, abs(p.score))
                        for p, q in zip(x.found, y.found, strict=True)
                    )
                )
            )
            differing["first stage (100 passages, scores to 1e-9)"] += not same
            pa, pb = a.search(query).to_dict(), b.search(query).to_dict()
            for found in (pa, pb):
                found.pop("took_ms")
                found.pop("shards")
            differing["first page"] += pa != pb
    header(f"Identity: one index and {args.shards} shards, {count:,} paragraphs")
    print("| compared | queries | differing |\n|---|---|---|")
    for name, n in differing.items():
        print(f"| {name} | {len(asked)} | {n} |")


def parallel(args) -> None:
    from indexer.search import SearchService

    data, count = corpus(str(args.paragraphs), args.work)
    one = built(data, args.work / f"one-{args.paragraphs}")
    many = built(data, args.work / f"shards{args.shards}-{args.paragraphs}", args.shards)
    a = SearchService(one, result_cache=0)
    b = SearchService(many, result_cache=0, parallel=True)
    calls = {"one index": a.search, f"{args.shards} shards in parallel": b.search}
    warm(a)
    warm(b)
    header(f"One index against {args.shards} shards searched at once, {count:,} paragraphs")
    print("| query set | n | " + " | ".join(f"{n} p50 / p99 ms" for n in calls) + " |")
    print("|---|---|" + "---|" * len(calls))
    for name, asked in (("keywords", keywords()), ("questions", questions())):
        times = alternate(calls, asked)
        cells = " | ".join("{:.1f} / {:.1f}".format(*cuts(times[n])) for n in calls)
        print(f"| {name} | {len(asked)} | {cells} |")
    a.close()
    b.close()


def ray_overhead(args) -> None:
    from indexer.search import RayShards, SearchService

    data, count = corpus(str(args.paragraphs), args.work)
    many = built(data, args.work / f"shards{args.shards}-{args.paragraphs}", args.shards)
    with local_cluster(nodes=2, cpus=1) as address:
        local = SearchService(many, result_cache=0, parallel=True)
        remote = SearchService(many, result_cache=0, shards=RayShards(address, many))
        calls = {"processes": local.search, "Ray actors": remote.search}
        warm(local)
        warm(remote)
        header(f"{args.shards} shards served by local processes and by Ray actors, {count:,}")
        print("| query set | n | processes p50 / p99 ms | Ray p50 / p99 ms | Ray − processes |")
        print("|---|---|---|---|---|")
        for name, asked in (("keywords", keywords()), ("questions", questions())):
            times = alternate(calls, asked)
            (lp50, lp99), (rp50, rp99) = cuts(times["processes"]), cuts(times["Ray actors"])
            print(
                f"| {name} | {len(asked)} | {lp50:.1f} / {lp99:.1f} | {rp50:.1f} / {rp99:.1f}"
                f" | {rp50 - lp50:+.1f} / {rp99 - lp99:+.1f} |"
            )
        local.close()


def ray_indexing(args) -> None:
    data, count = corpus(str(args.paragraphs), args.work)
    runs: dict[str, list[dict]] = {
        "one process, 1 worker": [],
        "Ray, 2 nodes × 1 CPU, 2 shards": [],
        "one process, 2 worker processes (this machine's ceiling)": [],
    }
    with local_cluster(nodes=2, cpus=1) as address:
        for _ in range(args.repeat):
            runs["one process, 1 worker"].append(index(data, args.work / "ray-one", workers=1))
            runs["Ray, 2 nodes × 1 CPU, 2 shards"].append(
                index(data, args.work / "ray-two", shards=2, ray=address)
            )
            runs["one process, 2 worker processes (this machine's ceiling)"].append(
                index(data, args.work / "ray-one", workers=2)
            )
    header(f"Indexing {count:,} paragraphs: one process against a two-node Ray cluster")
    print("| run | seconds (median) | runs | paragraphs/s |\n|---|---|---|---|")
    medians = {}
    for name, done in runs.items():
        seconds = [r["seconds"] for r in done]
        medians[name] = statistics.median(seconds)
        shown = ", ".join(f"{s:.1f}" for s in seconds)
        print(f"| {name} | {medians[name]:.1f} | {shown} | {count / medians[name]:,.0f} |")
    one, two, ceiling = medians.values()
    print(f"\nspeed-up on Ray: {one / two:.2f} ×; two local workers: {one / ceiling:.2f} ×")
    for name, done in runs.items():
        print(f"{name}: {done[-1]['line']}")


class _Echo:
    """A shard that answers at once: what is left of a call is Ray's own cost."""

    def answer(self, plan: bytes) -> bytes:
        return bytes(20_000)


def ray_calls(args) -> None:
    widths = (1, 2, 4, 16, 64, 256)
    with local_cluster(nodes=2, cpus=1) as address:
        import ray

        ray.init(address=address, log_to_driver=False)
        echo = ray.remote(num_cpus=0)(_Echo)
        actors = [echo.remote() for _ in range(args.actors)]
        ray.get([a.answer.remote(b"") for a in actors])
        plan = bytes(2_000)
        times: dict[int, list[float]] = {w: [] for w in widths}
        for _ in range(args.rounds):
            for width in widths:
                started = time.perf_counter()
                ray.get([actors[i % len(actors)].answer.remote(plan) for i in range(width)])
                times[width].append((time.perf_counter() - started) * 1000)
    header(f"One search's fan-out on Ray: W calls to {args.actors} actors on two nodes")
    print("| calls W | p50 ms | p99 ms | p50 per call ms |\n|---|---|---|---|")
    for width in widths:
        p50, p99 = cuts(times[width])
        print(f"| {width} | {p50:.2f} | {p99:.2f} | {p50 / width:.3f} |")


def scaling(args) -> None:
    from indexer.search import SearchService

    rows = []
    for size in args.sizes.split(","):
        data, count = corpus(size, args.work)
        for shards in (1, 2):
            target = args.work / (f"one-{size}" if shards == 1 else f"shards{shards}-{size}")
            built_now = index(data, target, shards, workers=2)
            service = SearchService(target, result_cache=0, parallel=shards > 1)
            warm(service)
            row = {"size": size, "passages": count, "shards": shards, **built_now}
            for name, asked in (("keywords", keywords()), ("questions", questions(500))):
                row[name] = cuts([ms(service.search, q) for q in asked])
            shard_processes = []
            if shards > 1:
                shard_processes = [p.process.pid for p in service.shards.processes if p.process]
            me = psutil.Process()
            row["search_rss"] = _rss([me, *(psutil.Process(pid) for pid in shard_processes)])
            service.close()
            rows.append(row)
            print(
                f"{size} {shards}: {json.dumps({k: v for k, v in row.items() if k != 'line'})}",
                file=sys.stderr,
                flush=True,
            )
            if not args.keep:
                shutil.rmtree(target, ignore_errors=True)
    header("How cost grows: one index and two shards")
    print(
        "| passages | shards | index s | index MB | index peak RSS MB | search RSS MB "
        "| keywords p50 / p99 ms | questions p50 / p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['passages']:,} | {r['shards']} | {r['seconds']:.0f} | {r['size'] / 1e6:,.0f} | "
            f"{r['peak_rss'] / 1e6:,.0f} | {r['search_rss'] / 1e6:,.0f} | "
            "%.1f / %.1f | %.1f / %.1f |" % (*r["keywords"], *r["questions"])
        )
    (args.work / "scaling.json").write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.plot)


def plot(rows: list[dict], target: Path) -> None:
    """Index time, size, memory and latency against passages, one index and two shards."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    panels = [
        ("index time, s", lambda r: r["seconds"]),
        ("index size, GB", lambda r: r["size"] / 1e9),
        ("search processes' RSS, GB", lambda r: r["search_rss"] / 1e9),
        ("indexing peak RSS, GB", lambda r: r["peak_rss"] / 1e9),
        ("keywords p50 / p99, ms", None),
        ("questions p50 / p99, ms", None),
    ]
    for axis, (title, value) in zip(axes.flat, panels, strict=True):
        for shards, style in ((1, "o-"), (2, "s--")):
            chosen = [r for r in rows if r["shards"] == shards]
            x = [r["passages"] / 1e6 for r in chosen]
            label = "one index" if shards == 1 else "2 shards"
            if value is not None:
                axis.plot(x, [value(r) for r in chosen], style, label=label)
            else:
                key = title.split()[0]
                axis.plot(x, [r[key][0] for r in chosen], style, label=f"{label}, p50")
                axis.plot(x, [r[key][1] for r in chosen], style, alpha=0.5, label=f"{label}, p99")
        axis.set_title(title)
        axis.set_xlabel("passages, millions")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("vnsearch: cost against the number of passages (2 cores)")
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=110)
    print(f"\nplot: {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/vnsearch-shards"))
    sub = parser.add_subparsers(dest="command", required=True)
    for name, default in (("identity", 100_000), ("parallel", 0), ("ray-overhead", 0)):
        one = sub.add_parser(name)
        one.add_argument("--paragraphs", type=int, default=default)
        one.add_argument("--shards", type=int, default=4 if name == "identity" else 2)
    timed = sub.add_parser("ray-indexing")
    timed.add_argument("--paragraphs", type=int, default=100_000)
    timed.add_argument("--repeat", type=int, default=3)
    calls = sub.add_parser("ray-calls")
    calls.add_argument("--actors", type=int, default=16)
    calls.add_argument("--rounds", type=int, default=200)
    grow = sub.add_parser("scaling")
    grow.add_argument("--sizes", default="100000,0,4x")
    grow.add_argument("--plot", type=Path, default=ROOT / "docs" / "scaling.png")
    grow.add_argument("--keep", action="store_true", help="keep the indexes")
    args = parser.parse_args()
    if not ARTICLES.exists() or not QUESTIONS.exists():
        sys.exit(f"needs {ARTICLES} and {QUESTIONS}")
    {
        "identity": identity,
        "parallel": parallel,
        "ray-overhead": ray_overhead,
        "ray-indexing": ray_indexing,
        "scaling": scaling,
        "ray-calls": ray_calls,
    }[args.command](args)
    print(f"\ntimed searches stopped at their time limit: {len(STOPPED)}")


if __name__ == "__main__":
    main()
