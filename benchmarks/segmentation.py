"""Segmentation: indexer.analysis.crf against pyvi's own ViTokenizer.tokenize, same texts.

Usage: python benchmarks/segmentation.py [--paragraphs 100000] [--repeat 3]
                                         [--identity/--no-identity] [--identity-limit N]

(a) Identity: every paragraph of ../shared/data/vntc_news/articles.jsonl.gz (split as
    indexer/articles.py splits JSON bodies) and every sentence of every split of
    ../shared/data/ud_vtb_wordseg: the number of texts whose output differs from
    ViTokenizer.tokenize (must be 0), and how close the decoder's decisions came to a tie.
(b) Speed, pinned to one core: ViTokenizer.tokenize over the first N paragraphs, against
    what `vnsearch segment` does with the same paragraphs as lines (UTF-8 bytes in, lines
    decoded, segmented in batches, encoded out; a fresh segmenter each run, so caches start
    empty), in process, alternating, medians of --repeat runs; and the command itself as a
    subprocess on a file of those lines (start-up included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import io
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.analysis.crf import Segmenter, TieCount, viterbi  # noqa: E402
from indexer.analysis.crf.lines import read_lines, segment_lines  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VNTC = DATA / "vntc_news" / "articles.jsonl.gz"
UD = DATA / "ud_vtb_wordseg"
BLANK_SPLIT = re.compile(r"\n[ \t\r\f\v]*\n")  # indexer/articles.py, JSON bodies
BATCH = 1000


def vntc_paragraphs() -> Iterator[str]:
    """Paragraphs as the indexer reads them from JSONL: NFC body, split, stripped."""
    with gzip.open(VNTC, "rt", encoding="utf-8") as stream:
        for line in stream:
            body = unicodedata.normalize("NFC", json.loads(line).get("body") or "").strip()
            for paragraph in BLANK_SPLIT.split(body):
                if paragraph := paragraph.strip():
                    yield paragraph


def ud_sentences() -> Iterator[str]:
    for path in sorted(UD.glob("*.raw.txt")):
        yield from path.read_text(encoding="utf-8").splitlines()


def batches(texts: Iterator[str]) -> Iterator[list[str]]:
    while batch := list(islice(texts, BATCH)):
        yield batch


def identity(name: str, texts: Iterator[str], limit: int | None) -> dict:
    from pyvi.ViTokenizer import ViTokenizer

    segmenter = Segmenter.from_pyvi()
    ties = TieCount()
    count = differing = 0
    examples: list[tuple[str, str, str]] = []
    started = time.monotonic()
    for batch in batches(islice(texts, limit)):
        mine = segmenter.tokenize_many(batch, ties=ties)
        for text, got in zip(batch, mine, strict=True):
            expected = ViTokenizer.tokenize(text)
            if got != expected:
                differing += 1
                if len(examples) < 5:
                    examples.append((text, got, expected))
        count += len(batch)
        if count % 50_000 < BATCH:
            rate = count / (time.monotonic() - started)
            print(f"{name}: {count:,} texts, {differing} differing ({rate:.0f}/s)", file=sys.stderr)
    for text, got, expected in examples:
        print(f"DIFFERS: {text!r}\n  mine: {got!r}\n  pyvi: {expected!r}", file=sys.stderr)
    return {"name": name, "texts": count, "differing": differing, "ties": ties}


def pipeline_seconds(data: bytes) -> float:
    """What `vnsearch segment` does with ``data``, minus the operating system."""
    segmenter = Segmenter.from_pyvi()  # cold caches, as for each run of the command
    out = io.BytesIO()
    started = time.perf_counter()
    lines = read_lines(io.BytesIO(data), "<bench>", print)
    for batch in segment_lines(lines, segmenter):
        out.write(("\n".join(batch) + "\n").encode("utf-8"))
    return time.perf_counter() - started


def pyvi_seconds(paragraphs: list[str]) -> float:
    from pyvi.ViTokenizer import ViTokenizer

    started = time.perf_counter()
    for paragraph in paragraphs:
        ViTokenizer.tokenize(paragraph)
    return time.perf_counter() - started


def command_seconds(path: Path) -> float:
    command = [sys.executable, "-m", "indexer", "segment", str(path)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def speed(count: int, repeat: int) -> list[tuple[str, list[float], int]]:
    paragraphs = list(islice(vntc_paragraphs(), count))
    if any("\n" in p for p in paragraphs):
        sys.exit("a paragraph holds a line break: it would not be one line for the command")
    data = ("\n".join(paragraphs) + "\n").encode("utf-8")
    from pyvi.ViTokenizer import ViTokenizer

    ViTokenizer.tokenize("khởi động")  # the model is loaded at import; the tagger on first use
    runs: dict[str, list[float]] = {"pyvi": [], "pipeline": [], "command": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paragraphs.txt"
        path.write_bytes(data)
        for i in range(repeat):
            runs["pyvi"].append(pyvi_seconds(paragraphs))
            runs["pipeline"].append(pipeline_seconds(data))
            runs["command"].append(command_seconds(path))
            print(f"run {i + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in runs.items()),
                  file=sys.stderr)  # fmt: skip
    return [
        ("`ViTokenizer.tokenize`, one call a paragraph", runs["pyvi"], len(paragraphs)),
        ("`vnsearch segment` pipeline, in process", runs["pipeline"], len(paragraphs)),
        ("`vnsearch segment FILE > /dev/null`, whole command", runs["command"], len(paragraphs)),
    ]


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=100_000, help="for the speed runs")
    parser.add_argument("--repeat", type=int, default=3, help="speed runs of each (median)")
    parser.add_argument("--identity", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--speed", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--identity-limit", type=int, default=None, help="texts per corpus [default: all]"
    )
    args = parser.parse_args()
    if not VNTC.is_file() or not UD.is_dir():
        sys.exit(f"needs {VNTC} and {UD}")
    if hasattr(os, "sched_setaffinity"):  # one core, for this process and its children
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    print(f"{dt.date.today()}, commit {commit()}, {machine()}, pinned to one core\n")
    if args.identity:
        started = time.monotonic()
        results = [
            identity("vntc_news paragraphs", vntc_paragraphs(), args.identity_limit),
            identity("ud_vtb_wordseg sentences, all splits", ud_sentences(), args.identity_limit),
        ]
        print(f"Identity with `ViTokenizer.tokenize` ({time.monotonic() - started:.0f} s)\n")
        print("| texts | count | differing from pyvi |")
        print("|---|---|---|")
        for r in results:
            print(f"| {r['name']} | {r['texts']:,} | {r['differing']} |")
        print(
            f"\nViterbi decisions (back links and last labels; a near tie is 0 < gap <= "
            f"{viterbi.NEAR_TIE:g}, close is gap <= {viterbi.CLOSE:g})\n"
        )
        print(
            "| texts | decisions | exact ties | near ties | on the best path | "
            "exact ties on it | near ties on it | close on it | smallest gap |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results:
            t = r["ties"]
            print(
                f"| {r['name']} | {t.decisions:,} | {t.exact} | {t.near} | "
                f"{t.path_decisions:,} | {t.path_exact} | {t.path_near} | {t.path_close} | "
                f"{t.smallest_gap:.2e} |"
            )
        print()
    if args.speed:
        rows = speed(args.paragraphs, args.repeat)
        base = statistics.median(rows[0][1])
        print(f"Speed, first {rows[0][2]:,} VNTC paragraphs, one core, median of {args.repeat}\n")
        print("| | seconds (runs) | paragraphs/s | × pyvi |")
        print("|---|---|---|---|")
        for label, seconds, count in rows:
            median = statistics.median(seconds)
            runs = ", ".join(f"{s:.2f}" for s in seconds)
            print(f"| {label} | {median:.2f} ({runs}) | {count / median:,.0f} | "
                  f"{base / median:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
