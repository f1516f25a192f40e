"""Relevance evaluation over a BEIR-layout data set, with the product's own indexer and search.

The data set (``corpus.jsonl``, ``queries.jsonl``, ``qrels.tsv``) is indexed into a
temporary index, one paragraph per corpus line, and every query is asked in several
spellings a real user produces: as written, without diacritics, in the other tone-mark
style, in NFD and in capitals. A plain BM25 over lower-cased syllables, computed in the
same run, is the baseline to beat.
"""

from __future__ import annotations

import json
import math
import random
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from indexer.analysis.segment import SYLLABLE_RE
from indexer.analysis.text import new_tone_style, nfc, old_tone_style
from indexer.corpus.articles import Article, Paragraph
from indexer.search.service import BadRequest, SearchService
from indexer.storage.store import index_articles

K = 10

_MARKS = re.compile(r"[\u0300-\u036f]")


def strip_diacritics(text: str) -> str:
    """What a plain keyboard types: every mark removed, đ -> d, case kept."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))


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


@dataclass
class Scores:
    mrr: float = 0.0
    hit1: float = 0.0
    hit10: float = 0.0
    ndcg: float = 0.0
    n: int = 0

    def add(self, ranking: list[str], relevant: dict[str, int]) -> None:
        self.n += 1
        for rank, doc_id in enumerate(ranking[:K], start=1):
            if doc_id in relevant:
                self.mrr += 1 / rank
                self.hit1 += rank == 1
                self.hit10 += 1
                break
        dcg = sum(
            (2 ** relevant.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranking[:K])
        )
        ideal = sorted(relevant.values(), reverse=True)[:K]
        idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
        self.ndcg += dcg / idcg if idcg else 0.0

    def row(self) -> tuple[float, float, float, float]:
        n = max(self.n, 1)
        return (self.mrr / n, self.hit1 / n, self.hit10 / n, self.ndcg / n)


def corpus_articles(corpus: list[dict]) -> Iterator[Article]:
    for doc in corpus:
        yield Article(
            id=doc["_id"],
            title=doc.get("title") or "",
            paragraphs=(Paragraph(doc.get("text") or ""),),
        )


def evaluate_product(
    data: DataSet, query_ids: list[str], variants: list[str], workers: int = 1
) -> dict[str, Scores]:
    """The product's own index and search, one row per query variant."""
    with tempfile.TemporaryDirectory(prefix="vnsearch-eval-") as tmp:
        index_articles(tmp, corpus_articles(data.corpus), workers=workers)
        # Quality, not speed, is measured here: no query may be cut short.
        service = SearchService(tmp, time_limit=600)
        scores = {}
        for name in variants:
            transform = VARIANTS[name]
            row = Scores()
            for query_id in query_ids:
                try:
                    page = service.search(transform(data.queries[query_id])[:1000], per_page=K)
                    ranking = [hit.article_id for hit in page.results]
                except BadRequest:  # an empty question in the data set: a miss
                    ranking = []
                row.add(ranking, data.qrels[query_id])
            scores[name] = row
        service.close()
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
            ranking = sorted(totals, key=lambda d: (-totals[d], d))[:K]
            row.add([ids[d] for d in ranking], data.qrels[query_id])
        scores[name] = row
    return scores


def table(rows: dict[str, dict[str, Scores]], variants: list[str]) -> str:
    """A Markdown table: MRR@10 per variant, then hit@1, hit@10, nDCG@10 of each."""
    header = "| system | " + " | ".join(variants) + " |"
    lines = [header, "|---" * (len(variants) + 1) + "|"]
    for system, scores in rows.items():
        cells = [f"{scores[v].row()[0]:.3f}" for v in variants]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| system | variant | MRR@10 | hit@1 | hit@10 | nDCG@10 |")
    lines.append("|---|---|---|---|---|---|")
    for system, scores in rows.items():
        for v in variants:
            mrr, hit1, hit10, ndcg = scores[v].row()
            lines.append(f"| {system} | {v} | {mrr:.3f} | {hit1:.3f} | {hit10:.3f} | {ndcg:.3f} |")
    return "\n".join(lines)
