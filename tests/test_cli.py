import json
import os
import subprocess
import sys

from click.testing import CliRunner

from indexer.cli import main


def test_index_search_stats_delete(tmp_path, corpus_dir):
    runner = CliRunner()
    index_dir = str(tmp_path / "ix")
    result = runner.invoke(
        main, ["index", str(corpus_dir), "--index-dir", index_dir, "--workers", "1", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "added" in result.output and "failed 0" in result.output

    again = runner.invoke(
        main, ["index", str(corpus_dir), "--index-dir", index_dir, "--workers", "1"]
    )
    assert "added 0" in again.output and "unchanged" in again.output

    found = runner.invoke(main, ["search", "quốc phòng", "--index-dir", index_dir])
    assert found.exit_code == 0
    assert "[quốc phòng]" in found.output
    assert "Lạng Sơn" in found.output

    as_json = runner.invoke(
        main, ["search", "lang son", "--json", "--index-dir", index_dir, "-n", "3"]
    )
    data = json.loads(as_json.output)
    assert data["results"][0]["article_id"] == "000_e79570c1fe97e7a4"
    assert "<mark>Lạng Sơn</mark>" in data["results"][0]["highlight"]

    stats = runner.invoke(main, ["stats", "--index-dir", index_dir])
    assert "passages:" in stats.output

    deleted = runner.invoke(main, ["delete", "duong-road", "--index-dir", index_dir])
    assert "deleted 1 of 1" in deleted.output


def test_env_variable_sets_the_index(tmp_path, corpus_dir, monkeypatch):
    monkeypatch.setenv("VNSEARCH_INDEX_DIR", str(tmp_path / "env-ix"))
    runner = CliRunner()
    runner.invoke(main, ["index", str(corpus_dir / "crafted.jsonl"), "--workers", "1", "-q"])
    assert (tmp_path / "env-ix").is_dir()


def test_bad_input_exits_nonzero_and_names_the_line(tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"id": "ok", "body": "Hà Nội"}\n{broken\n', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["index", str(data), "--index-dir", str(tmp_path / "ix"), "--workers", "1"]
    )
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output
    assert "added 1" in result.output


def test_search_without_index_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["search", "x", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "no index" in result.output
    assert "Traceback" not in result.output


def test_empty_query_is_a_clear_error(tmp_path, index_dir):
    result = CliRunner().invoke(main, ["search", "  ", "--index-dir", str(index_dir)])
    assert result.exit_code == 1 and "empty" in result.output


def test_command_line_and_api_rank_alike(index_dir, client):
    for query in ("quốc phòng", "lang son", "UBND tỉnh"):
        printed = CliRunner().invoke(
            main, ["search", query, "--json", "-n", "20", "--index-dir", str(index_dir)]
        )
        api = client.get("/api/search", query_string={"q": query, "per_page": 20}).get_json()
        cli_ids = [r["id"] for r in json.loads(printed.output)["results"]]
        assert cli_ids == [r["id"] for r in api["results"]]


def test_users_abbreviations_extend_and_override(tmp_path, index_dir, monkeypatch):
    mine = tmp_path / "mine.txt"
    mine.write_text("# our newsroom's own\nXYZQ | Mẫu Sơn\n", encoding="utf-8")
    args = ["search", "XYZQ", "--json", "--index-dir", str(index_dir)]
    without = json.loads(CliRunner().invoke(main, args).output)
    assert without["total"] == 0
    with_file = json.loads(CliRunner().invoke(main, [*args, "--abbreviations", str(mine)]).output)
    assert with_file["results"][0]["article_id"] == "nfd-article"
    monkeypatch.setenv("VNSEARCH_ABBREVIATIONS", str(mine))
    from_env = json.loads(CliRunner().invoke(main, args).output)
    assert from_env["results"][0]["article_id"] == "nfd-article"


def test_an_index_of_another_schema_version_is_a_one_line_rebuild_message(fresh_index):
    (fresh_index / "VERSION").write_text("4\n")
    for command in (["search", "lạng sơn"], ["stats"], ["delete", "duong-road"]):
        result = CliRunner().invoke(main, [*command, "--index-dir", str(fresh_index)])
        assert result.exit_code == 1, command
        assert len(result.output.strip().splitlines()) == 1
        assert "rebuild" in result.output and "schema 4" in result.output


def test_search_grouped_by_article_newest_first_with_facets(index_dir):
    runner = CliRunner()
    base = ["search", "lang son", "--index-dir", str(index_dir)]
    grouped = runner.invoke(main, [*base, "--group", "article", "--json"])
    data = json.loads(grouped.output)
    ids = [hit["article_id"] for hit in data["results"]]
    assert len(ids) == len(set(ids)) == data["articles"] and data["group"] == "article"
    assert data["results"][0]["more"] >= 3 and data["facets"]["source"]
    text = runner.invoke(main, [*base, "--group", "article", "--sort", "date", "--facets"])
    assert text.exit_code == 0, text.output
    assert f"{data['articles']} articles, {data['total']} passages" in text.output
    assert "more passages of this article match" in text.output
    assert "source: " in text.output and "date: 2024-01 (1)" in text.output
    first = text.output.split("\n1. ")[1].splitlines()[0]
    assert "Thời tiết miền núi" in first  # the only dated article comes first
    bad = runner.invoke(main, [*base, "--sort", "newest"])
    assert bad.exit_code == 2 and "newest" in bad.output


def test_a_failed_delete_names_the_index_directory_and_loses_nothing(fresh_index):
    # A disk that takes no more bytes: every write that grows a file fails (EFBIG).
    limited = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)); "
        "from indexer.cli import main; sys.exit(main(['delete', 'duong-road']))"
    )
    env = {**os.environ, "VNSEARCH_INDEX_DIR": str(fresh_index)}
    failed = subprocess.run(
        [sys.executable, "-c", limited], env=env, capture_output=True, text=True, timeout=120
    )
    assert failed.returncode == 1, failed.stderr
    assert f"writing the index in {fresh_index} failed" in failed.stderr
    assert "Traceback" not in failed.stderr
    found = CliRunner().invoke(main, ["search", "đường", "--json", "--index-dir", str(fresh_index)])
    assert "duong-road" in {hit["article_id"] for hit in json.loads(found.output)["results"]}
