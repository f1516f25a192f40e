"""A real `vnsearch serve` (gunicorn) for tests that need the server as users run it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(
    index_dir: Path, workers: int = 2, extra: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """(base URL, server process) of a server answering on loopback; ``extra``: more
    options of ``vnsearch serve``."""
    port = free_port()
    command = [sys.executable, "-m", "indexer", "serve", "--index-dir", str(index_dir)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"server did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.3)
    try:
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
