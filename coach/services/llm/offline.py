"""The offline provider, without OPENAI_API_KEY: the answer composed from the retrieved sources
(coach.services.offline), cut to the plan as a model would be."""

from __future__ import annotations

import re

from ai.tokens import count_tokens, encoding_for
from billing.plans import Plan
from coach.services.llm.fit import _Ask, _fit
from coach.services.llm.result import Deltas, LLMResult
from coach.services.offline import offline_answer

OFFLINE_MODEL = "offline"


def _clip_tokens(text: str, limit: int, model: str) -> tuple[str, str]:
    """The text cut to the response limit, as a model stops at max_tokens; with its finish reason."""
    encoding = encoding_for(model)
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text, "stop"
    clipped = encoding.decode(tokens[:limit]).rstrip("\ufffd")
    while clipped and count_tokens(clipped, model) > limit:
        clipped = clipped[:-1]
    return clipped, "length"


def _offline_result(ask: _Ask, plan: Plan, model: str) -> LLMResult:
    prompt = _fit(ask, plan, model)  # the same cut as a real call, so the same sources are cited
    sources = ask.sources[: prompt.sources_used] if ask.messages is None else ask.sources
    text = offline_answer(question=ask.question, sources=sources, game_name=ask.game_name or ask.game or "game")
    text, finish = _clip_tokens(text, plan.response_tokens, model)
    return LLMResult(
        text=text,
        model=OFFLINE_MODEL,
        prompt_tokens=prompt.tokens,
        completion_tokens=count_tokens(text, model),
        finish_reason=finish,
        sources_used=prompt.sources_used if ask.messages is None else len(sources),
        turns_used=prompt.turns_used,
    )


async def _offline_stream(result: LLMResult) -> Deltas:
    for piece in re.findall(r"\S+\s*|\s+", result.text):
        yield piece
    yield result
