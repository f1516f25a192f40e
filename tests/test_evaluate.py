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
    row.add(["a", "b", "c"], {"b": 1})
    row.add(["x"], {"b": 1})
    mrr, hit1, hit10, ndcg = row.row()
    assert mrr == pytest.approx(0.25)
    assert (hit1, hit10) == (0.0, 0.5)
    assert 0 < ndcg < 0.5


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
    result = CliRunner().invoke(main, ["eval", str(tmp_path / "set"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("| vnsearch |")]
    assert lines[0] == "| vnsearch | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |"


@pytest.mark.data
@pytest.mark.skipif(
    not (SHARED_DATA / "viquad_test").is_dir(), reason="needs ../shared/data/viquad_test"
)
def test_dev_set_loads():
    data = ev.load(SHARED_DATA / "viquad_test")
    assert len(data.corpus) == 5557
    assert len(data.queries) == 2653
    assert all(data.qrels[q] for q in ev.sample_queries(data, 50))
