"""The server as deployed: gunicorn replaces a killed worker without losing requests."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.parse
import urllib.request

import psutil

from tests.serving import serving


def _workers(master_pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(master_pid).children()]


def test_killed_worker_is_replaced_and_only_its_request_fails(index_dir):
    with serving(index_dir, workers=2) as (base, process):
        url = f"{base}/api/search?" + urllib.parse.urlencode({"q": "lạng sơn"})
        outcomes: list[bool] = []
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(url, timeout=10) as response:
                        outcomes.append(response.status == 200)
                except OSError:
                    outcomes.append(False)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        before = _workers(process.pid)
        assert len(before) == 2
        served_before_kill = len(outcomes)
        os.kill(before[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = _workers(process.pid)
            if len(now) == 2 and before[0] not in now:
                break
            time.sleep(0.2)
        time.sleep(1.5)  # keep asking after the replacement
        stop.set()
        for t in threads:
            t.join()

        after = _workers(process.pid)
        assert len(after) == 2 and before[0] not in after
        assert served_before_kill > 0 and len(outcomes) > served_before_kill + 10
        # At most the requests the killed worker was answering (one per client at most).
        assert outcomes.count(False) <= 1
