"""Joining a Ray cluster, and pinning a shard's work to the node that holds it.

A cluster is named by its head's address (``host:port``, as ``ray start --head``
prints it, or ``$RAY_ADDRESS``). Ray turns a loopback address into this machine's
network address before connecting; a cluster started on loopback (tests, one machine)
is joined on loopback instead (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, Ray's own
switch for single-machine clusters), so that nothing leaves the machine.

Shard directories live either on a file system every node mounts at the same path (any
node may read or write any shard), or on one node's own disk: that node then declares
the custom resource ``vnsearch-shard-<i>`` (``ray start --resources``), and the actors
and tasks of shard i ask for a sliver of it, which places them there.
"""

from __future__ import annotations

import os
import socket
from typing import Any

NAMESPACE = "vnsearch"
CONNECT_TIMEOUT_S = 5.0
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_SHARD_RESOURCE = "vnsearch-shard-{}"
# The share of a node's shard resource one actor or task asks for: any number fit.
_SLIVER = 0.001


class ClusterUnavailable(Exception):
    """No Ray cluster answers at the address given, or Ray is not installed."""


def _host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterUnavailable(
            f"the Ray address {address!r} is not host:port (as 'ray start --head' prints it)"
        )
    return host.strip("[]"), int(port)


def connect(address: str) -> Any:
    """Join the cluster at ``address`` (once per process) and return the ``ray`` module;
    ``ClusterUnavailable`` with a one-line reason when that cannot be done."""
    host, port = _host_port(address)
    if host in _LOOPBACK:
        # Before Ray is imported: it reads the switch once.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ClusterUnavailable(
            f"no Ray cluster answers at {address}: {exc.strerror or exc}"
        ) from None
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable("Ray is not installed: pip install 'vnsearch[cluster]'") from None
    if ray.is_initialized():
        return ray
    try:
        ray.init(
            address=f"{host}:{port}",
            namespace=NAMESPACE,
            logging_level="WARNING",
            log_to_driver=False,
        )
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
        raise ClusterUnavailable(f"joining the Ray cluster at {address} failed: {exc}") from None
    return ray


def shard_resources(ray: Any, shard: int) -> dict[str, float]:
    """The custom resource that pins shard ``shard`` to its node, if a node declares it."""
    name = _SHARD_RESOURCE.format(shard)
    return {name: _SLIVER} if ray.cluster_resources().get(name) else {}


def cluster_cpus(ray: Any) -> int:
    """The CPUs of every node of the cluster."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
