"""Restricting a search to metadata: category, source and a range of dates."""

from __future__ import annotations

from dataclasses import dataclass

from whoosh import query as wq

from indexer.analysis.text import fold
from indexer.storage.schema import FILTER_FIELDS


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions; ``date_from``/``date_to`` are inclusive ISO dates."""

    category: str | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    def query(self) -> wq.Query | None:
        """The restriction as a Whoosh query over the indexed keys, or None for none."""
        parts: list[wq.Query] = []
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if value:
                parts.append(wq.Term(f"{name}_key", fold(value.strip())))
        if self.date_from or self.date_to:
            parts.append(wq.TermRange("date", self.date_from, self.date_to))
        return wq.And(parts) if parts else None
