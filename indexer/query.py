"""From what a user typed to a Whoosh query.

The syntax is small and forgiving: ``"a phrase"``, ``-word`` to exclude, ``title:word``
and ``title:"a phrase"``; everything else is plain words. Syntax that cannot apply (an
unbalanced quote, ``Hà Nội:``, ``S -300``) is searched as plain words, never an error.

Each syllable becomes a clause over the index's existing forms (``indexer.vocabulary``):
a syllable typed with diacritics matches itself; one typed without matches every accented
form it could stand for. Multi-syllable words of the query that pyvi found in the corpus
add a word bonus. A short query asks for all its syllables first (``strict``), and falls
back to any of them (``loose``) when that finds nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from whoosh import query as wq

from indexer.abbreviations import Abbreviations
from indexer.segment import syllables
from indexer.text import canonical, fold, has_diacritics
from indexer.vocabulary import Vocabulary

# Relative weights, chosen on the dev sets (benchmarks/README.md).
WORD = 0.5  # a multi-syllable word of the query found as a pyvi word
VARIANT_OF_PLAIN = 0.3  # "uy" in an accented query also finds "ủy", below "uy"
ABBREVIATION = 0.9  # UBND found as "ủy ban nhân dân"
STRICT_MAX_SYLLABLES = 5  # longer queries are questions: any word may be missing
MAX_SYLLABLES = 48  # longer queries are cut: the tail adds time, not precision
MAX_VARIANTS = 24

# Question words carry no topic; dropped from a query that has other words.
_QUESTION_WORDS = "gì nào đâu ai sao bao nhiêu mấy thế nào như thế tại vì không chưa hả à ạ"
QUESTION_WORDS = frozenset(fold(w) for w in _QUESTION_WORDS.split())

_TOKEN_RE = re.compile(
    r"""(?P<field>\btitle):(?:"(?P<fphrase>[^"]*)"|(?P<fword>[^\s"]+))"""
    r"""|"(?P<phrase>[^"]*)"|(?:(?<=\s)|^)-(?P<neg>[^\W\d_][^\s"]*)""",
    re.IGNORECASE,
)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
# A folded syllable that could be Vietnamese: such an abbreviation key ("ca", "bo")
# expands only when typed in capitals.
_SYLLABLE_LIKE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?$"
)


@dataclass(frozen=True)
class ParsedQuery:
    """The parts of a user's query, before analysis."""

    words: str = ""
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    title: tuple[str, ...] = ()


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


@dataclass
class Plan:
    """Everything the search needs from a query: the Whoosh queries and what to mark."""

    strict: wq.Query = wq.NullQuery
    loose: wq.Query = wq.NullQuery
    exact: set[str] = field(default_factory=set)  # canonical syllables to highlight
    folded: set[str] = field(default_factory=set)  # folded syllables to highlight
    pairs: list[tuple[str, str]] = field(default_factory=list)  # adjacent, folded
    terms: list[str] = field(default_factory=list)  # folded plain-word syllables

    @property
    def is_empty(self) -> bool:
        return self.loose is wq.NullQuery


def _any(queries: list[wq.Query], boost: float = 1.0) -> wq.Query | None:
    if not queries:
        return None
    if len(queries) == 1:
        only = queries[0]
        if boost != 1.0:
            only = only.copy()
            only.boost = only.boost * boost
        return only
    return wq.Or(queries, boost=boost)


