"""From what a user typed to a Whoosh query.

The syntax is small and forgiving: ``"a phrase"``, ``-word`` to exclude, ``title:word``
and ``title:"a phrase"``; everything else is plain words. Syntax that cannot apply (an
unbalanced quote, ``Hà Nội:``, ``S -300``) is searched as plain words, never an error.

Each syllable becomes a clause over the index's existing forms (``indexer.ranking.vocabulary``):
a syllable typed with diacritics matches itself; one typed without matches every accented
form it could stand for. Multi-syllable words of the query that pyvi found in the corpus
add a word bonus. A short query asks for all its syllables first (``strict``), and falls
back to any of them (``loose``) when that finds nothing.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from whoosh import query as wq

from indexer.analysis.abbreviations import Abbreviations
from indexer.analysis.segment import syllables
from indexer.analysis.text import canonical, fold, has_diacritics
from indexer.ranking.vocabulary import Vocabulary

# Relative weights, chosen on the dev sets (benchmarks/README.md).
WORD = 0.2  # a multi-syllable word of the query found as a pyvi word
WORD_PLAIN = 0.0  # the same, for a query typed without accents (words disambiguate)
VARIANT_OF_PLAIN = 0.3  # readings below the one taken first: "uy" typed, "ủy" found too
ABBREVIATION = 0.9  # UBND found as "ủy ban nhân dân"
STRICT_MAX_SYLLABLES = 5  # longer queries are questions: any word may be missing
MAX_SYLLABLES = 48  # longer queries are cut: the tail adds time, not precision
RESTORE_SHARE = 0.5  # a word's reading restores a plain query's marks above this share
VARIANT_PRIOR = 0.6  # how much a common reading of "lang" outweighs a rare one
MAX_VARIANTS = 6  # accent variants searched for a syllable typed without accents
MIN_VARIANT_SHARE = 0.01  # rarer forms (typos, mostly) of a syllable typed without accents
COMMON_SHARE = 0.1  # in long OR queries, syllables in more passages than this are dropped
PRUNE_MIN_CLAUSES = 4

# Question words carry no topic; dropped from a query that has other words.
_QUESTION_WORDS = "gì nào đâu ai mấy"
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
    weights: dict[str, float] = field(default_factory=dict)  # folded syllable -> IDF

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


PLAIN, PARTIAL, ACCENTED = "plain", "partial", "accented"


def typing_mode(text: str) -> str:
    """How a query was typed: without any diacritics, partly, or with them.

    Most Vietnamese syllables carry a mark, so a query with marks on at least half of its
    syllables was typed with accents, and its unmarked syllables mean what they say.
    """
    syls = [s.text for s in syllables(text) if not s.text.isdigit()]
    marked = sum(has_diacritics(s) for s in syls)
    if not marked:
        return PLAIN
    return ACCENTED if marked * 2 >= len(syls) else PARTIAL


@dataclass(frozen=True)
class Clause:
    """A query for one typed syllable, and how many passages it may match."""

    query: wq.Query
    doc_frequency: int


@dataclass
class QueryPlanner:
    """Builds ``Plan``s against one searcher's vocabulary."""

    vocabulary: Vocabulary
    doc_frequency: Callable[[str, str], int]
    doc_count: int
    abbreviations: Abbreviations | None = None

    def _idf(self, df: int) -> float:
        return math.log(self.doc_count / (df + 1)) + 1  # Whoosh's own formula

    def _variants(self, fieldname: str, folded: str, skip: str, boost: float):
        """Terms for the accented forms of ``folded``, each weighted as if the index held
        the folded form: a rare accent variant must not outscore the common reading."""
        found = self.vocabulary.variants(fieldname, folded)
        total = sum(df for _, df in found)
        if not total:
            return [], 0
        shared = self._idf(total)
        terms = [
            wq.Term(
                fieldname,
                term,
                boost=boost * shared / self._idf(df) * (df / total) ** VARIANT_PRIOR,
            )
            for term, df in found[:MAX_VARIANTS]
            if term != skip and df >= MIN_VARIANT_SHARE * total
        ]
        return terms, total

    def syllable(
        self,
        raw: str,
        fieldname: str = "text",
        mode: str = ACCENTED,
        fallback: bool = True,
        restored: str | None = None,
    ) -> Clause | None:
        """A clause for one typed syllable (None when no form of it is in the index).

        ``mode`` is how the whole query was typed (see ``typing_mode``). ``fallback``: an
        accented syllable absent from the index may match its variants (a wrong accent is
        a common typo); phrases and title terms stay exact. ``restored``: the reading of
        a syllable typed without marks that the words around it imply (``_restore``).
        """
        exact = canonical(raw)
        folded = fold(exact)
        if mode == PLAIN and restored:
            restored_df = self.doc_frequency(fieldname, restored)
            if restored_df:
                return self._reading_first(fieldname, folded, restored, restored_df)
        if mode == PLAIN:
            terms, total = self._variants(fieldname, folded, "", 1.0)
            return Clause(_any(terms), total) if terms else None
        exact_df = self.doc_frequency(fieldname, exact)
        if exact_df and (mode == ACCENTED or has_diacritics(raw)):
            return Clause(wq.Term(fieldname, exact), exact_df)
        if exact_df:  # a query typed partly without accents: "uy" may well mean "ủy"
            return self._reading_first(fieldname, folded, exact, exact_df)
        if not fallback:
            return None
        terms, total = self._variants(fieldname, folded, exact, VARIANT_OF_PLAIN)
        return Clause(_any(terms), total) if terms else None

    def _reading_first(self, fieldname: str, folded: str, reading: str, df: int) -> Clause:
        """One reading of an unmarked syllable in full, its other readings below it."""
        others, total = self._variants(fieldname, folded, reading, VARIANT_OF_PLAIN)
        return Clause(_any([wq.Term(fieldname, reading), *others]), max(total, df))

    def sequence(self, text: str, fieldname: str = "text", boost: float = 1.0):
        """Adjacent syllables (a phrase); None if a syllable is not in the index."""
        mode = typing_mode(text)
        clauses = [self.syllable(s.text, fieldname, mode, False) for s in syllables(text)]
        if not clauses or any(c is None for c in clauses):
            return None
        queries = [c.query for c in clauses]
        if len(queries) == 1:
            return _any(queries, boost)
        if fieldname == "title":  # titles keep no positions: all of the words, anywhere
            return wq.And(queries, boost=boost)
        return wq.Sequence(queries, boost=boost)

    def _abbreviation(self, raw: list[str], folded: list[str], i: int):
        """(length, expansion queries) of the longest abbreviation form at syllable i."""
        if self.abbreviations is None:
            return 0, []
        for form, group in self.abbreviations.forms_starting(folded[i]):
            n = len(form)
            if tuple(folded[i : i + n]) != form:
                continue
            typed = raw[i]
            # "VAT" is an abbreviation; "vat", and "VẬT" in a query in capitals, are not.
            word_like = n == 1 and _SYLLABLE_LIKE.match(form[0])
            if word_like and (not typed.isupper() or has_diacritics(typed)):
                continue
            others = [
                self.sequence(self.abbreviations.spelling(o), boost=ABBREVIATION)
                for o in group
                if o != form
            ]
            return n, [o for o in others if o is not None]
        return 0, []

    def _restore(self, folded: list[str]) -> dict[int, str]:
        """The marks of a query typed without them, where its words make them plain.

        "co the" alone could be cỏ thẻ or cô thế, but the index holds the word "có_thể"
        far more often than any other reading of "co_the": each syllable of such a word
        is searched in that reading first. Returns position -> syllable.
        """
        restored: dict[int, str] = {}
        for n in (3, 2):
            for i in range(len(folded) - n + 1):
                if any(p in restored for p in range(i, i + n)):
                    continue
                found = self.vocabulary.variants("word", "_".join(folded[i : i + n]))
                total = sum(df for _, df in found)
                if not found or found[0][1] <= RESTORE_SHARE * total:
                    continue
                parts = found[0][0].split("_")
                if len(parts) != n:
                    continue
                restored.update(zip(range(i, i + n), parts, strict=True))
        return restored

    def _words(self, raw: list[str], folded: list[str], mode: str) -> list[wq.Query]:
        """Word-field terms for n-grams of the query that pyvi found as words."""
        out = []
        for n in (2, 3, 4):
            for i in range(len(raw) - n + 1):
                if mode != PLAIN:
                    word = "_".join(canonical(s) for s in raw[i : i + n])
                    if self.doc_frequency("word", word):
                        out.append(wq.Term("word", word, boost=WORD))
                elif WORD_PLAIN:
                    key = "_".join(folded[i : i + n])
                    terms, _ = self._variants("word", key, "", WORD_PLAIN)
                    out.extend(terms)
        return out

    def _clauses(
        self, raw: list[str], folded: list[str], mode: str, restored: dict[int, str]
    ) -> list[Clause]:
        clauses: list[Clause] = []
        i = 0
        while i < len(raw):
            n, expansions = self._abbreviation(raw, folded, i)
            if n:
                own = [
                    self.syllable(s, mode=mode, restored=restored.get(i + k))
                    for k, s in enumerate(raw[i : i + n])
                ]
                own_query = None
                if all(c is not None for c in own):
                    own_query = own[0].query if n == 1 else wq.And([c.query for c in own])
                query = _any([q for q in (own_query, *expansions) if q is not None])
                if query is not None:
                    clauses.append(
                        Clause(query, min((c.doc_frequency for c in own if c), default=0))
                    )
                i += n
            else:
                clause = self.syllable(raw[i], mode=mode, restored=restored.get(i))
                if clause is not None:
                    clauses.append(clause)
                i += 1
        return clauses

    def _split_common(self, clauses: list[Clause]) -> tuple[list[Clause], list[Clause]]:
        """(rare, common) clauses of a long query. Common syllables, found in a large share
        of passages, then only add to the score of passages matched by rarer ones: they
        change the ranking little but would make every passage a candidate."""
        if len(clauses) < PRUNE_MIN_CLAUSES:
            return clauses, []
        limit = COMMON_SHARE * self.doc_count
        rare = [c for c in clauses if c.doc_frequency <= limit]
        if len(rare) < 2:
            ordered = sorted(clauses, key=lambda c: c.doc_frequency)
            rare = ordered[:2]
        common = [c for c in clauses if c not in rare]
        return rare, common

    def plan(self, parsed: ParsedQuery) -> Plan:
        plan = Plan()
        raw = [s.text for s in syllables(parsed.words)][:MAX_SYLLABLES]
        if len(raw) > 1:
            content = [s for s in raw if fold(s) not in QUESTION_WORDS]
            raw = content or raw
        folded = [fold(s) for s in raw]
        mode = typing_mode(parsed.words)

        required: list[wq.Query] = []
        for phrase in parsed.phrases:
            required.append(self.sequence(phrase) or wq.NullQuery)
        for title in parsed.title:
            required.append(self.sequence(title, "title") or wq.NullQuery)

        restored = self._restore(folded) if mode == PLAIN else {}
        clauses = self._clauses(raw, folded, mode, restored)
        words = self._words(raw, folded, mode)
        rare, common = self._split_common(clauses)
        loose_parts = [c.query for c in rare] + words
        loose = wq.Or(loose_parts) if loose_parts else None
        if loose is not None and common:
            loose = wq.AndMaybe(loose, wq.Or([c.query for c in common]))
        strict = None
        if len(clauses) > 1 and len(raw) <= STRICT_MAX_SYLLABLES:
            every = wq.And([c.query for c in clauses])
            strict = wq.AndMaybe(every, wq.Or(words)) if words else every

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
        for key in folded:
            found = self.vocabulary.variants("text", key)
            df = sum(n for _, n in found)
            plan.weights[key] = self._idf(df) if df else 0.0
        return plan
