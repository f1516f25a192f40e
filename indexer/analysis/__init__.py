"""Vietnamese text as the index sees it: normalisation, syllables, pyvi's words (``crf``),
the Whoosh analysers and abbreviations. Imports nothing else of ``indexer``."""
