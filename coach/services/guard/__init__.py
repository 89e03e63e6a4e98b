"""The semantic-cache hit guard: a near vector is reused only for the same question in other clothes.

Embedding distance cannot tell "does Yasuo counter Yone" from "does Yone counter Yasuo", patch 14.1
from 14.10, Godrick from Godfrey, "아리 룬" from "아리 상대 룬", or a question from its negation
(issues 6 and 23). These pure functions compare what distance misses: the game's entities (from its
catalogue: knowledge.entities.EntityIndex) and the role each plays around relation words (vs, into,
against, counters, 상대로, 카운터, 으로/로), numbers as written, negation, and topic words (a role, a
rank, a queue, a modifier such as team or duo, counter vs build); then two parts swapped around the
same words (roles.sides_swapped) and a word of substance swapped for another (contrast). A cached
answer is served only when every check agrees. A refused hit costs one LLM call, a wrong hit costs the
player a wrong answer, so each check errs towards refusing.

question_canonical() is the form negation and topic words are read from: names replaced by their
entity ids, Korean politeness endings, filler and punctuation dropped, so "혹시 말레니야 물새 난무
어떻게 피해요?ㅠ" and "Malenia 물새 난무 어떻게 피해" read the same. (Embedding it instead of the raw
question, as the cache's key, was measured in bench/semantic_cache.py and did not pay: see semantic.py.)
"""

from coach.services.guard.canonical import question_canonical
from coach.services.guard.check import GuardVerdict, guard_check
from coach.services.guard.entities import EntityFinder, TermIndex, term_index

__all__ = ["EntityFinder", "GuardVerdict", "TermIndex", "guard_check", "question_canonical", "term_index"]
