"""A damaged, missing or unwritable index: clear answers, nothing lost, recovery by itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.storage import store
from tests.conftest import SAMPLES, SEED
from tests.test_api import assert_error
from webapp import create_app


def _client(index_dir: Path):
    return create_app({"INDEX_DIR": str(index_dir)}).test_client()


def _close(client) -> None:
    """Let go of the index's files (a busy mount cannot be unmounted)."""
    client.application.extensions["search"].close()


def _unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _index_command(index_dir: Path) -> list[str]:
    """Index the 300 sample articles: more than a tiny disk holds."""
    data = str(SAMPLES / "vntc_sample.jsonl")
    return [sys.executable, "-m", "indexer", "index", data, "--index-dir", str(index_dir), "-q"]


def _seed_index(index_dir: Path) -> None:
    summary = store.update_index(index_dir, [SEED], workers=1)
    assert summary.failed == 0


@pytest.mark.parametrize("start", ["missing", "empty"])
def test_server_answers_503_then_recovers_when_an_index_appears(tmp_path, start):
    index_dir = tmp_path / "ix"
    if start == "empty":
        index_dir.mkdir()
    client = _client(index_dir)
    error = assert_error(client.get("/api/search?q=lạng sơn"), 503)
    assert "vnsearch index" in error["message"]

    _seed_index(index_dir)
    response = client.get("/api/search?q=lạng sơn")
    _close(client)
    assert response.status_code == 200
    assert response.get_json()["total"] > 0


@pytest.mark.parametrize("damage", ["truncate", "garble"])
def test_damaged_segment_is_503_and_a_restored_index_is_served(tmp_path, damage):
    index_dir = tmp_path / "ix"
    _seed_index(index_dir)
    backup = tmp_path / "backup"
    shutil.copytree(index_dir, backup)
    client = _client(index_dir)
    assert client.get("/api/search?q=lạng sơn").status_code == 200

    (terms,) = index_dir.glob("*.trm")  # the segment's term dictionary
    size = terms.stat().st_size
    if damage == "truncate":
        os.truncate(terms, size // 2)
    else:
        with terms.open("r+b") as f:
            f.seek(size // 2)
            f.write(b"\x00\xff" * (size // 4))
    # A fresh server process meets the damage when it opens the index.
    damaged = _client(index_dir)
    for path in ("/api/search?q=lạng sơn", "/api/health", "/api/articles/000_e79570c1fe97e7a4"):
        error = assert_error(damaged.get(path), 503)
        assert "cannot be read" in error["message"] or "cannot be opened" in error["message"]
    page = damaged.get("/?q=lạng sơn")
    assert page.status_code == 503 and "Traceback" not in page.get_data(as_text=True)

    shutil.rmtree(index_dir)
    shutil.copytree(backup, index_dir)
    response = damaged.get("/api/search?q=lạng sơn")
    _close(damaged)
    _close(client)
    assert response.status_code == 200 and response.get_json()["total"] > 0


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return done.returncode == 0


def test_full_disk_fails_clearly_and_keeps_the_index(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "1m"):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        index_dir = disk / "ix"
        _seed_index(index_dir)
        before = store.stats(index_dir).passages
        run = subprocess.run(
            _index_command(index_dir),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 1
        assert "No space left on device" in run.stderr
        assert "Traceback" not in run.stderr
        assert store.stats(index_dir).passages == before  # the last commit, whole
        client = _client(index_dir)
        response = client.get("/api/search?q=lạng sơn")
        _close(client)
        assert response.status_code == 200 and response.get_json()["total"] > 0
    finally:
        _unmount(disk)


def test_read_only_index_is_served_and_the_indexer_says_why_it_cannot_write(tmp_path):
    index_dir = tmp_path / "ix"
    _seed_index(index_dir)
    before = store.stats(index_dir).passages
    if os.geteuid() == 0:  # root writes through permissions: mount the index read-only
        mounted = subprocess.run(
            ["mount", "--bind", "-o", "ro", str(index_dir), str(index_dir)], capture_output=True
        )
        if mounted.returncode != 0:
            pytest.skip(f"cannot make a read-only mount: {mounted.stderr.strip()}")
        subprocess.run(["mount", "-o", "remount,ro,bind", str(index_dir)], check=True)
    else:
        for path in [index_dir, *index_dir.iterdir()]:
            path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        run = subprocess.run(_index_command(index_dir), capture_output=True, text=True, timeout=300)
        assert run.returncode == 1, run.stderr
        assert "Read-only file system" in run.stderr or "Permission denied" in run.stderr
        assert "Traceback" not in run.stderr
        client = _client(index_dir)
        response = client.get("/api/search?q=lạng sơn")
        _close(client)
        assert response.status_code == 200 and response.get_json()["total"] > 0
    finally:
        if os.geteuid() == 0:
            _unmount(index_dir)
        else:
            for path in [index_dir, *index_dir.iterdir()]:
                path.chmod(0o755 if path.is_dir() else 0o644)
    assert store.stats(index_dir).passages == before


def test_an_index_of_another_schema_version_is_503_asking_for_a_rebuild(tmp_path):
    index_dir = tmp_path / "ix"
    _seed_index(index_dir)
    (index_dir / "VERSION").write_text("4\n")
    client = _client(index_dir)
    for path in ("/api/search?q=lạng sơn", "/api/health"):
        error = assert_error(client.get(path), 503)
        assert "rebuild" in error["message"]
    (index_dir / "VERSION").write_text(f"{store.SCHEMA_VERSION}\n")  # rebuilt, say
    response = client.get("/api/search?q=lạng sơn")
    _close(client)
    assert response.status_code == 200
