"""Vietnamese passage search: read articles, analyse them with pyvi, index and search with Whoosh.

Data flows through the modules in this order: ``articles`` (files -> records), ``text``
and ``segment`` (normalisation, syllables, pyvi words), ``analysis`` (the indexed views),
``schema``, ``storage`` (the codec) and ``store`` (the index), ``query`` and ``search``
(results), ``cli``.
"""

__version__ = "0.1.0"
