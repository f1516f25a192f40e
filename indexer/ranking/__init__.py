"""From a parsed query to ranked passages: query planning against the index's vocabulary,
posting arrays, BM25F scoring and re-ranking. Imports ``analysis`` and ``storage``."""
