import json

import pytest
from click.testing import CliRunner

from indexer import evaluation as ev
from indexer.cli import main
from tests.conftest import SHARED_DATA


def test_query_variants():
    assert ev.strip_diacritics("Đảng ủy Lạng Sơn") == "Dang uy Lang Son"
    assert ev.swap_tone_style("hòa bình, thuỷ lợi, hoàn") == "hoà bình, thủy lợi, hoàn"
    assert ev.VARIANTS["upper"]("Hà Nội") == "HÀ NỘI"


def test_scores():
    row = ev.Scores()
    row.add("q1", ["a", "b", "c"], {"b": 1})
    row.add("q4", ["x"], {"b": 1, "c": 1})
    mrr, hit1, hit10, ndcg, recall = row.row()
    assert mrr == pytest.approx(0.25)
    assert (hit1, hit10, recall) == (0.0, 0.5, 0.5)
    assert 0 < ndcg < 0.5
    by_half = {ev.half("q1"): 0.5, ev.half("q4"): 0.0}
    assert ev.half("q1") != ev.half("q4")  # one query in each half
    for which, expected in by_half.items():
        assert row.row(which)[0] == expected


def test_halves_are_fixed_and_even():
    ids = [f"q{i}" for i in range(2000)]
    share = sum(ev.half(q) == "A" for q in ids) / len(ids)
    assert 0.45 < share < 0.55
    assert [ev.half(q) for q in ids] == [ev.half(q) for q in ids]


def _beir(folder, corpus, queries, qrels):
    folder.mkdir()
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps(d, ensure_ascii=False) for d in corpus)
    )
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in queries)
    )
    (folder / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in qrels)
    )


def test_eval_command_on_a_small_set(tmp_path):
    corpus = [
        {"_id": "d1", "title": "Lạng Sơn", "text": "Đảng ủy quân sự tỉnh Lạng Sơn họp."},
        {"_id": "d2", "title": "Biển", "text": "Tàu cá ra khơi giữa đại dương."},
        {"_id": "d3", "title": "Thủy lợi", "text": "Công trình thủy lợi giúp hòa giải tranh chấp."},
    ]
    queries = [
        {"_id": "q1", "text": "Đảng ủy tỉnh nào họp?"},
        {"_id": "q2", "text": "công trình thủy lợi"},
    ]
    _beir(tmp_path / "set", corpus, queries, [("q1", "d1"), ("q2", "d3")])
    _beir(tmp_path / "other", corpus, queries[:1], [("q1", "d2")])  # a set nothing finds
    cache = tmp_path / "cache"
    args = ["eval", str(tmp_path / "set"), str(tmp_path / "other"), "--workers", "1"]
    result = CliRunner().invoke(main, [*args, "--index-cache", str(cache)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "| set | vnsearch | all | 1.0000 | 1.0000 | 1.0000 | 1.0000 | 1.0000 |" in lines
    assert "| other | vnsearch | all | 0.0000 | 0.0000 | 0.0000 | 0.0000 | 0.0000 |" in lines
    assert "| mean | vnsearch | all | " + " | ".join(["**0.5000**"] * 5) + " |" in lines
    assert (cache / "set" / "EVAL_CORPUS_SIZE").read_text() == "3"
    again = CliRunner().invoke(main, [*args, "--index-cache", str(cache), "--variant", "orig"])
    assert again.exit_code == 0 and "| set | vnsearch | all | 1.0000 |" in again.output


@pytest.mark.data
@pytest.mark.skipif(
    not (SHARED_DATA / "viquad_test").is_dir(), reason="needs ../shared/data/viquad_test"
)
def test_dev_set_loads():
    data = ev.load(SHARED_DATA / "viquad_test")
    assert len(data.corpus) == 5557
    assert len(data.queries) == 2653
    assert all(data.qrels[q] for q in ev.sample_queries(data, 50))
