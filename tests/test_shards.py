"""A sharded index: articles routed by id, each shard an ordinary index, and searches over
the shards that rank exactly as one index holding the same articles."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer.cli import main
from indexer.corpus.articles import read_paths
from indexer.search import Filters, SearchService
from indexer.search.fanout import ProcessShards
from indexer.search.live_index import REFRESH_EVERY_S
from indexer.storage import sharded
from indexer.storage.shards import SHARDS_FILE, read_layout, shard_of
from tests.conftest import write_corpus


@pytest.fixture(scope="module", params=[2, 3])
def shards(request, tmp_path_factory, mixed_corpus) -> Path:
    target = tmp_path_factory.mktemp(f"shards{request.param}") / "index"
    summary = sharded.update_sharded(target, [mixed_corpus], request.param, workers=2)
    assert summary.failed == 0, summary.errors
    return target


def test_an_article_goes_to_the_shard_its_id_hashes_to():
    for article_id in ["a", "https://example.vn/thoi-su/abc-123.html", "Lạng Sơn #1", "7"]:
        digest = hashlib.sha1(article_id.encode("utf-8")).digest()
        assert shard_of(article_id, 4) == int.from_bytes(digest[:8], "big") % 4
        assert shard_of(article_id, 1) == 0
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(f"article-{i}", 4)] += 1
    assert min(counts) > 900  # evenly spread


def test_each_shard_holds_exactly_its_articles(shards, mixed_corpus):
    layout = read_layout(shards)
    ids = {a.id for a in read_paths([mixed_corpus]) if hasattr(a, "id")}
    for i, folder in enumerate(layout.dirs):
        with SearchService(folder) as one:
            held = {
                doc["article_id"]
                for doc in one.index.searcher().documents()
                if doc.get("paragraph") == 0
            }
        assert held == {a for a in ids if shard_of(a, layout.count) == i}


def queries(folder: Path) -> list[str]:
    """Queries of every kind over the corpus: syllables cut from its titles, typed with
    and without marks, phrases, exclusions, title terms, and the query meaning cases."""
    titles = [a.title for a in read_paths([folder]) if hasattr(a, "title") and a.title][:120]
    out = []
    for i, title in enumerate(titles):
        words = title.split()
        if len(words) < 2:
            continue
        cut = " ".join(words[i % 3 : i % 3 + 2 + i % 3])
        out.append(cut)
        if i % 4 == 0:
            out.append(f'"{" ".join(words[:2])}"')
        if i % 5 == 0:
            out.append(f"{words[0]} -{words[-1]}")
        if i % 7 == 0:
            out.append(f"title:{words[0]} {words[-1]}")
    out += ["lang son", "ha noi", "gia dau", "máy bay", "bắt đầu", "UBND", '"xyz qqq" quân sự']
    out += ["Hà Nội:", "S -300", "đ", "quốc phòng an ninh biên giới vùng núi phía bắc"]
    return [q for q in out if q.strip()]


FORMS = [
    {},
    {"page": 2},
    {"group": "article", "facets": True},
    {"sort": "date", "facets": True},
    {"group": "article", "sort": "date", "page": 2},
    {"filters": Filters(category="Thể thao")},
    {"filters": Filters(source="vnexpress.net", date_from="2024-02-01")},
]


def page(service: SearchService, query: str, form: dict) -> dict:
    found = service.search(query, per_page=7, **form).to_dict()
    found.pop("took_ms")
    found.pop("shards")
    return found


@pytest.mark.parametrize("parallel", [False, True])
def test_a_sharded_index_ranks_exactly_as_one_index(mixed_plain, shards, mixed_corpus, parallel):
    """Same passages, same order, same scores, same counts, in every query form."""
    asked = queries(mixed_corpus)
    assert len(asked) > 150
    with (
        SearchService(mixed_plain, result_cache=0) as one,
        SearchService(shards, result_cache=0, parallel=parallel) as many,
    ):
        for query in asked:
            first, again = one.first_stage(query, 100), many.first_stage(query, 100)
            if first is None:
                assert again is None
                continue
            assert first.total == again.total, query
            assert [(p.article_id, p.paragraph) for p in first.found] == [
                (p.article_id, p.paragraph) for p in again.found
            ], query
            for a, b in zip(first.found, again.found, strict=True):
                assert b.score == pytest.approx(a.score, rel=1e-9, abs=1e-12)
        forms = asked[:: 3 if parallel else 1]
        for query, form in itertools.product(forms, FORMS):
            assert page(one, query, form) == page(many, query, form), (query, form)
        assert one.document_count() == many.document_count()
        assert one.complete("lang s") == many.complete("lang s")
        assert one.facet_values("category") == many.facet_values("category")
        for article_id in ["000_e79570c1fe97e7a4", "dated-3", "missing"]:
            assert one.article(article_id, "lạng sơn") == many.article(article_id, "lạng sơn")


def test_every_answer_says_how_many_shards_answered(shards):
    layout = read_layout(shards)
    with SearchService(shards) as service:
        found = service.search("lạng sơn").shards
    assert (found.total, found.successful, found.failed) == (layout.count, layout.count, 0)


def test_a_shard_that_cannot_answer_is_left_out_and_said(tmp_path, mixed_corpus, make_app):
    target = tmp_path / "index"
    sharded.update_sharded(target, [mixed_corpus], 2, workers=2)
    app = make_app({"INDEX_DIR": str(target), "RESULT_CACHE": 0})
    client = app.test_client()
    full = client.get("/api/search", query_string={"q": "lạng sơn"}).get_json()
    assert full["shards"] == {"total": 2, "successful": 2, "failed": 0}

    broken = target / "shard-001"
    broken.rename(tmp_path / "away")  # as if its disk were gone
    time.sleep(REFRESH_EVERY_S + 0.1)  # the shard looks at its directory again
    part = client.get("/api/search", query_string={"q": "lạng sơn"})
    assert part.status_code == 200
    data = part.get_json()
    assert data["shards"] == {"total": 2, "successful": 1, "failed": 1}
    assert {shard_of(hit["article_id"], 2) for hit in data["results"]} == {0}
    assert "phân vùng" in client.get("/", query_string={"q": "lạng sơn"}).get_data(as_text=True)

    (target / "shard-000").rename(tmp_path / "away0")
    time.sleep(REFRESH_EVERY_S + 0.1)
    none = client.get("/api/search", query_string={"q": "lạng sơn"})
    assert none.status_code == 503 and none.get_json()["error"]["code"]

    (tmp_path / "away").rename(broken)
    (tmp_path / "away0").rename(target / "shard-000")
    again = client.get("/api/search", query_string={"q": "lạng sơn"}).get_json()
    assert again["shards"]["failed"] == 0 and again["results"] == full["results"]


def test_a_killed_shard_process_is_started_again(shards):
    import os
    import signal

    with SearchService(shards, result_cache=0, parallel=True) as service:
        before = service.search("lạng sơn").results
        fanout = service.shards
        assert isinstance(fanout, ProcessShards)
        os.kill(fanout.processes[0].process.pid, signal.SIGKILL)
        fanout.processes[0].process.join(5)
        after = service.search("lạng sơn")
    assert after.shards.failed == 0 and after.results == before


def test_index_with_shards_on_the_command_line(tmp_path):
    runner = CliRunner()
    target = str(tmp_path / "ix")
    source = tmp_path / "news"
    write_corpus(source, real=40)
    made = runner.invoke(main, ["index", str(source), "--index-dir", target, "--shards", "3"])
    assert made.exit_code == 0, made.output
    assert json.loads((Path(target) / SHARDS_FILE).read_text())["shards"] == 3
    again = runner.invoke(main, ["index", str(source), "--index-dir", target, "-q"])
    assert "added 0" in again.output and again.exit_code == 0
    refused = runner.invoke(main, ["index", str(source), "--index-dir", target, "--shards", "2"])
    assert refused.exit_code == 1 and "already holds 3 shard(s)" in refused.output
    stats = runner.invoke(main, ["stats", "--index-dir", target])
    assert "shards:    3" in stats.output
    found = runner.invoke(main, ["search", "lạng sơn", "--index-dir", target, "--json"])
    assert json.loads(found.output)["shards"]["total"] == 3
    deleted = runner.invoke(main, ["delete", "duong-road", "nope", "--index-dir", target])
    assert "deleted 1 of 2" in deleted.output


def test_a_changed_article_is_rewritten_in_its_own_shard_only(tmp_path):
    source = tmp_path / "news"
    write_corpus(source, real=40)
    target = tmp_path / "ix"
    sharded.update_sharded(target, [source], 3, workers=1)
    layout = read_layout(target)
    tocs = {i: sorted(p.name for p in d.glob("_passages_*.toc")) for i, d in enumerate(layout.dirs)}

    crafted = source / "crafted.jsonl"
    lines = crafted.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    record["body"] += " Tin cập nhật."
    lines[0] = json.dumps(record, ensure_ascii=False)
    crafted.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = sharded.update_sharded(target, [source], workers=1)
    assert (summary.added, summary.updated) == (0, 1)
    owner = shard_of(record["id"], 3)
    for i, folder in enumerate(layout.dirs):
        now = sorted(p.name for p in folder.glob("_passages_*.toc"))
        assert (now != tocs[i]) == (i == owner)
    with SearchService(target) as service:
        assert service.search('"Tin cập nhật"').results[0].article_id == record["id"]


def test_a_read_error_keeps_every_shard_from_pruning(tmp_path):
    source = tmp_path / "news"
    write_corpus(source, real=40)
    target = tmp_path / "ix"
    first = sharded.update_sharded(target, [source], 2, workers=1)
    (source / "news.jsonl").unlink()
    (source / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    kept = sharded.update_sharded(target, [source], workers=1, prune=True)
    assert kept.failed == 1 and kept.deleted == 0  # one error, said once
    (source / "bad.jsonl").unlink()
    pruned = sharded.update_sharded(target, [source], workers=1, prune=True)
    assert pruned.deleted == first.added - kept.unchanged > 0
