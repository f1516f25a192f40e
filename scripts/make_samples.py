"""Draw the shipped sample of VNTC news articles (MIT licence) from ../shared/data.

Usage: python scripts/make_samples.py [N]   (fixed seed: the same sample every time)
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

SOURCE = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "vntc_news"
    / "articles.jsonl.gz"
)
TARGET = Path(__file__).resolve().parents[1] / "samples" / "vntc_sample.jsonl"


def main(n: int = 300) -> None:
    with gzip.open(SOURCE, "rt", encoding="utf-8") as stream:
        articles = [json.loads(line) for line in stream]
    # Articles with a title read better in the demo; keep them a reasonable size.
    pool = [a for a in articles if a["title"] and 300 < len(a["body"]) < 6000]
    sample = random.Random(20261129).sample(pool, n)
    sample.sort(key=lambda a: a["id"])
    with TARGET.open("w", encoding="utf-8") as out:
        for a in sample:
            record = {k: a[k] for k in ("id", "title", "body", "category", "source")}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {n} articles to {TARGET}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
