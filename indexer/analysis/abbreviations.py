"""Abbreviations and their expansions (UBND <-> ủy ban nhân dân), from a plain-text file.

Each line of the file is one group of equivalent forms separated by ``|``::

    UBND | ủy ban nhân dân
    TP.HCM | TP HCM | TPHCM | thành phố Hồ Chí Minh

A query containing any form of a group also searches the others. Forms are compared as
sequences of folded syllables, so ``tp.hcm``, ``TP HCM`` and ``Thành phố Hồ Chí Minh``
typed without accents all match; the others are searched as written, accents included
(``hồ chí minh``, not every reading of ``ho chi minh``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from indexer.analysis.segment import syllables
from indexer.analysis.text import fold

Form = tuple[str, ...]  # folded syllables


@dataclass(frozen=True)
class Abbreviations:
    """Groups of equivalent forms, looked up by a form's first syllable."""

    groups: tuple[tuple[Form, ...], ...]
    written: tuple[tuple[Form, str], ...] = ()  # a form as the file spells it

    def spelling(self, form: Form) -> str:
        """``form`` as written in the file (its folded syllables if not found)."""
        return self._spellings().get(form, " ".join(form))

    @cache  # noqa: B019 - instances are few and immutable
    def _spellings(self) -> dict[Form, str]:
        return dict(self.written)

    def forms_starting(self, first: str) -> list[tuple[Form, tuple[Form, ...]]]:
        """(form, its group) for every form starting with ``first``, longest first."""
        return self._index().get(first, [])

    @cache  # noqa: B019 - instances are few and immutable
    def _index(self) -> dict[str, list[tuple[Form, tuple[Form, ...]]]]:
        index: dict[str, list[tuple[Form, tuple[Form, ...]]]] = {}
        for group in self.groups:
            for form in group:
                index.setdefault(form[0], []).append((form, group))
        for entries in index.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        return index


def parse(text: str) -> Abbreviations:
    """Groups from the file format above; blank lines and ``#`` comments are skipped."""
    groups, written = [], []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        forms = []
        for raw in line.split("|"):
            spelled = [s.text for s in syllables(raw)]
            form = tuple(fold(s) for s in spelled)
            if form and form not in forms:
                forms.append(form)
                written.append((form, " ".join(spelled)))
        if len(forms) > 1:
            groups.append(tuple(forms))
    return Abbreviations(tuple(groups), tuple(written))


def load(extra: str | os.PathLike | None = None) -> Abbreviations:
    """The shipped dictionary, with the groups of ``extra`` (a user's file) taking precedence.

    A user's group replaces every shipped group that shares one of its forms.
    """
    shipped = parse(resources.files("indexer").joinpath("data/abbreviations.txt").read_text())
    if not extra:
        return shipped
    mine = parse(Path(extra).read_text(encoding="utf-8"))
    taken = {form for group in mine.groups for form in group}
    kept = tuple(g for g in shipped.groups if not taken.intersection(g))
    # The user's spelling of a form wins: dict() keeps the last of equal keys.
    return Abbreviations(mine.groups + kept, shipped.written + mine.written)
