"""guard_check: every check the guard makes, on facts read once per question and cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from coach.services.guard.canonical import question_canonical
from coach.services.guard.contrast import _words, words_swapped
from coach.services.guard.entities import EntityFinder, _names, term_index
from coach.services.guard.roles import roles_in, sides_swapped
from coach.services.guard.words import negations_in, numbers_in, topics_in
from knowledge.sentences import question_language


@dataclass(frozen=True)
class GuardVerdict:
    """Whether a cached question may answer the asked one; `reason` names the first check that failed."""

    ok: bool
    reason: str | None = None


_NAMED_CHECKS = ("language", "entities", "roles", "numbers")
_WORD_CHECKS = ("negation", "topic")
_SIDES = frozenset({"me", "opp", "counterer", "countered", "counter-either-1", "counter-either-2"})
_NAME_TOKEN = re.compile(r"⟦[^⟧]*⟧")
# A catalogue name with a number in it ("2페이즈" as phase-2) is compared by the numbers check, which also
# reads "두 번째 페이즈" and "second phase": as an entity it would refuse those rewordings.
_NUMBERED = re.compile(r"\d")


@lru_cache(maxsize=4096)
def _named_facts(text: str, index: EntityFinder | None) -> tuple[object, ...]:
    """What guard_check compares first, in _NAMED_CHECKS' order. Cached: a lookup checks one question
    against up to k cached ones, and popular ones come up often."""
    roles = tuple(role for role in roles_in(text, index) if not _NUMBERED.search(role[1]))
    return (question_language(text), tuple(sorted(entity for _, entity in roles if entity != "?")), roles,
            numbers_in(text))  # fmt: skip


@lru_cache(maxsize=4096)
def _word_facts(text: str, index: EntityFinder | None) -> tuple[object, ...]:
    """Negation and topic words (_WORD_CHECKS), read from the canonical form with the names taken out ("아니"
    as filler is not a negation, "Vi" is not a topic word). Read only for a question that passed the named
    checks: most near questions a miss finds differ by a name or a number, and the topic words cost most."""
    rest = _NAME_TOKEN.sub(" ", question_canonical(text, index))
    return negations_in(rest), topics_in(rest)


def _named_sides(text: str, index: EntityFinder) -> bool:
    return any(role in _SIDES and not entity.startswith("?") for role, entity in roles_in(text, index))


def guard_check(asked: str, cached: str, *, index: EntityFinder | None = None,
                terms: list[str] | tuple[str, ...] | None = None) -> GuardVerdict:  # fmt: skip
    """May the answer to `cached` be served for `asked`? Same language, entities, roles, numbers as
    written, negation and topic words; not the same words with two sides swapped, nor a word of substance
    swapped for another. `terms`: a plain list of names, when there is no index."""
    if index is None and terms is not None:
        index = term_index(tuple(terms))
    for checks, facts in ((_NAMED_CHECKS, _named_facts), (_WORD_CHECKS, _word_facts)):
        for check, mine, theirs in zip(checks, facts(asked, index), facts(cached, index), strict=True):
            if mine != theirs:
                return GuardVerdict(False, check)
    # Where the relation words gave the swapped names their sides, those decided above ("야스오로 요네 상대" /
    # "요네 상대로 야스오"); the order of other words still decides ("우리가 에코고 상대 풀바이": 우리/상대 swapped).
    if (parts := sides_swapped(asked, cached)) and not (
        index is not None and any(index.find(part) for part in parts) and _named_sides(asked, index)
    ):
        return GuardVerdict(False, "sides")
    if words_swapped(asked, cached, index):
        return GuardVerdict(False, "contrast")
    return GuardVerdict(True)


def guard_caches_clear() -> None:
    """Forget what every question read so far (its names, canonical form, roles, facts and words): a
    benchmark's cold lookup."""
    for cached in (_names, question_canonical, roles_in, _named_facts, _word_facts, _words):
        cached.cache_clear()
