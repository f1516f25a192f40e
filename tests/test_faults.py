"""The index survives what happens to indexers in real life: kills, locks, vanished input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from indexer.storage import store

ARTICLES = 300
PARAGRAPHS = 2


def _corpus(path, count=ARTICLES):
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            body = "\n\n".join(
                f"Bài số {i} đoạn {p}: Ủy ban nhân dân tỉnh Lạng Sơn họp phiên thứ {i}."
                for p in range(PARAGRAPHS)
            )
            out.write(json.dumps({"id": f"a{i:04d}", "title": f"Tin {i}", "body": body}) + "\n")
    return path


def _passages(index_dir) -> int:
    with store.open_index(index_dir).searcher() as searcher:
        return searcher.doc_count()


def _indexer(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "indexer", "index", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_run_then_rerun_completes_exactly(tmp_path):
    data = _corpus(tmp_path / "news.jsonl")
    index_dir = tmp_path / "ix"
    process = _indexer(
        data, "--index-dir", index_dir, "--workers", "1", "--batch-passages", "40", "-q"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists(index_dir) and _passages(index_dir) >= 80:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    committed = _passages(index_dir)  # the last committed state opens and serves
    assert 0 < committed < ARTICLES * PARAGRAPHS
    assert committed % PARAGRAPHS == 0  # never half an article

    rerun = _indexer(data, "--index-dir", index_dir, "--workers", "1", "-q")
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert f"unchanged {committed // PARAGRAPHS}" in out
    assert _passages(index_dir) == ARTICLES * PARAGRAPHS


def test_lock_of_a_killed_indexer_is_released(tmp_path):
    data = _corpus(tmp_path / "news.jsonl", count=5)
    index_dir = tmp_path / "ix"
    store.update_index(index_dir, [data])
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from indexer.storage import store; "
            "w = store.open_index(sys.argv[1]).writer(); "
            "print('locked', flush=True); time.sleep(60)",
            str(index_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    more = _corpus(tmp_path / "more.jsonl", count=7)
    try:
        second = _indexer(more, "--index-dir", index_dir, "--workers", "1")
        _, err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert "another indexer is writing" in err
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert store.update_index(index_dir, [more]).added == 2  # the dead writer's lock is gone


def test_prune_removes_articles_whose_source_is_gone(tmp_path):
    (tmp_path / "in").mkdir()
    _corpus(tmp_path / "in" / "keep.jsonl", count=3)
    gone = tmp_path / "in" / "gone.txt"
    gone.write_text("Tiêu đề\n\nBài sẽ bị xóa.", encoding="utf-8")
    index_dir = tmp_path / "ix"
    store.update_index(index_dir, [tmp_path / "in"])
    gone.unlink()

    (tmp_path / "in" / "broken.txt").write_bytes(b"\xff\xfe\xfa")
    blocked = store.update_index(index_dir, [tmp_path / "in"], prune=True)
    assert blocked.deleted == 0  # an unreadable input could hide live articles: no pruning

    (tmp_path / "in" / "broken.txt").unlink()
    summary = store.update_index(index_dir, [tmp_path / "in"], prune=True)
    assert (summary.deleted, summary.unchanged) == (1, 3)
    assert _passages(index_dir) == 3 * PARAGRAPHS
