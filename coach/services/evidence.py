"""The evidence a prompt carries: the sentences of the retrieved chunks that answer, fitted to the plan.

A chunk is ~400 tokens and the free plan's prompt 1,000: whole chunks left room for one or two
sources, often not the one that answered. Here each ranked chunk is cut into sentences
(knowledge.sentences), each sentence scored by the question's terms it carries (the other
language's spellings of the entities the question names included), and sentences are taken round
by round: every source's best sentence first, in rank order, then every source's next best, while
the prompt stays within plan.prompt_tokens (counted with tiktoken as the API bills it). Each
source keeps its sentences in reading order. The prompt then holds the best evidence of at least
three sources whenever three were found; `sources` in the response lists exactly these.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ai.llm import is_reasoning_model
from ai.tokens import count_tokens, count_tokens_by_line
from billing.plans import Plan
from knowledge.retrieval import Ranked, terms
from knowledge.sentences import Sentence, sentences

from .llm.fit import prompt_token_count
from .prompt import prompt_build

# Tokens of a <source id=.. title=".." at=".."> ... </source> frame besides its title and text.
SOURCE_FRAME_TOKENS = 14
_SKIPPED_KINDS = {"heading", "table_header"}


@dataclass(frozen=True)
class Evidence:
    """One source as the prompt quotes it (the fields prompt_build and the offline composer read)."""

    document_id: int
    chunk_id: int
    title: str
    url: str
    text: str
    start_time: float | None
    language: str
    match_terms: tuple[str, ...]
    score: float


def evidence_fit(
    *, question: str, ranked: Sequence[Ranked], plan: Plan, game: str, game_name: str, history: Sequence[object] = ()
) -> list[Evidence]:
    """The ranked chunks' best sentences within the plan's prompt budget, best source first."""
    if not ranked:
        return []
    model = plan.model
    role = "developer" if is_reasoning_model(model) else "system"
    system, user = prompt_build(game=game, game_name=game_name, question=question, history=history)
    base = prompt_token_count([{"role": role, "content": system}, {"role": "user", "content": user}], model)
    budget = plan.prompt_tokens - base
    asked = frozenset(terms(question))
    candidates = [_scored(item, asked, model) for item in ranked]
    chosen: list[set[int]] = [set() for _ in candidates]
    spent = 0
    for round_number in range(max((len(c) for c in candidates), default=0)):
        for index, scored in enumerate(candidates):
            if round_number >= len(scored):
                continue
            _, position, tokens = scored[round_number]
            cost = tokens + (
                SOURCE_FRAME_TOKENS + count_tokens_by_line(ranked[index].hit.title, model) if not chosen[index] else 0
            )
            if spent + cost > budget:
                continue
            chosen[index].add(position)
            spent += cost
    # One source per guide: two chunks of the same guide are quoted together, in reading order, at the
    # rank of its best chunk (a player sees each guide once in `sources`).
    by_document: dict[int, list[tuple[Ranked, list[str]]]] = {}
    for item, positions in zip(ranked, chosen, strict=True):
        if positions:
            parts = [s.text for s, _, _ in _sentences_counted(item.hit.text, model) if s.position in positions]
            by_document.setdefault(item.hit.document_id, []).append((item, parts))
    evidence = []
    for pieces in by_document.values():
        best = pieces[0][0]
        in_order = sorted(pieces, key=lambda piece: piece[0].hit.position)
        evidence.append(
            Evidence(
                document_id=best.hit.document_id, chunk_id=best.hit.chunk_id, title=best.hit.title,
                url=best.hit.url, text="\n".join(part for _, parts in in_order for part in parts),
                start_time=in_order[0][0].hit.start_time, language=best.hit.language,
                match_terms=tuple(dict.fromkeys(term for item, _ in pieces for term in item.match_terms)),
                score=best.score,
            )
        )  # fmt: skip
    return evidence


def _scored(item: Ranked, asked: frozenset[str], model: str) -> list[tuple[float, int, int]]:
    """The chunk's quotable sentences as (score, position, tokens), best first: a sentence's share of the
    question's terms (`asked`, with the spellings of its names the chunk uses), a little more for an early
    one (a guide's point comes first), none for headings."""
    wanted = asked | {term for name in item.match_terms for term in terms(name)}
    scored = []
    for sentence, tokens, found in _sentences_counted(item.hit.text, model):
        if sentence.kind in _SKIPPED_KINDS or len(sentence.text) < 4:
            continue
        overlap = len(wanted & found) / math.sqrt(len(found) or 1)
        if sentence.kind == "faq_question":
            overlap *= 0.5  # it names the topic; the answer that follows says it
        score = overlap + 0.2 / (1 + sentence.position)
        scored.append((score, sentence.position, tokens))
    scored.sort(key=lambda entry: (-entry[0], entry[1]))
    return scored


@functools.lru_cache(maxsize=4096)
def _sentences_counted(text: str, model: str) -> tuple[tuple[Sentence, int, frozenset[str]], ...]:
    """A chunk's sentences with their tokens (+1 for the line break that joins them) and terms. A chunk's
    text does not change, and the popular ones come back ask after ask: cutting, counting and reading
    them took ~6 of the miss path's CPU milliseconds before they were kept (4,096 chunks, a few MB)."""
    return tuple(
        (sentence, count_tokens(sentence.text, model) + 1, frozenset(terms(sentence.text)))
        for sentence in sentences(text)
    )
