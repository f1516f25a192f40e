"""The query syntax: ``"a phrase"``, ``-word`` to exclude, ``title:word`` and
``title:"a phrase"``; everything else is plain words.

The syntax is small and forgiving: what cannot apply (an unbalanced quote, ``Hà Nội:``,
``S -300``) is searched as plain words, never an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.analysis.segment import syllables

_TOKEN_RE = re.compile(
    r"""(?P<field>\btitle):(?:"(?P<fphrase>[^"]*)"|(?P<fword>[^\s"]+))"""
    r"""|"(?P<phrase>[^"]*)"|(?:(?<=\s)|^)-(?P<neg>[^\W\d_][^\s"]*)""",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})


@dataclass(frozen=True)
class ParsedQuery:
    """The parts of a user's query, before analysis."""

    words: str = ""
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    title: tuple[str, ...] = ()

    @property
    def all_words(self) -> str:
        """The plain words and the words of the phrases: what ranking compares passages to."""
        return " ".join([self.words, *self.phrases]).strip()


def parse(text: str) -> ParsedQuery:
    """Split a query into plain words, phrases, exclusions and title terms."""
    text = text.translate(_QUOTES)
    words, phrases, excluded, title = [], [], [], []
    last = 0
    for match in _TOKEN_RE.finditer(text):
        words.append(text[last : match.start()])
        last = match.end()
        if match.group("field"):
            title.append(match.group("fphrase") or match.group("fword") or "")
        elif match.group("phrase") is not None:
            phrases.append(match.group("phrase"))
        else:
            excluded.append(match.group("neg"))
    words.append(text[last:])
    return ParsedQuery(
        words=" ".join(w.replace('"', " ") for w in words).strip(),
        phrases=tuple(p for p in phrases if syllables(p)),
        excluded=tuple(e for e in excluded if syllables(e)),
        title=tuple(t for t in title if syllables(t)),
    )
