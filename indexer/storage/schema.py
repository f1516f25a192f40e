"""The index schema: one document per passage, with its article's metadata beside it."""

from __future__ import annotations

from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, STORED, TEXT, Schema

from indexer.analysis.analyzers import syllable_analyzer, word_analyzer
from indexer.storage.term_formats import TermFrequency, TermPositions

# Bumped whenever the analysis or the schema changes in a way that needs a rebuild.
SCHEMA_VERSION = 5

# Metadata a user can filter on; each has a "<name>_key" field holding fold(value).
FILTER_FIELDS = ("category", "source")
# The article's metadata, stored with its first passage only (paragraph 0): repeated with
# every passage it was a tenth of the index. Passages keep their title (re-ranking reads it).
ARTICLE_FIELDS = ("date", "url", "author", *FILTER_FIELDS)


def _terms_text(analyzer, stored: bool, phrase: bool) -> TEXT:
    """A TEXT field whose format indexes ready term lists fast (``term_formats``)."""
    field = TEXT(analyzer=analyzer, stored=stored, phrase=phrase)
    field.format = TermPositions() if phrase else TermFrequency()
    return field


def build_schema() -> Schema:
    """A passage: its place in the article, its analysed text and title, the metadata.

    A passage's id, "<article_id>#<paragraph>", is not a field: indexed, its 760,000
    distinct terms made up 45 % of the term dictionary, and nothing looks a passage up by it.
    """
    return Schema(
        article_id=ID(stored=True),
        # Shown, never searched: stored only, which saves a dozen postings per passage.
        paragraph=STORED,
        kind=STORED,
        # The passage's folded syllables, space separated, read by re-ranking instead of
        # cutting and folding its text again (``features.Candidate.syllables``).
        folded=STORED,
        text=_terms_text(syllable_analyzer(), stored=True, phrase=True),
        word=_terms_text(word_analyzer(), stored=False, phrase=False),
        title=_terms_text(syllable_analyzer(), stored=True, phrase=False),
        date=ID(stored=True),  # indexed on every passage, for date filters
        category=STORED,
        category_key=ID,
        source=STORED,
        source_key=ID,
        url=STORED,
        author=STORED,
        # "<article_id> <content hash>" (UTF-8) on an article's first passage: lets a rerun
        # skip unchanged articles by reading one column instead of every stored document.
        article_hash=COLUMN(VarBytesColumn()),
    )
