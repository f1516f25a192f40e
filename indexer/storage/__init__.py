"""The index on disk: the product's Whoosh codec and the block layout it writes.

Imports Whoosh, numpy and the standard library only: a process that opens the index
with plain Whoosh imports this package when it unpickles the codec of a segment.
"""
