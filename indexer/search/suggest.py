"""'Did you mean': a spelling correction built from the index's own vocabulary.

A syllable that the index does not contain (or barely does, while a near neighbour is
common) is replaced by the closest syllable that it does contain: same letters with other
marks, or one letter off, the most frequent first. ``Lạng Sưn`` -> ``Lạng Sơn``.
"""

from __future__ import annotations

import string
from collections.abc import Callable

from indexer.analysis.segment import syllables
from indexer.analysis.text import canonical, fold, has_diacritics
from indexer.ranking.vocabulary import Vocabulary

RARE = 2  # a syllable in at most this many passages may be a typo, when a neighbour
MUCH_MORE_COMMON = 50  # forms a known word with the syllables around it, or is this many
# times more frequent
_LETTERS = string.ascii_lowercase


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}


def _distance(a: str, b: str) -> int:
    """Levenshtein distance between two (short) syllables, letter by letter."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _restore_case(template: str, word: str) -> str:
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def correct_syllable(
    raw: str,
    vocabulary: Vocabulary,
    doc_frequency: Callable[[str, str], int],
    before: str = "",
    after: str = "",
) -> str | None:
    """The syllable the user probably meant, or None when ``raw`` looks right.

    ``before`` and ``after`` are the neighbouring syllables: a candidate that forms a word
    the index knows with them ("lạng" + "sơn") wins over a merely frequent one.
    """
    if raw.isdigit():
        return None
    exact = canonical(raw)
    folded = fold(exact)
    accented = has_diacritics(raw)
    own_df = (
        doc_frequency("text", exact)
        if accented
        else sum(df for _, df in vocabulary.variants("text", folded))
    )
    if own_df > RARE:
        return None
    candidates: list[tuple[int, bool, int, str]] = []
    for key in {folded} | _edits1(folded):
        for term, df in vocabulary.variants("text", key):
            if term == exact:
                continue
            distance = _distance(exact, term) if accented else _distance(folded, fold(term))
            if distance <= 2:
                known = _forms_word(before, term, after, vocabulary)
                candidates.append((distance, not known, -df, term))
    if not candidates:
        return None
    _, unknown, minus_df, best = min(candidates)
    if own_df and unknown and -minus_df < MUCH_MORE_COMMON * own_df:
        return None
    # Keep the user's style: a query typed without accents gets its correction without.
    return _restore_case(raw, best if accented else fold(best))


def _forms_word(before: str, term: str, after: str, vocabulary: Vocabulary) -> bool:
    for pair in ((before, term), (term, after)):
        if pair[0] and pair[1]:
            key = fold(pair[0]) + "_" + fold(pair[1])
            if vocabulary.variants("word", key):
                return True
    return False


def suggestion(
    text: str, vocabulary: Vocabulary, doc_frequency: Callable[[str, str], int]
) -> str | None:
    """``text`` with each probable typo corrected, or None when nothing needs correcting."""
    out = []
    last = 0
    changed = False
    syls = syllables(text)
    for i, syl in enumerate(syls):
        before = canonical(syls[i - 1].text) if i else ""
        after = canonical(syls[i + 1].text) if i + 1 < len(syls) else ""
        fixed = correct_syllable(syl.text, vocabulary, doc_frequency, before, after)
        out.append(text[last : syl.start])
        out.append(fixed or syl.text)
        changed = changed or fixed is not None
        last = syl.end
    out.append(text[last:])
    return "".join(out) if changed else None
