"""The facade the command line and the web app use: the search service, its records,
filters, errors, highlights and suggestions. May import every other package of ``indexer``."""

from indexer.analysis.abbreviations import load as load_abbreviations
from indexer.search.errors import BadRequest, IndexUnavailable, SearchTimeout
from indexer.search.filters import Filters
from indexer.search.ordering import FACET_VALUES
from indexer.search.ray_fanout import RayShards
from indexer.search.request import GROUPS, MAX_PER_PAGE, MAX_QUERY_CHARS, SORTS
from indexer.search.results import ArticleView, Hit, Page
from indexer.search.service import SearchService
from indexer.storage.store import index_dir_from_env

__all__ = [
    "FACET_VALUES",
    "GROUPS",
    "MAX_PER_PAGE",
    "MAX_QUERY_CHARS",
    "SORTS",
    "ArticleView",
    "BadRequest",
    "Filters",
    "Hit",
    "IndexUnavailable",
    "Page",
    "RayShards",
    "SearchService",
    "SearchTimeout",
    "index_dir_from_env",
    "load_abbreviations",
]
