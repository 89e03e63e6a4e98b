"""The names a question uses: what the guard needs of a game's entity index, a plain list of names as one,
and question_normalize, the form names are found in and every check reads."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

_NO_SPACE = re.compile(r"\s+")


class EntityMatch(Protocol):
    @property
    def entity_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


class EntityFinder(Protocol):
    """What the guard needs of a game's entity index (knowledge.entities.EntityIndex has it); hashable,
    since the guard's caches are keyed on it."""

    def find(self, text: str) -> Sequence[EntityMatch]: ...

    def __hash__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TermMatch:
    entity_id: str
    kind: str
    start: int
    end: int


class TermIndex:
    """A plain list of names as an entity index, each name its own entity: for a game with no catalogue
    (the glossary's terms) and for callers that only have names."""

    def __init__(self, terms: list[str] | tuple[str, ...]):
        self._pattern = _entity_pattern(tuple(terms))

    def find(self, text: str) -> list[TermMatch]:
        if self._pattern is None:
            return []
        return [TermMatch(_NO_SPACE.sub("", m.group()), "term", m.start(), m.end())
                for m in self._pattern.finditer(text)]  # fmt: skip


@lru_cache(maxsize=256)
def _entity_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """One alternation, longest term first, so "카직스" wins over "직스" and "Godfrey" never reads "God".

    Latin-script edges need a word boundary ("Vi" is not in "vision"); Hangul edges do not, since
    particles attach to names ("말레니아는", "야스오가"). Spaces inside a term are optional
    ("리 신" also reads "리신").
    """
    parts = []
    for term in sorted({question_normalize(t) for t in terms if t and t.strip()}, key=len, reverse=True):
        escaped = r"\s*".join(re.escape(part) for part in term.split(" "))
        if re.match(r"[a-z0-9]", term):
            escaped = r"(?<![a-z0-9])" + escaped
        if re.search(r"[a-z0-9]$", term):
            escaped += r"(?![a-z0-9])"
        parts.append(escaped)
    if not parts:
        return None
    return re.compile("|".join(parts))


@lru_cache(maxsize=64)
def term_index(terms: tuple[str, ...]) -> TermIndex:
    """The TermIndex of these names, built once."""
    return TermIndex(terms)


def question_normalize(text: str) -> str:
    """NFKC, casefold and single spaces: the form every check reads."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=4096)
def _names(text: str, index: EntityFinder | None) -> tuple[EntityMatch, ...]:
    """The names in the (normalised) text, in order; canonicalisation and roles both read them."""
    return tuple(sorted(index.find(text), key=lambda m: m.start)) if index is not None else ()


def entities_in(text: str, index: EntityFinder | list[str] | tuple[str, ...] | None) -> list[str]:
    """The entity ids the question names, in the order it names them."""
    finder = term_index(tuple(index)) if isinstance(index, (list, tuple)) else index
    if finder is None:
        return []
    return [match.entity_id for match in sorted(finder.find(question_normalize(text)), key=lambda m: m.start)]
