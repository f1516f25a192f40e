"""Reaching a Ray cluster: joining it from this process with a bounded wait, and where a
shard's work may run. Imports nothing else of ``indexer``; Ray itself (the ``cluster``
extra) is imported only when a command is given a cluster's address."""
