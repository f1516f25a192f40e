"""From a parsed query to the first stage's Whoosh queries.

Each syllable becomes a clause over the index's existing forms (``ranking.vocabulary``):
a syllable typed with diacritics matches itself; one typed without matches every accented
form it could stand for. Each clause looks in the passage and, at a lower weight, in its
article's title. Multi-syllable words of the query that pyvi found in the corpus add a
word bonus. A passage needs any one of the clauses: passages holding more of them score
higher, and re-ranking (``ranking.rerank``) orders the best of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from whoosh import query as wq

from indexer.analysis.abbreviations import Abbreviations, Form
from indexer.analysis.segment import syllables
from indexer.analysis.text import canonical, fold, has_diacritics
from indexer.ranking.syntax import ParsedQuery
from indexer.ranking.vocabulary import Vocabulary
from indexer.ranking.weighting import ProbabilisticBM25F, whoosh_idf

# Relative weights, chosen on the dev sets (benchmarks/README.md).
WORD = 0.2  # a multi-syllable word of the query found as a pyvi word
TITLE = 0.5  # a syllable of the query found in the passage's article title
VARIANT_OF_PLAIN = 0.3  # readings below the one taken first: "uy" typed, "ủy" found too
ABBREVIATION = 0.9  # UBND found as "ủy ban nhân dân"
MAX_SYLLABLES = 48  # longer queries are cut: the tail adds time, not precision
RESTORE_SHARE = 0.5  # a word's reading restores a plain query's marks above this share
MAX_VARIANTS = 6  # accent variants searched for a syllable typed without accents
MIN_VARIANT_SHARE = 0.01  # rarer forms (typos, mostly) of a syllable typed without accents
# In a query of at least SPLIT_COMMON_MIN_CLAUSES syllables, those in more than this share
# of the passages only add to the passages that its rarer syllables find.
COMMON_SHARE = 0.1
SPLIT_COMMON_MIN_CLAUSES = 4

# Question words carry no topic; dropped from a query that has other words. Compared in
# their accented forms: "máy bay", "giá dầu", "bắt đầu" keep every word.
QUESTION_WORDS = frozenset(["gì", "nào", "đâu", "ai", "mấy"])
# A folded syllable that could be Vietnamese: such an abbreviation key ("ca", "bo")
# expands only when typed in capitals.
_SYLLABLE_LIKE = re.compile(
    r"^(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?[aeiouy]{1,3}(?:ch|ng|nh|[cmnpt])?$"
)


@dataclass(frozen=True)
class Plan:
    """The first stage's queries for one user query."""

    query: wq.Query  # phrases and title terms required, when there are any
    relaxed: wq.Query | None  # the same with the phrases as plain words; None without phrases
    syllables: tuple[str, ...]  # the syllables searched, as typed (question words dropped)
    # (another form, the query's form) of each abbreviation the query holds, as folded
    # syllables: re-ranking reads a passage's "SSCĐ" as the query's "sẵn sàng chiến đấu".
    equivalents: tuple[tuple[Form, Form], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.query is wq.NullQuery and self.relaxed is None


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
    """Builds ``Plan``s against a vocabulary and its document counts: the search's over
    every shard (``search.service``), or one searcher's (``LiveIndex.planner``)."""

    vocabulary: Vocabulary
    doc_frequency: Callable[[str, str], int]
    doc_count: int
    abbreviations: Abbreviations | None = None
    # The first stage's IDF (``ranking.weighting``), by which variants are weighted.
    idf_of: Callable[[int, int], float] = ProbabilisticBM25F.idf_of
    _idfs: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def _idf(self, df: int) -> float:
        return self.idf_of(df, self.doc_count)

    def _variants(self, fieldname: str, folded: str, skip: str, boost: float):
        """Terms for the accented forms of ``folded``, each weighted as if the index held
        the folded form (the IDF of all of them together): a rare variant gains nothing
        from being rare, and none is preferred for being common (``lang`` may well mean
        *lạng*; re-ranking then compares the passages without accents)."""
        found = self.vocabulary.variants(fieldname, folded)
        total = sum(df for _, df in found)
        if not total:
            return [], 0
        shared = self._idf(total)
        terms = [
            wq.Term(fieldname, term, boost=boost * shared / self._idf(df))
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

    def sequence(self, text: str, fieldname: str = "text", boost: float = 1.0, around: str = PLAIN):
        """Adjacent syllables (a phrase); None if a syllable is not in the index.

        ``around``: how the query holding the phrase was typed. A phrase without marks in
        a query typed with them (``".com"`` in a headline) means what it says."""
        mode = typing_mode(text)
        if mode == PLAIN and around == ACCENTED:
            mode = ACCENTED
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
        """(length, expansion queries, (other form, this form) pairs) of the longest
        abbreviation form at syllable i."""
        if self.abbreviations is None:
            return 0, [], []
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
            # A one-syllable form that could be a word ("vat") is not read as the query's
            # form in a passage: its folded syllables no longer say which it was.
            equivalents = [
                (o, form)
                for o in group
                if o != form and not (len(o) == 1 and _SYLLABLE_LIKE.match(o[0]))
            ]
            return n, [o for o in others if o is not None], equivalents
        return 0, [], []

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

    def _words(self, raw: list[str], mode: str) -> list[wq.Query]:
        """Word-field terms for n-grams of an accented query that pyvi found as words (a
        query typed without accents gains nothing from them: its readings are guesses)."""
        if mode == PLAIN:
            return []
        out = []
        for n in (2, 3, 4):
            for i in range(len(raw) - n + 1):
                word = "_".join(canonical(s) for s in raw[i : i + n])
                if self.doc_frequency("word", word):
                    out.append(wq.Term("word", word, boost=WORD))
        return out

    def _clauses(
        self, raw: list[str], folded: list[str], mode: str, restored: dict[int, str]
    ) -> tuple[list[Clause], list[tuple[Form, Form]]]:
        """The clauses of the query's syllables, and the equivalent forms of its
        abbreviations (``Plan.equivalents``)."""
        clauses: list[Clause] = []
        equivalents: list[tuple[Form, Form]] = []
        i = 0
        while i < len(raw):
            n, expansions, pairs = self._abbreviation(raw, folded, i)
            if n:
                equivalents += pairs
                own = [
                    self.syllable(s, mode=mode, restored=restored.get(i + k))
                    for k, s in enumerate(raw[i : i + n])
                ]
                own_query = None
                if all(c is not None for c in own):
                    # Each word of the form counts on its own, as every other word of the
                    # query does: a passage on the "Sở Y tế" still holds "y tế" of "Bộ Y tế".
                    own_query = own[0].query if n == 1 else wq.Or([c.query for c in own])
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
        return clauses, equivalents

    def _split_common(self, clauses: list[Clause]) -> tuple[list[Clause], list[Clause]]:
        """(rare, common) clauses of a long query. Common syllables, found in a large share
        of passages, then only add to the score of passages matched by rarer ones: they
        change the ranking little but would make every passage a candidate."""
        if len(clauses) < SPLIT_COMMON_MIN_CLAUSES:
            return clauses, []
        limit = COMMON_SHARE * self.doc_count
        rare = [c for c in clauses if c.doc_frequency <= limit]
        if len(rare) < 2:
            ordered = sorted(clauses, key=lambda c: c.doc_frequency)
            rare = ordered[:2]
        common = [c for c in clauses if c not in rare]
        return rare, common

    def content_syllables(self, text: str) -> list[str]:
        """The syllables of ``text`` as typed, cut to ``MAX_SYLLABLES``, without question
        words (unless nothing else is left).

        A syllable typed without marks in a query typed without any is a question word
        when its most common reading in the index is one ("gi" -> gì, but "dau" -> đầu).
        """
        raw = [s.text for s in syllables(text)][:MAX_SYLLABLES]
        if len(raw) < 2:
            return raw
        plain = typing_mode(text) == PLAIN
        content = [s for s in raw if self._reading(s, plain) not in QUESTION_WORDS]
        return content or raw

    def _reading(self, raw: str, plain: bool) -> str:
        exact = canonical(raw)
        if not plain:
            return exact
        found = self.vocabulary.variants("text", fold(exact))
        total = sum(df for _, df in found)
        return found[0][0] if found and found[0][1] > RESTORE_SHARE * total else exact

    def plan(self, parsed: ParsedQuery) -> Plan:
        """The first stage's queries: any of the syllables, in the text or the title."""
        mode = typing_mode(parsed.all_words)
        required = [self.sequence(t, "title", around=mode) or wq.NullQuery for t in parsed.title]
        phrases = [self.sequence(p, around=mode) or wq.NullQuery for p in parsed.phrases]
        raw = self.content_syllables(parsed.all_words)
        words, equivalents = self._any_of(raw, mode)
        query = _required(required + phrases, words)
        relaxed = _required(required, words) if phrases else None
        if parsed.excluded and (query is not None or relaxed is not None):
            excluded = [self.sequence(e, around=mode) for e in parsed.excluded]
            excluded = [q for q in excluded if q is not None]
            if excluded:
                query = wq.AndNot(query, wq.Or(excluded)) if query is not None else None
                relaxed = wq.AndNot(relaxed, wq.Or(excluded)) if relaxed is not None else None
        return Plan(query or wq.NullQuery, relaxed, tuple(raw), tuple(equivalents))

    def _any_of(self, raw: list[str], mode: str) -> tuple[wq.Query | None, list[tuple[Form, Form]]]:
        """Any of the syllables (common ones only add to passages the others found), each
        also in the title, and the query's pyvi words as a bonus; with the equivalent
        forms of its abbreviations."""
        folded = [fold(s) for s in raw]
        restored = self._restore(folded) if mode == PLAIN else {}
        clauses, equivalents = self._clauses(raw, folded, mode, restored)
        rare, common = self._split_common(clauses)
        parts = [_with_title(c.query) for c in rare] + self._words(raw, mode)
        if not parts:
            return None, equivalents
        query = wq.Or(parts)
        if common:
            query = wq.AndMaybe(query, wq.Or([_with_title(c.query) for c in common]))
        return query, equivalents

    def idfs(self, folded: Sequence[str]) -> np.ndarray:
        """``idf`` of many folded syllables at once (those already known in one pass)."""
        known = list(map(self._idfs.get, folded))
        if None in known:
            known = [self.idf(s) if w is None else w for s, w in zip(folded, known, strict=True)]
        return np.array(known, dtype=float)

    def idf(self, folded: str) -> float:
        """The weight of a folded syllable (over all its forms) in re-ranking's evidence, 0
        when the index lacks it: Whoosh's IDF, ``log(N / (n + 1)) + 1``, on which the
        ranking model was trained (with the first stage's IDF there, the high-overlap
        questions lost 0.009 MRR@10 in cross-validation). Kept: re-ranking asks it of
        every syllable of fifty passages on every query."""
        found = self._idfs.get(folded)
        if found is None:
            df = self.vocabulary.folded_frequency("text", folded)
            found = whoosh_idf(df, self.doc_count) if df else 0.0
            if len(self._idfs) > 500_000:
                self._idfs.clear()
            self._idfs[folded] = found
        return found


def _required(required: list[wq.Query], optional: wq.Query | None) -> wq.Query | None:
    """Passages matching every one of ``required``, scored by ``optional`` too."""
    if required and optional is not None:
        return wq.AndMaybe(wq.And(required), optional)
    if required:
        return wq.And(required)
    return optional


def _with_title(q: wq.Query) -> wq.Query:
    """``q`` with each of its text terms also looked for in the title, at ``TITLE``: the
    same readings, each weighed by the title's own statistics. Phrases (abbreviations'
    long forms) stay in the text, where positions are kept."""
    if type(q) is wq.Term and q.fieldname == "text":
        return wq.Or([q, wq.Term("title", q.text, boost=q.boost * TITLE)])
    if type(q) in (wq.Or, wq.And):
        return type(q)([_with_title(s) for s in q.subqueries], boost=q.boost)
    return q
