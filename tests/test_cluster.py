"""A sharded index built and served on a real Ray cluster: two nodes on this machine,
started with Ray's own ``ray.cluster_utils.Cluster`` (as Ray's multi-node tests are),
every node on loopback. Only this cluster's processes are stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from indexer.search import SearchService
from indexer.search.ray_fanout import RayShards, actor_name
from tests.serving import free_port, serving
from tests.test_shards import FORMS, page, queries

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster():
    """The address of a two-node Ray cluster, one CPU each, bound to 127.0.0.1."""
    # Ray turns 127.0.0.1 into this machine's address unless told the cluster is local;
    # read once, when Ray is imported.
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    local = {"num_cpus": 1, "node_ip_address": "127.0.0.1"}
    made = Cluster(initialize_head=True, head_node_args={**local, "include_dashboard": False})
    made.add_node(**local)
    try:
        yield made.address
    finally:
        ray.shutdown()
        made.shutdown()


def _vnsearch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def on_ray(tmp_path_factory, cluster, mixed_corpus) -> Path:
    """The corpus indexed on the cluster in two shards, from the command line."""
    target = tmp_path_factory.mktemp("ray-index") / "index"
    done = _vnsearch(
        "index",
        str(mixed_corpus),
        "--index-dir",
        str(target),
        "--shards",
        "2",
        "--ray",
        cluster,
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert "failed 0" in done.stdout
    return target


def test_index_on_ray_serves_exactly_as_one_index(cluster, on_ray, mixed_plain, mixed_corpus):
    again = _vnsearch(
        "index", str(mixed_corpus), "--index-dir", str(on_ray), "--ray", cluster, "-q"
    )
    assert again.returncode == 0 and "added 0" in again.stdout, again.stderr

    asked = queries(mixed_corpus)[::2]
    with (
        SearchService(mixed_plain, result_cache=0) as one,
        SearchService(on_ray, result_cache=0, shards=RayShards(cluster, on_ray)) as many,
    ):
        for query in asked:
            first, again = one.first_stage(query, 60), many.first_stage(query, 60)
            assert (first is None) == (again is None)
            if first is not None:
                assert [(p.article_id, p.paragraph, p.tier) for p in first.found] == [
                    (p.article_id, p.paragraph, p.tier) for p in again.found
                ], query
                for a, b in zip(first.found, again.found, strict=True):
                    assert b.score == pytest.approx(a.score, rel=1e-9, abs=1e-12)
        for query in asked[::4]:
            for form in FORMS:
                assert page(one, query, form) == page(many, query, form), (query, form)
        assert many.search("lạng sơn").shards.to_dict() == {
            "total": 2,
            "successful": 2,
            "failed": 0,
        }


def _search(base: str, query: str) -> tuple[int, dict]:
    url = f"{base}/api/search?" + urllib.parse.urlencode({"q": query, "per_page": 5})
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_a_killed_shard_actor_is_reported_then_answers_again(cluster, on_ray, monkeypatch):
    import ray

    # While Ray restarts the actor, its new process takes the machine's two cores from the
    # shard that still answers; past the search's time limit (2 s by default) neither
    # shard would have answered, which is a 503 by design (a timeout), not what is tested.
    monkeypatch.setenv("VNSEARCH_TIME_LIMIT", "10")
    with serving(on_ray, workers=2, extra=["--ray", cluster]) as (base, _):
        status, full = _search(base, "lạng sơn")
        assert status == 200 and full["shards"]["failed"] == 0
        ray.init(address=cluster, ignore_reinit_error=True, log_to_driver=False)
        actor = ray.get_actor(actor_name(on_ray, 0, 0), namespace="vnsearch")
        answers: list[tuple[int, dict]] = []
        stop = threading.Event()

        asked = iter(range(10**6))

        def client() -> None:
            while not stop.is_set():  # each query new: none answered from the page cache
                answers.append(_search(base, f"lạng sơn {next(asked)}"))

        threads = [threading.Thread(target=client) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(6):  # a query must be on its way to the actor when it dies
                time.sleep(0.5)
                os.kill(ray.get(actor.pid.remote(), timeout=60), signal.SIGKILL)
                time.sleep(1.5)
                if any(a[1].get("shards", {}).get("failed") for a in answers):
                    break
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # Ray restarts it
                status, now = _search(base, "lạng sơn")
                if status == 200 and now["shards"]["failed"] == 0:
                    break
                time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        assert all(status < 500 for status, _ in answers), [a for s, a in answers if s >= 500][:3]
        assert any(a["shards"]["failed"] == 1 for _, a in answers)
        assert now["shards"] == {"total": 2, "successful": 2, "failed": 0}
        assert now["results"] == full["results"]
        partial = next(a for _, a in answers if a["shards"]["failed"])
        assert len(partial["results"]) <= len(full["results"])
    # The server stopped the actors it started.
    with pytest.raises(ValueError):
        ray.get_actor(actor_name(on_ray, 0, 0), namespace="vnsearch")


def test_an_unreachable_cluster_is_a_clear_error(tmp_path, mixed_corpus, make_app):
    nobody = f"127.0.0.1:{free_port()}"
    done = _vnsearch(
        "index",
        str(mixed_corpus),
        "--index-dir",
        str(tmp_path / "ix"),
        "--shards",
        "2",
        "--ray",
        nobody,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"Error: no Ray cluster answers at {nobody}: Connection refused"
    )
    served = _vnsearch("serve", "--index-dir", str(tmp_path / "ix"), "--ray", nobody)
    assert served.returncode == 1 and "no Ray cluster answers" in served.stderr

    app = make_app({"INDEX_DIR": str(tmp_path / "ix"), "RAY_ADDRESS": nobody})
    response = app.test_client().get("/api/search", query_string={"q": "lạng sơn"})
    assert response.status_code == 503
    assert "no Ray cluster answers" in response.get_json()["error"]["message"]
