"""Vietnamese passage search: read articles, analyse them (pyvi's word segmentation, run in
batches by ``analysis.crf``), index and search with Whoosh.

Data flows through the packages in this order: ``corpus`` (files -> articles),
``analysis`` (normalisation, syllables, pyvi's words, the indexed views), ``storage``
(schema, codec, writing and committing), ``ranking`` (query planning, postings, scoring,
re-ranking), ``search`` (the facade: service, results, highlights), ``cli``.
"""

__version__ = "0.1.0"