@dataclass
class QueryPlanner:
    """Builds ``Plan``s against one searcher's vocabulary."""

    vocabulary: Vocabulary
    doc_frequency: Callable[[str, str], int]
    abbreviations: Abbreviations | None = None

    def syllable(
        self, raw: str, fieldname: str = "text", accented: bool = True, fallback: bool = True
    ):
        """A clause for one typed syllable (None when no form of it is in the index).

        ``fallback``: an accented syllable absent from the index may match its variants
        (a wrong accent is a common typo); phrases and title terms stay exact.
        """
        exact = canonical(raw)
        folded = fold(exact)
        variants = [
            wq.Term(fieldname, v, boost=1.0 if not accented else VARIANT_OF_PLAIN)
            for v in self.vocabulary.variants(fieldname, folded)[:MAX_VARIANTS]
            if v != exact
        ]
        exact_found = self.doc_frequency(fieldname, exact) > 0
        own = [wq.Term(fieldname, exact)] if exact_found else []
        if accented and has_diacritics(raw):
            # Typed with its accents: itself; its variants only if it does not exist.
            return _any(own) or (_any(variants, VARIANT_OF_PLAIN) if fallback else None)
        return _any(own + variants)

    def sequence(self, text: str, fieldname: str = "text", boost: float = 1.0):
        """Adjacent syllables (a phrase); None if a syllable is not in the index."""
        accented = has_diacritics(text)
        clauses = [self.syllable(s.text, fieldname, accented, False) for s in syllables(text)]
        if not clauses or any(c is None for c in clauses):
            return None
        if len(clauses) == 1:
            return _any(clauses, boost)
        if fieldname == "title":  # titles keep no positions: all of the words, anywhere
            return wq.And(clauses, boost=boost)
        return wq.Sequence(clauses, boost=boost)

    def _abbreviation(self, raw: list[str], folded: list[str], i: int):
        """(length, expansion clauses) of the longest abbreviation form at syllable i."""
        if self.abbreviations is None:
            return 0, []
        for form, group in self.abbreviations.forms_starting(folded[i]):
            n = len(form)
            if tuple(folded[i : i + n]) != form:
                continue
            if n == 1 and _SYLLABLE_LIKE.match(form[0]) and not raw[i].isupper():
                continue
            others = [self.sequence(" ".join(o), boost=ABBREVIATION) for o in group if o != form]
            return n, [o for o in others if o is not None]
        return 0, []

    def _words(self, raw: list[str], folded: list[str], accented: bool) -> list[wq.Query]:
        """Word-field clauses for n-grams of the query that pyvi found as words."""
        out = []
        for n in (2, 3, 4):
            for i in range(len(raw) - n + 1):
                if accented:
                    word = "_".join(canonical(s) for s in raw[i : i + n])
                    if self.doc_frequency("word", word):
                        out.append(wq.Term("word", word, boost=WORD))
                else:
                    key = "_".join(folded[i : i + n])
                    found = self.vocabulary.variants("word", key)[:MAX_VARIANTS]
                    out.extend(wq.Term("word", w, boost=WORD) for w in found)
        return out

    def plan(self, parsed: ParsedQuery) -> Plan:
        plan = Plan()
        raw = [s.text for s in syllables(parsed.words)][:MAX_SYLLABLES]
        if len(raw) > 1:
            content = [s for s in raw if fold(s) not in QUESTION_WORDS]
            raw = content or raw
        folded = [fold(s) for s in raw]
        accented = has_diacritics(parsed.words)

        required: list[wq.Query] = []
        for phrase in parsed.phrases:
            required.append(self.sequence(phrase) or wq.NullQuery)
        for title in parsed.title:
            required.append(self.sequence(title, "title") or wq.NullQuery)

        clauses: list[wq.Query] = []
        i = 0
        while i < len(raw):
            n, expansions = self._abbreviation(raw, folded, i)
            if n:
                own = [self.syllable(s, accented=accented) for s in raw[i : i + n]]
                own_clause = None
                if all(c is not None for c in own):
                    own_clause = own[0] if n == 1 else wq.And(own)
                clause = _any([c for c in (own_clause, *expansions) if c is not None])
                i += n
            else:
                clause = self.syllable(raw[i], accented=accented)
                i += 1
            if clause is not None:
                clauses.append(clause)
        words = self._words(raw, folded, accented)

        loose_parts = clauses + words
        loose = wq.Or(loose_parts) if loose_parts else None
        strict = None
        if clauses and len(raw) <= STRICT_MAX_SYLLABLES and len(clauses) > 1:
            strict = wq.AndMaybe(wq.And(clauses), wq.Or(words)) if words else wq.And(clauses)

        def combine(optional):
            if required and optional is not None:
                return wq.AndMaybe(wq.And(required), optional)
            if required:
                return wq.And(required)
            return optional

        plan.loose = combine(loose) or wq.NullQuery
        plan.strict = combine(strict) or plan.loose
        if parsed.excluded and not plan.is_empty:
            excluded = [q for q in (self.sequence(e) for e in parsed.excluded) if q is not None]
            if excluded:
                plan.loose = wq.AndNot(plan.loose, wq.Or(excluded))
                plan.strict = wq.AndNot(plan.strict, wq.Or(excluded))

        for part in (parsed.words, *parsed.phrases, *parsed.title):
            part_accented = has_diacritics(part)
            for s in syllables(part):
                if part_accented and has_diacritics(s.text):
                    plan.exact.add(canonical(s.text))
                else:
                    plan.folded.add(fold(s.text))
        plan.terms = folded
        plan.pairs = list(itertools.pairwise(folded))
        return plan
