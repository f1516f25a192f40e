"""The index on disk: schema, the product's Whoosh codec and its block layout (posting
pool, term formats), writing rounds, vocabulary files, and the shards of a sharded index
with their writing here or on Ray. Imports ``analysis`` and ``corpus``, and ``cluster``
for the Ray writers only; the codec imports only Whoosh, numpy and the rest of this
package, since a process that opens the index with plain Whoosh imports it when it
unpickles a segment's codec."""
