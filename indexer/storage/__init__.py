"""The index on disk: schema, the product's Whoosh codec and its block layout, writing
rounds, vocabulary files. Imports ``analysis`` and ``corpus``; the codec imports only
Whoosh, numpy and the rest of this package, since a process that opens the index with
plain Whoosh imports it when it unpickles a segment's codec."""
