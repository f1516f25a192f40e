"""A second headline set, never used to choose anything: how the ranking does on headlines
it was not tuned on.

Usage: python benchmarks/headline_set.py OUT_DIR [--articles 4000] [--queries 1000]
                                                 [--seed 4242] [--besides SET_DIR ...]
                                                 [--fragments]
       vnsearch eval OUT_DIR --index-cache /tmp/vnsearch-twin

Built like ``../shared/data/vntc_titles`` (an article's title -> any paragraph of its own
article, titles withheld from the corpus, BEIR layout) from the articles of
``../shared/data/vntc_news`` that ``vntc_titles`` does not hold: ``--articles`` of them
drawn at random, the titles of ``--queries`` of those that have one asked. The ranking's
rules and its model were chosen on half A of the dev sets; this set tells whether what
it gained on ``vntc_titles`` holds on other articles of the same kind. Choosing anything
on it would make it one more dev set: read its figures, never tune on them.

With ``--fragments``, each title asked is cut to 2–4 consecutive syllables, as the keyword
queries of ``benchmarks/latency.py`` are: what a keyword search on the same articles
finds.

The same script builds the headlines the ranking model also learns from
(``benchmarks/train_ranker.py --extra``): another seed, every titled article asked, and
``--besides`` the set above, so that none of its articles is learned from.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from latency import fragment  # noqa: E402  (the keyword benchmark's cut, beside this script)

from indexer.corpus.articles import Article, read_jsonl  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
VNTC = DATA / "vntc_news" / "articles.jsonl.gz"
DEV_SET = DATA / "vntc_titles"


def set_articles(folder: Path) -> set[str]:
    """The ids of the articles a set of this kind holds (its paragraphs are "<id>.p<n>")."""
    with (folder / "corpus.jsonl").open(encoding="utf-8") as stream:
        return {json.loads(line)["_id"].rsplit(".p", 1)[0] for line in stream}


def build(
    out: Path,
    articles: int,
    queries: int,
    seed: int,
    besides: tuple[Path, ...] = (),
    fragments: bool = False,
) -> tuple[int, int]:
    """Write the set to ``out``, without the articles of ``vntc_titles`` and of the sets
    ``besides``, each title asked whole or cut (``fragments``); (paragraphs, queries)."""
    taken = set_articles(DEV_SET).union(*map(set_articles, besides))
    # Read as the indexer reads them: the same paragraphs, the same normalised titles.
    pool = [
        a for a in read_jsonl(VNTC) if isinstance(a, Article) and a.id not in taken and a.paragraphs
    ]
    rng = random.Random(seed)
    chosen = rng.sample(pool, articles)
    titled = [a for a in chosen if a.title]
    asked = rng.sample(titled, min(queries, len(titled)))
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with (out / "corpus.jsonl").open("w", encoding="utf-8") as corpus:
        for article in chosen:
            for i, paragraph in enumerate(article.paragraphs):
                record = {"_id": f"{article.id}.p{i}", "title": "", "text": paragraph.text}
                corpus.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    with (
        (out / "queries.jsonl").open("w", encoding="utf-8") as query_file,
        (out / "qrels.tsv").open("w", encoding="utf-8") as qrels,
    ):
        qrels.write("query-id\tcorpus-id\tscore\n")
        for article in asked:
            query_id = f"t-{article.id}"
            text = fragment(article.title, rng) if fragments else article.title
            record = {"_id": query_id, "text": text}
            query_file.write(json.dumps(record, ensure_ascii=False) + "\n")
            for i in range(len(article.paragraphs)):
                qrels.write(f"{query_id}\t{article.id}.p{i}\t1\n")
    meta = {
        "source": "vntc_news (MIT, VNTC corpus, (c) 2019 Vu Cong Duy Hoang)",
        "articles": articles,
        "paragraphs": count,
        "queries": len(asked),
        "seed": seed,
        "task": f"article title{' cut to 2-4 syllables' if fragments else ''} -> any "
        "paragraph of its own article; titles withheld; no article of vntc_titles",
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    return count, len(asked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--besides", type=Path, nargs="*", default=[])
    parser.add_argument("--fragments", action="store_true", help="2-4 syllables of each title")
    args = parser.parse_args()
    if not VNTC.exists() or not DEV_SET.exists():
        sys.exit(f"needs {VNTC} and {DEV_SET}")
    count, asked = build(
        args.out, args.articles, args.queries, args.seed, tuple(args.besides), args.fragments
    )
    print(f"{args.out}: {count} paragraphs of {args.articles} articles, {asked} queries")


if __name__ == "__main__":
    main()
