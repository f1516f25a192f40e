"""Relevance evaluation over a BEIR-layout data set, with the product's own indexer and search.

The data set (``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv``) is indexed into a
temporary index (or one kept under ``--index-cache``), one paragraph per corpus line,
and every query is asked in several spellings a real user produces: as written, without
diacritics, in the other tone-mark style, in NFD and in capitals. A plain BM25 over
lower-cased syllables, computed in the same run, is the baseline to beat.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import tempfile
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from indexer.analysis.segment import SYLLABLE_RE
from indexer.analysis.text import new_tone_style, nfc, old_tone_style, strip_diacritics
from indexer.corpus.articles import Article, Paragraph
from indexer.search.errors import BadRequest, IndexUnavailable
from indexer.search.request import MAX_QUERY_CHARS
from indexer.search.service import SearchService
from indexer.storage.store import index_articles, open_index

K = 10
DEEP = 100  # results read for recall@100


def swap_tone_style(text: str) -> str:
    """Every oa/oe/uy syllable in the other tone-mark style: hòa <-> hoà, thủy <-> thuỷ."""
    return re.sub(r"\w+", lambda m: _swap_word(m.group()), nfc(text))


def _swap_word(word: str) -> str:
    old = old_tone_style(word)
    return old if old != word else new_tone_style(word)


VARIANTS: dict[str, Callable[[str], str]] = {
    "orig": lambda q: q,
    "noaccent": strip_diacritics,
    "toneswap": swap_tone_style,
    "nfd": lambda q: unicodedata.normalize("NFD", q),
    "upper": str.upper,
}


@dataclass(frozen=True)
class DataSet:
    corpus: list[dict]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load(folder: str | Path) -> DataSet:
    folder = Path(folder)
    with (folder / "corpus.jsonl").open(encoding="utf-8") as stream:
        corpus = [json.loads(line) for line in stream if line.strip()]
    with (folder / "queries.jsonl").open(encoding="utf-8") as stream:
        queries = {q["_id"]: q["text"] for q in map(json.loads, stream) if q}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels.tsv").open(encoding="utf-8") as stream:
        next(stream)  # header
        for line in stream:
            query_id, doc_id, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels[query_id][doc_id] = int(score)
    queries = {qid: text for qid, text in queries.items() if qid in qrels}
    return DataSet(corpus, queries, dict(qrels))


def sample_queries(data: DataSet, max_queries: int | None, seed: int = 0) -> list[str]:
    ids = sorted(data.queries)
    if max_queries and max_queries < len(ids):
        ids = sorted(random.Random(seed).sample(ids, max_queries))
    return ids


def half(query_id: str) -> str:
    """ "A" or "B", a fixed split of every data set by query id: rules and parameters are
    chosen on half A, and half B shows whether they hold on queries they were not chosen on."""
    return "AB"[zlib.crc32(query_id.encode()) % 2]


@dataclass
class Scores:
    """Per-query measures of one system on one query variant, summed by half."""

    queries: list[tuple[str, float, float, float, float, float]] = field(default_factory=list)

    def add(self, query_id: str, ranking: list[str], relevant: dict[str, int]) -> None:
        rr = hit1 = hit10 = 0.0
        for rank, doc_id in enumerate(ranking[:K], start=1):
            if doc_id in relevant:
                rr, hit1, hit10 = 1 / rank, float(rank == 1), 1.0
                break
        dcg = sum(
            (2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranking[:K])
        )
        ideal = sorted(relevant.values(), reverse=True)[:K]
        idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        recall = len(relevant.keys() & set(ranking[:DEEP])) / len(relevant)
        self.queries.append((half(query_id), rr, hit1, hit10, dcg / idcg if idcg else 0.0, recall))

    def row(self, which: str = "AB") -> tuple[float, float, float, float, float]:
        """MRR@10, hit@1, hit@10, nDCG@10, recall@100 over the queries of half ``which``."""
        chosen = [q[1:] for q in self.queries if q[0] in which]
        n = max(len(chosen), 1)
        return tuple(sum(column) / n for column in zip(*chosen, strict=True)) or (0.0,) * 5


def corpus_articles(corpus: list[dict]) -> Iterator[Article]:
    for doc in corpus:
        yield Article(
            id=doc["_id"],
            title=doc.get("title") or "",
            paragraphs=(Paragraph(doc.get("text") or ""),),
        )


@contextmanager
def indexed(data: DataSet, name: str, cache: Path | None, workers: int = 1) -> Iterator[Path]:
    """The data set's corpus indexed by the product: kept under ``cache/name`` when a cache
    is given (and rebuilt there when the product's schema version changed), else in a
    temporary folder."""
    if cache is None:
        with tempfile.TemporaryDirectory(prefix="vnsearch-eval-") as tmp:
            index_articles(tmp, corpus_articles(data.corpus), workers=workers)
            yield Path(tmp)
        return
    target = cache / name
    done = target / "EVAL_CORPUS_SIZE"  # written last: an interrupted build is redone
    if not _current(target) or not done.is_file() or done.read_text() != str(len(data.corpus)):
        shutil.rmtree(target, ignore_errors=True)
        index_articles(target, corpus_articles(data.corpus), workers=workers)
        done.write_text(str(len(data.corpus)))
    yield target


def _current(index_dir: Path) -> bool:
    """Whether this version of the product reads the index."""
    try:
        open_index(index_dir).close()
    except IndexUnavailable:
        return False
    return True


def evaluate_product(
    data: DataSet, query_ids: list[str], variants: list[str], index_dir: Path
) -> dict[str, Scores]:
    """The product's own search over its index of the data set, one row per query variant."""
    # Quality, not speed, is measured here: no query may be cut short.
    with SearchService(index_dir, time_limit=600, result_cache=0) as service:
        scores = {}
        for name in variants:
            transform = VARIANTS[name]
            row = Scores()
            for query_id in query_ids:
                try:
                    page = service.search(
                        transform(data.queries[query_id])[:MAX_QUERY_CHARS], per_page=DEEP
                    )
                    ranking = [hit.article_id for hit in page.results]
                except BadRequest:  # an empty question in the data set: a miss
                    ranking = []
                row.add(query_id, ranking, data.qrels[query_id])
            scores[name] = row
    return scores


def _syllables(text: str) -> list[str]:
    return [m.group().lower() for m in SYLLABLE_RE.finditer(nfc(text))]


def evaluate_bm25_baseline(
    data: DataSet, query_ids: list[str], variants: list[str], k1: float = 1.5, b: float = 0.75
) -> dict[str, Scores]:
    """BM25 over lower-cased syllables of title and text: the common baseline (as bm25s)."""
    postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
    lengths = []
    ids = []
    for number, doc in enumerate(data.corpus):
        terms = _syllables(f"{doc.get('title') or ''} {doc.get('text') or ''}")
        ids.append(doc["_id"])
        lengths.append(len(terms))
        for term, count in Counter(terms).items():
            postings[term].append((number, count))
    n = len(ids)
    average = sum(lengths) / max(n, 1)
    scores = {}
    for name in variants:
        transform = VARIANTS[name]
        row = Scores()
        for query_id in query_ids:
            totals: dict[int, float] = defaultdict(float)
            for term in _syllables(transform(data.queries[query_id])):
                plist = postings.get(term, ())
                if not plist:
                    continue
                idf = math.log(1 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
                for doc, tf in plist:
                    norm = tf + k1 * (1 - b + b * lengths[doc] / average)
                    totals[doc] += idf * tf * (k1 + 1) / norm
            ranking = sorted(totals, key=lambda d: (-totals[d], d))[:DEEP]
            row.add(query_id, [ids[d] for d in ranking], data.qrels[query_id])
        scores[name] = row
    return scores


PRODUCT, BASELINE = "vnsearch", "bm25 syllables"


def table(results: dict[str, dict[str, dict[str, Scores]]], variants: list[str]) -> str:
    """Markdown tables of ``results[set][system][variant]``: MRR@10 of every variant by
    half and whole, with the mean over the sets; then hit@10 and recall@100 against the
    baseline's, and the variants' ratios to ``orig``."""
    systems = list(dict.fromkeys(s for by_system in results.values() for s in by_system))
    lines = ["MRR@10", "", "| set | system | half | " + " | ".join(variants) + " |"]
    lines.append("|---" * (len(variants) + 3) + "|")
    for name, by_system in [*results.items(), ("mean", None)]:
        for system in systems:
            for which in ("A", "B", "AB"):
                cells = []
                for v in variants:
                    if by_system is None:
                        per_set = [r[system][v].row(which)[0] for r in results.values()]
                        cells.append(f"**{sum(per_set) / len(per_set):.4f}**")
                    else:
                        cells.append(f"{by_system[system][v].row(which)[0]:.4f}")
                label = "all" if which == "AB" else which
                lines.append(f"| {name} | {system} | {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Whole sets",
        "",
        "| set | system | variant | MRR@10 | hit@1 | hit@10 | nDCG@10 | recall@100 | MRR / orig |",
        "|---" * 9 + "|",
    ]
    for name, by_system in results.items():
        for system in systems:
            orig = by_system[system][variants[0]].row()[0] or 1.0
            for v in variants:
                mrr, hit1, hit10, ndcg, recall = by_system[system][v].row()
                lines.append(
                    f"| {name} | {system} | {v} | {mrr:.4f} | {hit1:.3f} | {hit10:.3f} | "
                    f"{ndcg:.3f} | {recall:.3f} | {mrr / orig:.3f} |"
                )
    return "\n".join(lines)
